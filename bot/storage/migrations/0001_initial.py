import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('actor', fields.CharField(db_index=True, max_length=200)),
                ('kind', fields.CharField(db_index=True, max_length=64)),
                ('target', fields.CharField(default='', max_length=200)),
                ('outcome', fields.CharField(default='ok', max_length=32)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'qm_audit_event', 'app': 'bot', 'pk_attr': 'id', 'table_description': "Everything the bot did on someone's behalf, for the record (written in batches)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=400)),
                ('state', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'qm_conversation', 'app': 'bot', 'pk_attr': 'key', 'table_description': 'Dialogue state of one user in one conversation, stored so it survives restarts.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoleGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subject', fields.CharField(db_index=True, max_length=200)),
                ('role', fields.CharField(max_length=64)),
                ('granted_by', fields.CharField(default='', max_length=200)),
                ('source', fields.CharField(default='chat', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'qm_role_grant', 'app': 'bot', 'unique_together': (('subject', 'role'),), 'pk_attr': 'id', 'table_description': 'A role held by a subject (``platform:id``), seeded from config or granted from chat/CLI.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SeenEvent',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=300)),
                ('seen_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'qm_seen_event', 'app': 'bot', 'pk_attr': 'key', 'table_description': 'Platform event ids already handled, so re-deliveries are dropped (single-process mode).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('platform', fields.CharField(max_length=32)),
                ('platform_id', fields.CharField(max_length=128)),
                ('name', fields.CharField(default='', max_length=255)),
                ('email', fields.CharField(null=True, max_length=255)),
                ('person', fields.CharField(null=True, db_index=True, max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'qm_user', 'app': 'bot', 'unique_together': (('platform', 'platform_id'),), 'pk_attr': 'id', 'table_description': 'A person as one platform knows them. ``person`` links the same human across platforms.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Request',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('type', fields.CharField(db_index=True, max_length=64)),
                ('state', fields.CharField(db_index=True, max_length=64)),
                ('requester', fields.ForeignKeyField('bot.User', source_field='requester_id', db_constraint=True, to_field='id', related_name='requests', on_delete=OnDelete.RESTRICT)),
                ('filed_by', fields.ForeignKeyField('bot.User', source_field='filed_by_id', null=True, db_constraint=True, to_field='id', related_name='filed_requests', on_delete=OnDelete.SET_NULL)),
                ('assignee', fields.CharField(null=True, db_index=True, max_length=200)),
                ('fields_data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('channel', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted', fields.BooleanField(default=False)),
            ],
            options={'table': 'qm_request', 'app': 'bot', 'pk_attr': 'id', 'table_description': "A tracked piece of helpdesk work. Its type's workflow says which states it moves through."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostedCopy',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('bot.Request', source_field='request_id', db_constraint=True, to_field='id', related_name='copies', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharField(max_length=32)),
                ('channel', fields.CharField(max_length=200)),
                ('message_id', fields.CharField(max_length=200)),
                ('thread', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'qm_posted_copy', 'app': 'bot', 'pk_attr': 'id', 'table_description': 'A chat message showing a request, so edits and transitions can update every copy.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RequestEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('bot.Request', source_field='request_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('actor', fields.ForeignKeyField('bot.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='request_events', on_delete=OnDelete.SET_NULL)),
                ('action', fields.CharField(max_length=64)),
                ('from_state', fields.CharField(null=True, max_length=64)),
                ('to_state', fields.CharField(null=True, max_length=64)),
                ('comment', fields.TextField(default='', unique=False)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'qm_request_event', 'app': 'bot', 'pk_attr': 'id', 'table_description': "One entry of a request's history: who did what, when, with which comment."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Resource',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(db_index=True, max_length=32)),
                ('name', fields.CharField(db_index=True, max_length=200)),
                ('owner', fields.ForeignKeyField('bot.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='resources', on_delete=OnDelete.SET_NULL)),
                ('request', fields.ForeignKeyField('bot.Request', source_field='request_id', null=True, db_constraint=True, to_field='id', related_name='resources', on_delete=OnDelete.SET_NULL)),
                ('state', fields.CharField(default='active', max_length=32)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('expires_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'qm_resource', 'app': 'bot', 'pk_attr': 'id', 'table_description': 'Something handed out (VM, node loan, quota grant) that observers keep watching.'},
            bases=['Model'],
        ),
    ]
