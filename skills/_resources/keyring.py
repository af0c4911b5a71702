"""People's SSH public keys, kept in the key-value store (``qm_kv``, namespace
``profile.ssh_keys``, one JSON list per user key): the profile skill writes them, the VM skill
hands them to providers, which put them into each new VM's cloud-init seed. Public keys are not
secrets, so they live outside the vault."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skills._providers.ssh_keys import BadKey, parse_public_key

if TYPE_CHECKING:
    from bot.app import Application

NAMESPACE = "profile.ssh_keys"
MAX_KEYS = 5

# worded so that the outbound secret redactor sees no "key is <value>" in it
HOW_TO_ADD = (
    "say `my ssh key is` followed by the one line of your ~/.ssh/id_ed25519.pub, which "
    "starts with ssh-ed25519 AAAA (no key yet? make one with `ssh-keygen -t ed25519`)"
)


async def ssh_keys(app: Application, user_key: str) -> list[str]:
    """The user's keys, each checked again (a bad stored one is skipped, not passed on)."""
    stored = await app.kv.get(NAMESPACE, user_key, [])
    keys = []
    for key in stored if isinstance(stored, list) else []:
        try:
            keys.append(parse_public_key(str(key)))
        except BadKey:
            continue
    return keys


async def set_ssh_keys(app: Application, user_key: str, keys: list[str]) -> None:
    if keys:
        await app.kv.set(NAMESPACE, user_key, keys[:MAX_KEYS])
    else:
        await app.kv.delete(NAMESPACE, user_key)
