"""Typed service keys: a key is matched by identity, and a string key is an error, not a miss."""

from __future__ import annotations

import pytest

from bot.services import ServiceKey, Services

COUNT: ServiceKey[int] = ServiceKey("count", int)


def test_keys_are_objects_not_names() -> None:
    services = Services()
    services[COUNT] = 3
    assert services[COUNT] == 3 and services.get(COUNT) == 3 and COUNT in services
    assert ServiceKey("count", int) not in services  # same name, another key
    assert list(services) == [COUNT] and len(services) == 1
    assert services.pop(COUNT) == 3 and services.get(COUNT) is None


@pytest.mark.parametrize(
    "use",
    [
        lambda s: s["count"],
        lambda s: s.get("count"),
        lambda s: "count" in s,
        lambda s: s.__setitem__("count", 1),
        lambda s: s.pop("count"),
    ],
)
def test_a_string_key_is_a_type_error(use: object) -> None:
    with pytest.raises(TypeError, match="ServiceKey objects, not str"):
        use(Services())  # type: ignore[operator]
