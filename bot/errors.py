"""Layered errors: a ``UserError`` is shown as is; anything else becomes an apology with a ref."""

from __future__ import annotations


class QuartermasterError(Exception):
    """Base of all errors this project raises on purpose."""


class UserError(QuartermasterError):
    """A problem the user can fix; its message is shown verbatim in chat."""


class PermissionDenied(UserError):
    """The user lacks the role a handler or transition needs."""


class ConfigError(QuartermasterError):
    """The configuration is invalid; the message names the file, the key and the problem."""


class StorageUnavailable(QuartermasterError):
    """The database cannot be reached; the message says which one without credentials."""
