"""Move plumbing state that older versions kept in ``qm_conversation`` into ``qm_kv``.

Mattermost's catch-up positions (so posts made during the upgrade's downtime are still caught
up), Mattermost's long-message part indexes and the shell's last numbered choices are moved;
Slack's part indexes were stored as ``slack:parts:<channel><ts>`` with nothing between channel
and ts, so they cannot be split back and are dropped (an old multi-part Slack card is then
updated through its first part only). Either way no such row stays among the conversations.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

CURSORS = "mattermost:catch-up"
MM_PARTS = "mattermost:parts:"
SHELL_CHOICES = "shell:choices:"
PLUMBING = (CURSORS, MM_PARTS, "slack:parts:", SHELL_CHOICES)
#: as the adapters now keep them (bot/textsplit.py PARTS_TTL, shell CHOICES_TTL, cursors 1 h+)
TTLS = {"mattermost.parts": timedelta(days=90), "shell.choices": timedelta(days=30),
        "mattermost.cursors": timedelta(hours=1)}


def _moved(key: str, state: dict[str, Any]) -> tuple[str, str, object] | None:
    """(namespace, key, value) in the new store for an old row, or None to drop it."""
    if key == CURSORS and state.get("bot"):
        return "mattermost.cursors", str(state["bot"]), {
            "saved_at": state.get("saved_at", 0), "cursors": state.get("cursors", {})}
    if key.startswith(MM_PARTS) and isinstance(state.get("parts"), list):
        return "mattermost.parts", key[len(MM_PARTS):], state["parts"]
    if key.startswith(SHELL_CHOICES) and isinstance(state.get("choices"), list):
        return "shell.choices", key[len(SHELL_CHOICES):], state
    return None


async def forward(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    sqlite = client.capabilities.dialect == "sqlite"

    def marks(n: int) -> str:
        return ", ".join("?" if sqlite else f"${i}" for i in range(1, n + 1))

    where = " OR ".join(["key = " + marks(1)] + [
        "key LIKE " + ("?" if sqlite else f"${i}") for i in range(2, len(PLUMBING) + 1)])
    _, rows = await client.execute_query(
        f"SELECT key, state FROM qm_conversation WHERE {where}",
        [CURSORS, *(p + "%" for p in PLUMBING[1:])])
    now = datetime.now(UTC)
    for row in rows:
        key, raw = row["key"], row["state"]
        state = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        target = _moved(key, state)
        if target is not None:
            namespace, new_key, value = target
            await client.execute_query(
                "INSERT INTO qm_kv (namespace, key, value, expires_at, updated_at) "
                f"VALUES ({marks(5)}) ON CONFLICT (namespace, key) DO NOTHING",
                [namespace, new_key[:300], json.dumps({"v": value}),
                 now + TTLS[namespace], now])
        await client.execute_query(f"DELETE FROM qm_conversation WHERE key = {marks(1)}", [key])


class Migration(migrations.Migration):
    dependencies = [('bot', '0002_kv_observer_state')]

    operations = [ops.RunPython(forward, ops.RunPython.noop)]
