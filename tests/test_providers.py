"""Resource providers are found by name through a real entry point (a distribution on
sys.path), built from the ``providers:`` settings, and report progress into ONE status message
that is edited as the steps arrive."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import ConfigError, UserError
from bot.providers import (
    QuotaExceeded,
    ResourceProvider,
    ResourceSpec,
    ResourceState,
    StatusMessage,
    provider_from_config,
)
from bot.testing import TestBot

PROVIDER = '''
from datetime import datetime

from bot.providers import (ProvisionedResource, QuotaExceeded, ResourceNotFound,
                           ResourceState, ResourceStatus, Usage)


class MemCloud:
    """A cloud in a dict: enough to exercise the interface and its progress reports."""

    name = "memcloud"
    credential_name = None

    def __init__(self, config):
        if "quota" not in config:
            raise ValueError("quota: required (how many resources fit)")
        self.quota = int(config["quota"])
        self.items = {}

    async def create(self, spec, progress, *, credential=None):
        if len(self.items) >= self.quota:
            raise QuotaExceeded(f"Your project may have {self.quota} VMs and has "
                                f"{len(self.items)}; release one or ask for more quota.")
        await progress("creating", spec.name)
        key = f"mc-{len(self.items) + 1}"
        await progress("booting")
        status = ResourceStatus(ResourceState.RUNNING, addresses=("10.0.0.5",))
        await progress("address assigned", "10.0.0.5")
        self.items[key] = status
        return ProvisionedResource("memcloud", key, spec.name, status)

    async def status(self, external_id, *, credential=None):
        if external_id not in self.items:
            raise ResourceNotFound(f"There is no VM {external_id} any more.")
        return self.items[external_id]

    async def usage(self, external_id, since, *, credential=None):
        return Usage(0.5, since, datetime.now(since.tzinfo))

    async def extend(self, external_id, until, *, credential=None):
        await self.status(external_id)

    async def delete(self, external_id, progress, *, credential=None):
        await progress("deleting", external_id)
        self.items.pop(external_id, None)

    async def list(self, *, credential=None):
        return [ProvisionedResource("memcloud", k, k, s) for k, s in self.items.items()]

    async def close(self):
        self.items.clear()
'''


@pytest.fixture
def memcloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Install a provider plug-in the way pip would: a module plus a ``*.dist-info``."""
    module = f"qmt_memcloud_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "site"
    root.mkdir()
    (root / f"{module}.py").write_text(textwrap.dedent(PROVIDER))
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[quartermaster.providers]\nmemcloud = {module}:MemCloud\n"
    )
    monkeypatch.syspath_prepend(str(root))
    yield module
    sys.modules.pop(module, None)


def spec(name: str = "vm-1") -> ResourceSpec:
    return ResourceSpec(
        "vm",
        name,
        "test:alice",
        image="ubuntu-22.04",
        cpus=4,
        memory_mb=16384,
        expires_at=datetime(2027, 3, 8, tzinfo=UTC),
    )


async def test_a_provider_is_found_by_name_and_reports_progress_in_one_message(
    tmp_path: Path, memcloud: str
) -> None:
    settings = Settings.model_validate({"providers": {"memcloud": {"quota": 2}}})
    provider = provider_from_config("memcloud", settings.providers)
    assert isinstance(provider, ResourceProvider)
    async with TestBot.create(tmp_path) as bot:
        status = StatusMessage(bot.app, "test", "vms", thread="t-9", title="Creating vm-1")
        made = await provider.create(spec(), status)
        await status.finish(f"ready: ssh ubuntu@{made.status.addresses[0]}")
        posted = [s for s in bot.sent if s.channel == "vms"]
        assert len(posted) == 1 and posted[0].thread == "t-9"  # one message, edited
        assert len(posted[0].edits) == 3
        assert posted[0].edits[0] == "Creating vm-1\n… creating: vm-1"
        assert posted[0].text == (
            "Creating vm-1\n✔ creating: vm-1\n✔ booting\n"
            "✔ address assigned: 10.0.0.5\nready: ssh ubuntu@10.0.0.5"
        )
    assert made.external_id == "mc-1" and made.status.state is ResourceState.RUNNING


async def test_provider_errors_are_sentences_for_the_user(memcloud: str) -> None:
    provider = provider_from_config("memcloud", {"memcloud": {"quota": 0}})

    async def nowhere(step: str, detail: str = "") -> None:
        raise AssertionError("no progress before the quota check")

    with pytest.raises(QuotaExceeded, match="may have 0 VMs") as caught:
        await provider.create(spec(), nowhere)
    assert isinstance(caught.value, UserError)


def test_misconfigured_providers_name_the_key(memcloud: str) -> None:
    with pytest.raises(
        ConfigError,
        match=r"providers\.libvirt: not configured \(configured: "
        r"memcloud\)",
    ):
        provider_from_config("libvirt", {"memcloud": {"quota": 1}})
    with pytest.raises(
        ConfigError,
        match=r"providers\.nimbus: no quartermaster\.providers "
        r"plug-in named 'nimbus'",
    ):
        provider_from_config("nimbus", {"nimbus": {}})
    with pytest.raises(ConfigError, match=r"providers\.memcloud: quota: required"):
        provider_from_config("memcloud", {"memcloud": {}})
