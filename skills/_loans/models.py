"""Loan records (tortoise app "loans"): who borrows which nodes, when, and what Hiera says.

A node is never booked twice for overlapping dates: ``assign.book`` checks and inserts inside
one transaction that holds the nodes' ``NodeLock`` rows (``SELECT … FOR UPDATE`` on PostgreSQL).
"""

from __future__ import annotations

import sys
from typing import Any

from tortoise import fields
from tortoise.models import Model

# NB: tortoise copies model docstrings into SQL comments and splits migrations on semicolons,
# so the docstrings below must not contain one.

ACTIVE = "active"
ENDED = "ended"


class Loan(Model):
    """One approved loan: a request's nodes, dates, project, users and extra Hiera settings."""

    _no_comments = True

    id = fields.IntField(primary_key=True)
    request_id = fields.IntField(unique=True)
    requester = fields.CharField(max_length=200, db_index=True)
    requester_name = fields.CharField(max_length=200, default="")
    project = fields.CharField(max_length=200, default="")
    experiment = fields.CharField(max_length=200, default="")
    users = fields.JSONField(default=list)
    extra = fields.JSONField(default=dict)
    start = fields.DateField()
    end = fields.DateField()
    state = fields.CharField(max_length=16, default=ACTIVE, db_index=True)
    extensions = fields.IntField(default=0)
    synced = fields.BooleanField(default=False)
    # no longer written: e-mail copies follow the observer runner's told state (kept for the schema)
    warned = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    ended_at = fields.DatetimeField(null=True)

    nodes: fields.ReverseRelation[LoanNode]

    class Meta:
        table = "qm_loan"

    @property
    def ref(self) -> str:
        return f"REQ-{self.request_id}"


class LoanNode(Model):
    """A node held by a loan, with the loan's dates copied for the overlap query."""

    _no_comments = True

    id = fields.IntField(primary_key=True)
    loan: fields.ForeignKeyRelation[Loan] = fields.ForeignKeyField(
        "loans.Loan", related_name="nodes", on_delete=fields.CASCADE
    )
    node = fields.CharField(max_length=100, db_index=True)
    start = fields.DateField()
    end = fields.DateField()
    active = fields.BooleanField(default=True, db_index=True)

    class Meta:
        table = "qm_loan_node"


class NodeLock(Model):
    """One row per lendable node, locked while a loan of it is booked or changed."""

    _no_comments = True

    id = fields.IntField(primary_key=True)
    node = fields.CharField(max_length=100, unique=True)

    class Meta:
        table = "qm_loan_node_lock"


def _registered() -> None:
    """After ``reload skills`` re-imports this module, use the classes tortoise registered.

    The loader re-imports every ``skills`` module; fresh model classes would have no database
    connection, so the names are rebound to the ones tortoise initialised at start."""
    from tortoise import Tortoise

    apps: Any = Tortoise.apps
    if not apps or "loans" not in apps:
        return
    module = sys.modules[__name__]
    for name, model in apps["loans"].items():
        setattr(module, name, model)


_registered()
