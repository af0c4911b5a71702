from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Loan',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request_id', fields.IntField(unique=True)),
                ('requester', fields.CharField(db_index=True, max_length=200)),
                ('requester_name', fields.CharField(default='', max_length=200)),
                ('project', fields.CharField(default='', max_length=200)),
                ('experiment', fields.CharField(default='', max_length=200)),
                ('users', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('extra', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('start', fields.DateField()),
                ('end', fields.DateField()),
                ('state', fields.CharField(default='active', db_index=True, max_length=16)),
                ('extensions', fields.IntField(default=0)),
                ('synced', fields.BooleanField(default=False)),
                ('warned', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'qm_loan', 'app': 'loans', 'pk_attr': 'id', 'table_description': "One approved loan: a request's nodes, dates, project, users and extra Hiera settings."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoanNode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('loan', fields.ForeignKeyField('loans.Loan', source_field='loan_id', db_constraint=True, to_field='id', related_name='nodes', on_delete=OnDelete.CASCADE)),
                ('node', fields.CharField(db_index=True, max_length=100)),
                ('start', fields.DateField()),
                ('end', fields.DateField()),
                ('active', fields.BooleanField(default=True, db_index=True)),
            ],
            options={'table': 'qm_loan_node', 'app': 'loans', 'pk_attr': 'id', 'table_description': "A node held by a loan, with the loan's dates copied for the overlap query."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NodeLock',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('node', fields.CharField(unique=True, max_length=100)),
            ],
            options={'table': 'qm_loan_node_lock', 'app': 'loans', 'pk_attr': 'id', 'table_description': 'One row per lendable node, locked while a loan of it is booked or changed.'},
            bases=['Model'],
        ),
    ]
