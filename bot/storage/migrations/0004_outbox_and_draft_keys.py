from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("bot", "0003_plumbing_rows_to_kv")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Delivery",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("kind", fields.CharField(max_length=64)),
                ("key", fields.CharField(default="", db_index=True, max_length=200)),
                (
                    "payload",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("state", fields.CharField(default="pending", db_index=True, max_length=16)),
                ("attempts", fields.IntField(default=0)),
                (
                    "next_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
                ("claimed_by", fields.CharField(null=True, max_length=64)),
                (
                    "claimed_until",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("last_error", fields.CharField(default="", max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "done_at",
                    fields.DatetimeField(
                        null=True, db_index=True, auto_now=False, auto_now_add=False
                    ),
                ),
            ],
            options={
                "table": "qm_outbox",
                "app": "bot",
                "pk_attr": "id",
                "table_description": "A notification that follows a recorded change (the durable outbox, bot/deliveries.py).",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Request",
            name="draft_key",
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
    ]
