"""Urgent referrals worked through by the health centre's staff: a contact's urgent referral
marked handled, by whom, when, with a note (``/admin/referrals``)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReferralFollowUp',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contact', fields.OneToOneField('models.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='follow_up', on_delete=OnDelete.CASCADE)),
                ('handled_by', fields.ForeignKeyField('models.User', source_field='handled_by_id', db_constraint=True, to_field='id', related_name='referrals_handled', on_delete=OnDelete.RESTRICT)),
                ('handled_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('note', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'referral_follow_up', 'app': 'models', 'pk_attr': 'id', 'table_description': "Staff working through urgent referrals (``/admin/referrals``): a contact's urgent referral"},
            bases=['Model'],
        ),
    ]
