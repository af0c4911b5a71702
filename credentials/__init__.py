"""The credential vault: per-user secrets sealed with envelope encryption, used only by their owner.

Read docs/vault.md for the threat model. Skills reach the vault through ``app.services["vault"]``
(a ``credentials.vault.Vault``) and get ``credentials.secret.Secret`` values, never plain strings.
"""
