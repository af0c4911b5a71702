"""Vault errors. Messages name owners, secret names and key ids -- never key material or values."""

from __future__ import annotations

from bot.errors import QuartermasterError, UserError


class VaultError(QuartermasterError):
    """Something about the vault itself is wrong (keys, storage); one line for an operator."""


class MasterKeyMissing(VaultError):
    """A data key is wrapped by a master key that is not configured (wrong or removed key)."""


class SecretUnreadable(VaultError, UserError):
    """A stored value does not open: it was changed or moved in the database."""


class SecretNotFound(UserError):
    """The user has no secret by that name."""


class InvalidSecret(UserError):
    """A name, provider or value the vault does not accept; the message says why."""
