"""Vault records (tortoise app "credentials"): wrapped data keys, sealed secrets, rotations, uses.

Owners are user keys (``platform:id``) because the sealing binds them as associated data. Nothing
here is readable without a master key, which lives outside the database.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# NB: tortoise copies model docstrings into SQL comments and splits migrations on semicolons,
# so the docstrings below must not contain one.


class DataKey(Model):
    """One version of a user's data key, AES-GCM wrapped by the master key master_key_id."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    owner = fields.CharField(max_length=200, db_index=True)
    version = fields.IntField()
    master_key_id = fields.CharField(max_length=32, db_index=True)
    wrapped = fields.BinaryField()
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    rewrapped_at = fields.DatetimeField(null=True)

    class Meta:
        table = "qm_vault_data_key"
        unique_together = (("owner", "version"),)


class SealedSecret(Model):
    """A user's secret, sealed by their data key, bound to owner, name, provider, version."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    owner = fields.CharField(max_length=200, db_index=True)
    name = fields.CharField(max_length=64)
    provider = fields.CharField(max_length=32)
    version = fields.IntField(default=1)
    key_version = fields.IntField()
    sealed = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "qm_vault_secret"
        unique_together = (("owner", "name"),)


class Rotation(Model):
    """Progress of a master-key rotation, so an interrupted one resumes towards the same key."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    target_key_id = fields.CharField(max_length=32)
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    total = fields.IntField(default=0)
    done = fields.IntField(default=0)

    class Meta:
        table = "qm_vault_rotation"


class SecretUse(Model):
    """Who used which secret through which skill, and when (also written to the audit log)."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.BigIntField(primary_key=True)
    owner = fields.CharField(max_length=200, db_index=True)
    name = fields.CharField(max_length=64)
    skill = fields.CharField(max_length=64)
    outcome = fields.CharField(max_length=16, default="ok")
    at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "qm_vault_use"


class VaultLock(Model):
    """Who holds the vault maintenance lease (rotate-master, recover), until when."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=32, unique=True)
    token = fields.CharField(max_length=32)
    purpose = fields.CharField(max_length=32)
    pid = fields.IntField()
    host = fields.CharField(max_length=200)
    acquired_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "qm_vault_lock"


class VaultNotice(Model):
    """A message owed to a user about their vault (secrets retired by recover), sent at start."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    owner = fields.CharField(max_length=200, db_index=True)
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    claimed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "qm_vault_notice"
