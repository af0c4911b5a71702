"""Layered errors: a ``UserError`` is shown as is; anything else becomes an apology with a ref."""

from __future__ import annotations


class QuartermasterError(Exception):
    """Base of all errors this project raises on purpose."""


class UserError(QuartermasterError):
    """A problem the user can fix; its message is shown verbatim in chat."""


class PermissionDenied(UserError):
    """The user may not do this to this object (a transition, someone else's request); the
    message is shown to the user privately. Handler-level permissions are declared checks
    (``bot.checks``), refused by the authorize middleware before the handler runs."""


class ConfigError(QuartermasterError):
    """The configuration is invalid; the message names the file, the key and the problem."""


class StorageUnavailable(QuartermasterError):
    """The database cannot be reached; the message says which one without credentials."""


class DatabaseNotAnswering(StorageUnavailable):
    """The database stalled or refused during a turn; users get ``USER_MESSAGE``."""

    USER_MESSAGE = (
        "The database is not answering right now, so I could not do that. "
        "Nothing was lost: try again in a minute."
    )


class StartupRefused(QuartermasterError):
    """A start-up check found a state the bot must not run in; the message says what to do."""
