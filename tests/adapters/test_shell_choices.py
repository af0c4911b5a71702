"""The shell keeps its offered choices in the key-value store, not in dialogue state."""

from __future__ import annotations

import io
from pathlib import Path

from bot.adapters.shell import CHOICES_NAMESPACE, ShellAdapter
from bot.app import Application
from bot.config import Settings
from bot.events import Choice, Interaction, Message
from bot.transcript import Said


async def test_numbered_choices_live_in_the_kv_store_and_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"database": {"url": f"sqlite://{tmp_path / 'shell.sqlite3'}"}, "skills": {"packages": []}}
    )
    out = io.StringIO()

    def shell(app: Application) -> ShellAdapter:
        return ShellAdapter(app, out=out)

    async with Application(settings, adapters=[shell], load_nlu=False) as app:
        adapter = app.adapters["shell"]
        ref = await adapter.send(
            "general",
            "Approve?",
            choices=[
                Choice("Approve", "req.approve", "REQ-1"),
                Choice("Deny", "req.deny", "REQ-1"),
            ],
        )
        stored = await app.kv.get(CHOICES_NAMESPACE, "general")
        assert stored["message_id"] == ref.id and len(stored["choices"]) == 2
        assert app.conversations.peek("shell:choices:general") is None
    async with Application(settings, adapters=[shell], load_nlu=False) as app:
        adapter = app.adapters["shell"]
        assert isinstance(adapter, ShellAdapter)
        picked = await adapter.to_event(Said("mia", "general", "2", 1))
        assert isinstance(picked, Interaction)
        assert (picked.action, picked.value, picked.message_id) == ("req.deny", "REQ-1", ref.id)
        other = await adapter.to_event(Said("mia", "random", "2", 2))  # nothing offered there
        assert isinstance(other, Message) and other.text == "2"
