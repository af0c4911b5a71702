"""Core records: people and their roles, requests and their history, resources, conversations.

Skills with their own records (credentials, workflows) keep them in their own packages; these are
the ones every part of the bot shares.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# NB: tortoise copies model docstrings into SQL comments and splits migrations on ";",
# so model docstrings must not contain semicolons.


class User(Model):
    """A person as one platform knows them. ``person`` links the same human across platforms."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    platform = fields.CharField(max_length=32)
    platform_id = fields.CharField(max_length=128)
    name = fields.CharField(max_length=255, default="")
    email = fields.CharField(max_length=255, null=True)
    person = fields.CharField(max_length=128, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen = fields.DatetimeField(null=True)

    class Meta:
        table = "qm_user"
        unique_together = (("platform", "platform_id"),)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.platform_id}"


class RoleGrant(Model):
    """A role held by a subject (``platform:id``), seeded from config or granted from chat/CLI."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    subject = fields.CharField(max_length=200, db_index=True)
    role = fields.CharField(max_length=64)
    granted_by = fields.CharField(max_length=200, default="")
    source = fields.CharField(max_length=16, default="chat")  # config | cli | chat
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qm_role_grant"
        unique_together = (("subject", "role"),)


class Request(Model):
    """A tracked piece of helpdesk work. Its type's workflow says which states it moves through."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    type = fields.CharField(max_length=64, db_index=True)
    state = fields.CharField(max_length=64, db_index=True)
    requester = fields.ForeignKeyField(
        "bot.User", related_name="requests", on_delete=fields.RESTRICT
    )
    filed_by = fields.ForeignKeyField(
        "bot.User", related_name="filed_requests", null=True, on_delete=fields.SET_NULL
    )
    assignee = fields.CharField(max_length=200, null=True, db_index=True)
    fields_data = fields.JSONField(default=dict)
    channel = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)
    closed_at = fields.DatetimeField(null=True)
    deleted = fields.BooleanField(default=False)
    #: the idempotency key of the draft it was filed from: a repeated "yes" files nothing new
    draft_key = fields.CharField(max_length=64, null=True, unique=True)

    class Meta:
        table = "qm_request"

    @property
    def ref(self) -> str:
        return f"REQ-{self.id}"


class RequestEvent(Model):
    """One entry of a request's history: who did what, when, with which comment."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    request = fields.ForeignKeyField("bot.Request", related_name="events", on_delete=fields.CASCADE)
    actor = fields.ForeignKeyField(
        "bot.User", related_name="request_events", null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharField(max_length=64)
    from_state = fields.CharField(max_length=64, null=True)
    to_state = fields.CharField(max_length=64, null=True)
    comment = fields.TextField(default="")
    data = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "qm_request_event"
        ordering = ["id"]


class PostedCopy(Model):
    """A chat message showing a request, so edits and transitions can update every copy."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    request = fields.ForeignKeyField("bot.Request", related_name="copies", on_delete=fields.CASCADE)
    platform = fields.CharField(max_length=32)
    channel = fields.CharField(max_length=200)
    message_id = fields.CharField(max_length=200)
    thread = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "qm_posted_copy"


class Resource(Model):
    """Something handed out (VM, node loan, quota grant) that observers keep watching."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=32, db_index=True)
    name = fields.CharField(max_length=200, db_index=True)
    owner = fields.ForeignKeyField(
        "bot.User", related_name="resources", null=True, on_delete=fields.SET_NULL
    )
    request = fields.ForeignKeyField(
        "bot.Request", related_name="resources", null=True, on_delete=fields.SET_NULL
    )
    state = fields.CharField(max_length=32, default="active")
    data = fields.JSONField(default=dict)
    expires_at = fields.DatetimeField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "qm_resource"


class Conversation(Model):
    """Dialogue state of one user in one conversation, stored so it survives restarts."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    key = fields.CharField(max_length=400, primary_key=True)
    state = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)
    expires_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "qm_conversation"


class AuditEvent(Model):
    """Everything the bot did on someone's behalf, for the record (written in batches)."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    actor = fields.CharField(max_length=200, db_index=True)
    kind = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=200, default="")
    outcome = fields.CharField(max_length=32, default="ok")
    detail = fields.JSONField(default=dict)

    class Meta:
        table = "qm_audit_event"


class SeenEvent(Model):
    """Platform event ids already handled, so re-deliveries are dropped (single-process mode)."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    key = fields.CharField(max_length=300, primary_key=True)
    seen_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "qm_seen_event"


class KeyValue(Model):
    """A small namespaced value with an optional expiry (cursors, message-part indexes, choices)."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.BigIntField(primary_key=True)
    namespace = fields.CharField(max_length=64)
    key = fields.CharField(max_length=300)
    value = fields.JSONField(default=dict)
    expires_at = fields.DatetimeField(null=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "qm_kv"
        unique_together = (("namespace", "key"),)


class ObserverState(Model):
    """What one observer last said about one subject, so it warns once and honours snoozes."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.BigIntField(primary_key=True)
    observer = fields.CharField(max_length=100)
    subject = fields.CharField(max_length=300)
    last_alert_at = fields.DatetimeField(null=True)
    last_alert = fields.CharField(max_length=100, default="")
    snooze_until = fields.DatetimeField(null=True)
    data = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "qm_observer_state"
        unique_together = (("observer", "subject"),)


class Delivery(Model):
    """A notification that follows a recorded change (the durable outbox, bot/deliveries.py).

    Written in the transaction of the change, sent after it commits, kept until sent."""

    _no_comments = True  # skip tortoise's source scan for field comments (none here)

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    key = fields.CharField(max_length=200, default="", db_index=True)
    payload = fields.JSONField(default=dict)
    state = fields.CharField(max_length=16, default="pending", db_index=True)
    attempts = fields.IntField(default=0)
    next_at = fields.DatetimeField(db_index=True)
    claimed_by = fields.CharField(max_length=64, null=True)
    claimed_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    done_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "qm_outbox"
