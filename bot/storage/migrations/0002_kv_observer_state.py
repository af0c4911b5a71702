import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('bot', '0001_initial')]

    operations = [
        ops.CreateModel(
            name='KeyValue',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('namespace', fields.CharField(max_length=64)),
                ('key', fields.CharField(max_length=300)),
                ('value', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('expires_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'qm_kv', 'app': 'bot', 'unique_together': (('namespace', 'key'),), 'pk_attr': 'id', 'table_description': 'A small namespaced value with an optional expiry (cursors, message-part indexes, choices).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ObserverState',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('observer', fields.CharField(max_length=100)),
                ('subject', fields.CharField(max_length=300)),
                ('last_alert_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_alert', fields.CharField(default='', max_length=100)),
                ('snooze_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'qm_observer_state', 'app': 'bot', 'unique_together': (('observer', 'subject'),), 'pk_attr': 'id', 'table_description': 'What one observer last said about one subject, so it warns once and honours snoozes.'},
            bases=['Model'],
        ),
    ]
