"""A secret value that does not leak by accident: repr, str, format and pickle never show it.

Skills get a ``Secret`` from the vault and call ``reveal()`` only at the moment they hand the value
to the library that needs it, so a stray ``log.info("%s", creds)`` or an f-string prints a mask.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

MASK = "[secret]"


class Secret:
    __slots__ = ("_value", "name")

    def __init__(self, value: str, name: str = "") -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret wraps a str")
        self._value = value
        self.name = name

    def reveal(self) -> str:
        """The plaintext; call it at the last moment and never log the result."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name!r})" if self.name else "Secret()"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # equal secrets must not be dict keys by value

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled (it would be written out in plaintext)")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self
