"""A device notice for its next sync: an administrator made a new invite for its already-enrolled
user (SPEC 5: "the user's existing devices are told at their next sync")."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_desk')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Device',
            name='notice',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Device',
            name='notice_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
