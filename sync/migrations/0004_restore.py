"""The database generation: a new one each time the database is restored from a copy, so that
a pull cursor from before the restore makes its phone fetch its scope again (SPEC 3)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_import_uploads')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DatabaseGeneration',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('generation', fields.CharField(unique=True, max_length=36)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('reason', fields.CharField(max_length=32)),
            ],
            options={'table': 'database_generation', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row each time the database is restored from a copy (``peerlog restore``,'},
            bases=['Model'],
        ),
    ]
