"""CSV import uploads wait for their confirmation in the database, where every server process
can read them, instead of in one host's data folder (SPEC 7: stateless processes)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_lean_mutation_log')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ImportUpload',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='import_uploads', on_delete=OnDelete.CASCADE)),
                ('data', fields.BinaryField(null=True)),
                ('rejected_csv', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'import_upload', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A participant CSV between its preview and its confirmation (``server/admin/importer.py``).'},
            bases=['Model'],
        ),
    ]
