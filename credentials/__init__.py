"""The credential vault: per-user secrets sealed with envelope encryption, used only by their owner.

Read docs/vault.md for the threat model. Skills reach the vault through ``app.services[VAULT]``
(``credentials.vault.VAULT``, a ``Vault``) and get ``credentials.secret.Secret`` values, never plain
strings; ``ctx.secret(name)`` reaches it through the core's ``SECRETS`` key.

``MODELS`` and ``MIGRATIONS`` are read through the ``quartermaster.models`` entry point.
"""

MODELS = ["credentials.models"]
MIGRATIONS = "credentials.migrations"
