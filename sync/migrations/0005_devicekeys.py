"""Device keys (SPEC 5): the public keys of phones that cannot make a passkey, one table."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_restore')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DeviceKey',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='device_keys', on_delete=OnDelete.RESTRICT)),
                ('device', fields.ForeignKeyField('models.Device', source_field='device_id', db_constraint=True, to_field='id', related_name='keys', on_delete=OnDelete.RESTRICT)),
                ('public_key', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'device_key', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A device key (SPEC 5): the public half of a non-extractable ECDSA P-256 key a phone that'},
            bases=['Model'],
        ),
    ]
