"""Typed service keys: what skills and plug-ins share through the application.

``app.services[VAULT]`` is checked by mypy (``ServiceKey[Vault]``) instead of a bare string, and
the core declares only the *kinds* it needs (``SECRETS`` below); feature packages declare their own
keys next to their services, so the core never imports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar, cast

T = TypeVar("T")


class ServiceKey(Generic[T]):
    """A named, typed slot in ``app.services`` (like aiohttp's ``web.AppKey``)."""

    __slots__ = ("name", "type")

    def __init__(self, name: str, type_: type[Any] = object) -> None:
        self.name = name
        self.type = type_

    def __repr__(self) -> str:
        return f"<ServiceKey {self.name}>"


class Services:
    """The per-application registry of shared services, keyed by ``ServiceKey`` only.

    A string key is a ``TypeError`` everywhere (not a silent miss), so code still written for
    the old ``app.services["vault"]`` fails on its first use instead of seeing "no vault"."""

    def __init__(self) -> None:
        self._items: dict[ServiceKey[Any], Any] = {}

    def __getitem__(self, key: ServiceKey[T]) -> T:
        return cast(T, self._items[_checked(key)])

    def __setitem__(self, key: ServiceKey[T], value: T) -> None:
        self._items[_checked(key)] = value

    def __delitem__(self, key: ServiceKey[Any]) -> None:
        del self._items[_checked(key)]

    def __contains__(self, key: object) -> bool:
        return _checked(key) in self._items

    def __iter__(self) -> Iterator[ServiceKey[Any]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: ServiceKey[T], default: T | None = None) -> T | None:
        return cast("T | None", self._items.get(_checked(key), default))

    def pop(self, key: ServiceKey[T], default: T | None = None) -> T | None:
        return cast("T | None", self._items.pop(_checked(key), default))


def _checked(key: object) -> ServiceKey[Any]:
    if not isinstance(key, ServiceKey):
        raise TypeError(f"service keys are ServiceKey objects, not {type(key).__name__}")
    return key


class SecretSource(Protocol):
    """What ``ctx.secret`` needs from a vault: the user's secret for a skill, with the use audited.

    Raises a ``UserError`` the user can act on when the secret is missing."""

    async def secret_for_user(self, user_key: str, name: str, *, skill: str) -> Any: ...


#: the credential vault, when one is installed (the ``credentials`` package registers it)
SECRETS: ServiceKey[SecretSource] = ServiceKey("secrets")
