"""Vault errors. Messages name owners, secret names and key ids -- never key material or values."""

from __future__ import annotations

from bot.errors import QuartermasterError, StartupRefused, UserError


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


class SecretUnavailable(SecretUnreadable):
    """A secret its owner cannot use; the message is a sentence for them, the details are logged."""

    @classmethod
    def of(cls, name: str, provider: str) -> SecretUnavailable:
        again = f"store my {provider} token" + ("" if name == provider else f" as {name}")
        what = f"{provider} secret" + ("" if name == provider else f" `{name}`")
        return cls(f"Your stored {what} can't be opened; store it again with `{again}`.")


class VaultBusy(VaultError):
    """Another rotation or recovery holds the vault's maintenance lock."""


class KeysLost(VaultError, StartupRefused):
    """Stored data keys need master keys that are not configured: the bot must not start."""
