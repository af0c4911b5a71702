"""The ``openstack_cloud`` fixture (imported by tests/conftest.py): the protocol-level OpenStack
of tests/peers/openstack.py, started for one test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.peers.openstack import OpenStackPeer


@pytest.fixture
async def openstack_cloud() -> AsyncIterator[tuple[str, Callable[[str], str], OpenStackPeer]]:
    """``(auth_url, make_credential, peer)``: ``make_credential("alice")`` gives alice's
    application credential as ``<id>:<secret>`` (the same one each time), in her own project."""
    peer = OpenStackPeer()
    await peer.start()
    made: dict[str, str] = {}

    def make_credential(user: str) -> str:
        if user not in made:
            made[user] = peer.add_user(user).as_text()
        return made[user]

    try:
        yield peer.auth_url, make_credential, peer
    finally:
        await peer.stop()
