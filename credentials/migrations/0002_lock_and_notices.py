from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('credentials', '0001_initial')]

    operations = [
        ops.CreateModel(
            name='VaultLock',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=32, unique=True)),
                ('token', fields.CharField(max_length=32)),
                ('purpose', fields.CharField(max_length=32)),
                ('pid', fields.IntField()),
                ('host', fields.CharField(max_length=200)),
                ('acquired_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'qm_vault_lock', 'app': 'credentials', 'pk_attr': 'id', 'table_description': 'Who holds the vault maintenance lease (rotate-master, recover), until when.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VaultNotice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.CharField(db_index=True, max_length=200)),
                ('text', fields.TextField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'qm_vault_notice', 'app': 'credentials', 'pk_attr': 'id', 'table_description': 'A message owed to a user about their vault (secrets retired by recover), sent at start.'},
            bases=['Model'],
        ),
    ]
