"""Help as an admin sees it (every command of the shipped skills): each line is a usage people
can type, never a handler's pattern, and no usage is taken for a secret and blanked out."""

from __future__ import annotations

import re
from pathlib import Path

from bot.testing.harness import TestBot

PATTERN_SYNTAX = re.compile(r"\(\?|\\[sdwb]|\[\^|\{\d+,\d*\}")


async def test_every_help_line_is_a_usage_not_a_pattern_or_a_redaction(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        await bot.grant("root", "admin")
        await bot.grant("root", "staff")
        (shown,) = await bot.say("root", "help")
        lines = [line for line in shown.text.splitlines() if line.lstrip().startswith("• `")]
        assert len(lines) > 30
        usages = [line.split("`")[1] for line in lines]
        assert [u for u in usages if PATTERN_SYNTAX.search(u)] == []
        assert [line for line in lines if "[redacted]" in line] == []
        assert "which nodes are free next week?" in usages
        assert "my ssh key is ssh-ed25519 AAAA…" in usages
