"""A bot with the VM skill on libvirt's real ``test:///default`` driver (in-process, no daemon),
the embedded language model, and a clock the tests move."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.testing import FakeClock, TestBot
from tests.conftest import need_libvirt
from tests.workflow.conftest import smtp  # noqa: F401  (a fixture: a real SMTP sink)

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC


BotFactory = Callable[..., Any]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_bot(
    tmp_path: Path, nlu_model_dir: Path, clock: FakeClock, request: pytest.FixtureRequest
) -> Callable[..., Any]:
    """``async with make_bot(**overrides) as bot``: a started bot; the same ``tmp_path`` (and
    so the same database) each time, for restarts."""
    need_libvirt()
    prefix = f"qmt{uuid.uuid4().hex[:8]}-"
    import libvirt

    # the test driver forgets its machines when its last connection closes: this one keeps
    # them across the bot restarts a test makes, as a real hypervisor would
    keeper = libvirt.open("test:///default")
    request.addfinalizer(keeper.close)

    @asynccontextmanager
    async def build(database_url: str | None = None, **overrides: Any) -> AsyncIterator[TestBot]:
        settings: dict[str, Any] = {
            "nlu": {"backend": "embedded", "model_dir": str(nlu_model_dir)},
            "providers": {
                "libvirt": {
                    "uri": "test:///default",
                    "name_prefix": prefix,
                    "usage_sample_seconds": 0.01,
                    "max_cpus": 64,
                    "max_memory_mb": 262144,
                }
            },
            "roles.grants": {"staff": ["test:sam"]},
            "vms": {"max_days": 30, "max_count": 2},
        }
        for key, value in overrides.items():
            if key == "providers":
                settings[key] = {
                    name: {**settings[key].get(name, {}), **section}
                    for name, section in {**settings[key], **value}.items()
                }
            elif isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        bot = TestBot.create(
            tmp_path, database_url=database_url, overrides=settings, load_nlu=True, clock=clock
        )
        async with bot:
            yield bot

    return build


@pytest.fixture
async def bot(make_bot: Callable[..., Any]) -> AsyncIterator[TestBot]:
    async with make_bot() as bot:
        yield bot


def public_key(comment: str = "alice@laptop") -> str:
    """A fresh OpenSSH public key line (the private half is dropped)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    )
    return f"{raw.decode()} {comment}".strip()


async def give_key(bot: TestBot, user: str) -> str:
    """``user`` stores an SSH key through the profile skill, as a person would."""
    key = public_key(f"{user}@laptop")
    (saved,) = await bot.say(user, f"my ssh key is {key}")
    assert saved.text.startswith("Saved your SSH key"), saved.text
    return key


def texts(sent: list[Any]) -> list[str]:
    return [s.text for s in sent]


async def create_vm(bot: TestBot, user: str, text: str) -> list[Any]:
    """Ask in plain words and say yes: what the bot sent after the yes."""
    (ask,) = await bot.say(user, text)
    assert ask.text.startswith("Create "), ask.text
    return await bot.click(user, ask, "Yes")


def providers(bot: TestBot) -> Any:
    """The running skill's provider registry (its service key is the one of the module the
    skill loaded: skill modules are re-imported at load, so not the one this file imports)."""
    import sys

    key = sys.modules["skills._resources.registry"].PROVIDERS
    return bot.app.services[key]
