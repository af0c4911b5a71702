from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='DataKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.CharField(db_index=True, max_length=200)),
                ('version', fields.IntField()),
                ('master_key_id', fields.CharField(db_index=True, max_length=32)),
                ('wrapped', fields.BinaryField()),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('rewrapped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'qm_vault_data_key', 'app': 'credentials', 'unique_together': (('owner', 'version'),), 'pk_attr': 'id', 'table_description': "One version of a user's data key, AES-GCM wrapped by the master key master_key_id."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Rotation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('target_key_id', fields.CharField(max_length=32)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('total', fields.IntField(default=0)),
                ('done', fields.IntField(default=0)),
            ],
            options={'table': 'qm_vault_rotation', 'app': 'credentials', 'pk_attr': 'id', 'table_description': 'Progress of a master-key rotation, so an interrupted one resumes towards the same key.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SealedSecret',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.CharField(db_index=True, max_length=200)),
                ('name', fields.CharField(max_length=64)),
                ('provider', fields.CharField(max_length=32)),
                ('version', fields.IntField(default=1)),
                ('key_version', fields.IntField()),
                ('sealed', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'qm_vault_secret', 'app': 'credentials', 'unique_together': (('owner', 'name'),), 'pk_attr': 'id', 'table_description': "A user's secret, sealed by their data key, bound to owner, name, provider, version."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SecretUse',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.CharField(db_index=True, max_length=200)),
                ('name', fields.CharField(max_length=64)),
                ('skill', fields.CharField(max_length=64)),
                ('outcome', fields.CharField(default='ok', max_length=16)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'qm_vault_use', 'app': 'credentials', 'pk_attr': 'id', 'table_description': 'Who used which secret through which skill, and when (also written to the audit log).'},
            bases=['Model'],
        ),
    ]
