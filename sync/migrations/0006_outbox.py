"""The device row keeps the phone's outbox report (SPEC 3, ``sync.outbox``): how many records
wait on the phone and since when, so staff see the phones at risk."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0005_devicekeys")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Device",
            name="outbox_waiting",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="Device",
            name="outbox_oldest_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Device",
            name="outbox_reported_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
