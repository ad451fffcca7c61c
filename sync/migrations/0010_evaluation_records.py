"""The evaluation records (issue 14, RECORDS.md): measurement, instrument, assessment, group
activity, supervision, training and implementation rating.

- The built-in instruments (DDS-2, neighbourhood support; ``sync.instruments``) are written.
- Every clinical value held today becomes a measurement row, none lost (``move_values``): the
  participant's baseline and latest HbA1c, blood pressure and weight (source ``clinic``), and
  each contact's reported glucose, blood pressure and weight (``self_report``, ``contact_id``
  set, dated the contact's day in the program's time zone). A value the participant row holds
  without its date is dated by the enrolment (a baseline) or the row's last change: the best
  days known. A latest HbA1c dated before the baseline becomes a voided row (kept, never
  counted: it would otherwise become the baseline). A value on a voided contact becomes a
  voided row. The participant's columns stay
  as they are; from now on they are derived from the rows.
- The logs' ``entity`` columns grow to 32 characters (``implementation_rating`` has 21).

New rows are numbered from the change sequence like every write, so phones receive them at
their next pull. One transaction on both databases (Tortoise applies a migration atomically
where DDL can roll back, as on SQLite and PostgreSQL): a failure leaves the database at 0009.
"""

import functools
import operator
import os
from datetime import UTC, datetime
from json import dumps, loads
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from tortoise import fields, migrations
from tortoise.expressions import Q
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from sync import outcomes, sequence
from sync.instruments import BUILT_IN

# The program's time zone, read as ``peerlog migrate`` reads its settings (server/settings.py,
# ``PEERLOG_TIMEZONE``); sync/ does not import the server.
DEFAULT_ZONE = "Asia/Shanghai"
BATCH = 500
# Read by staff in either language: a free-text reason, like one a person types.
BEFORE_BASELINE = "早于基线日期 · dated before the baseline (migration 0010)"


async def _participant_rows(apps: Any, client: Any, zone: ZoneInfo) -> list[dict[str, Any]]:
    model = apps.get_model("models.Participant")
    columns = {c for column, on, _ in outcomes.PARTICIPANT_READINGS for c in (column, on)}
    found = Q(*(Q(**{f"{c}__isnull": False}) for c, _, _ in outcomes.PARTICIPANT_READINGS), join_type="OR")
    people = await model.filter(found).using_db(client).order_by("code").values(
        "id", "community_id", "version", "enrolled_on", "updated_at", *sorted(columns)
    )
    rows = []
    for p in people:
        for column, on, marker in outcomes.PARTICIPANT_READINGS:
            if p[column] is None:
                continue
            day = p[on] or (p["enrolled_on"] if column == "hba1c_baseline" else None)
            day = day or outcomes.local_day(p["updated_at"], zone)
            # A latest HbA1c dated before the baseline (the evaluator found such rows counted):
            # kept, voided, so the baseline stays the baseline and the value is still there.
            backwards = (
                column == "hba1c"
                and p["hba1c_baseline"] is not None
                and p["hba1c_baseline_on"] is not None
                and day < p["hba1c_baseline_on"]
            )
            rows.append(
                dict(
                    id=outcomes.participant_reading_id(p["id"], column, p["version"]),
                    participant_id=p["id"],
                    community_id=p["community_id"],
                    entered_by_id=None,
                    contact_id=None,
                    marker=marker.value,
                    value=float(p[column]),
                    measured_on=day,
                    source="clinic",
                    voided=backwards,
                    void_reason=BEFORE_BASELINE if backwards else None,
                )
            )
    return rows


async def _contact_rows(apps: Any, client: Any, zone: ZoneInfo) -> list[dict[str, Any]]:
    model = apps.get_model("models.Contact")
    found = Q(*(Q(**{f"{c}__isnull": False}) for c, _ in outcomes.CONTACT_READINGS), join_type="OR")
    contacts = await model.filter(found).using_db(client).order_by("occurred_at", "id").values(
        "id",
        "participant_id",
        "peer_leader_id",
        "occurred_at",
        "voided",
        "void_reason",
        "glucose_mmol",
        "bp_systolic",
        "bp_diastolic",
        "weight_kg",
        community_id="participant__community_id",
    )
    rows = []
    for c in contacts:
        for _column, marker, value in outcomes.contact_readings(c):
            rows.append(
                dict(
                    id=outcomes.contact_reading_id(c["id"], marker),
                    participant_id=c["participant_id"],
                    community_id=c["community_id"],
                    entered_by_id=c["peer_leader_id"],
                    contact_id=c["id"],
                    marker=marker.value,
                    value=float(value),
                    measured_on=outcomes.local_day(c["occurred_at"], zone),
                    source="self_report",
                    voided=bool(c["voided"]),
                    void_reason=c["void_reason"] if c["voided"] else None,
                )
            )
    return rows


async def move_values(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    zone = ZoneInfo(os.environ.get("PEERLOG_TIMEZONE") or DEFAULT_ZONE)
    rows = await _participant_rows(apps, client, zone) + await _contact_rows(apps, client, zone)
    first = await sequence.allocate(client, len(BUILT_IN) + len(rows))
    now = datetime.now(UTC)
    instrument = apps.get_model("models.Instrument")
    await instrument.bulk_create(
        [
            instrument(id=slug, definition=definition, seq=first + n, created_at=now, updated_at=now)
            for n, (slug, definition) in enumerate(BUILT_IN.items())
        ],
        using_db=client,
    )
    first += len(BUILT_IN)
    measurement = apps.get_model("models.Measurement")
    await measurement.bulk_create(
        [
            measurement(**row, seq=first + n, created_at=now, updated_at=now)
            for n, row in enumerate(rows)
        ],
        batch_size=BATCH,
        using_db=client,
    )


class WidenOnPostgres(ops.AlterField):
    """A longer VARCHAR. SQLite ignores the length, and altering a column there copies the
    table (the mutation log can hold millions of rows, and 0002's copy lost its indexes), so
    only PostgreSQL's column changes; the recorded schema is the same on both."""

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "postgres":
            await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "postgres":
            await super().database_backward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('models', '0009_durability')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GroupActivity',
            fields=[
                ('version', fields.IntField(default=1)),
                ('seq', fields.BigIntField(default=0, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('voided', fields.BooleanField(default=False)),
                ('void_reason', fields.CharField(null=True, max_length=200)),
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('group', fields.ForeignKeyField('models.Group', source_field='group_id', null=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('committee', fields.ForeignKeyField('models.Committee', source_field='committee_id', null=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('peer_leader', fields.ForeignKeyField('models.User', source_field='peer_leader_id', db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('channel', fields.CharField(max_length=24)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('topic', fields.CharField(null=True, max_length=200)),
                ('functions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('participants_count', fields.IntField(null=True)),
                ('residents_count', fields.IntField(null=True)),
                ('attendee_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('note', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'group_activity', 'app': 'models', 'indexes': [Index(fields=['community_id', 'seq']), Index(fields=['peer_leader_id', 'seq']), Index(fields=['group_id', 'seq']), Index(fields=['committee_id', 'seq']), Index(fields=['community_id', 'occurred_at'])], 'pk_attr': 'id', 'table_description': 'What reaches many people at once and is not a one-to-one contact: a WeChat group session,'},
            bases=['VoidableRecord'],
        ),
        ops.CreateModel(
            name='ImplementationRating',
            fields=[
                ('version', fields.IntField(default=1)),
                ('seq', fields.BigIntField(default=0, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('voided', fields.BooleanField(default=False)),
                ('void_reason', fields.CharField(null=True, max_length=200)),
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('peer_leader', fields.ForeignKeyField('models.User', source_field='peer_leader_id', null=True, db_constraint=True, to_field='id', related_name='ratings', on_delete=OnDelete.RESTRICT)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='ratings', on_delete=OnDelete.RESTRICT)),
                ('rated_by', fields.ForeignKeyField('models.User', source_field='rated_by_id', db_constraint=True, to_field='id', related_name='ratings_given', on_delete=OnDelete.RESTRICT)),
                ('period', fields.CharField(max_length=7)),
                ('being_there', fields.SmallIntField(null=True)),
                ('daily_management', fields.SmallIntField(null=True)),
                ('social_emotional', fields.SmallIntField(null=True)),
                ('linkage_to_care', fields.SmallIntField(null=True)),
                ('ongoing_support', fields.SmallIntField(null=True)),
                ('committee_use', fields.SmallIntField(null=True)),
                ('resource_linkage', fields.SmallIntField(null=True)),
                ('comment', fields.CharField(null=True, max_length=500)),
            ],
            options={'table': 'implementation_rating', 'app': 'models', 'indexes': [Index(fields=['community_id', 'seq']), Index(fields=['peer_leader_id', 'seq']), Index(fields=['community_id', 'period'])], 'pk_attr': 'id', 'table_description': "A coordinator's quarterly rating of one peer leader, or of one community: each key"},
            bases=['VoidableRecord'],
        ),
        ops.CreateModel(
            name='Instrument',
            fields=[
                ('version', fields.IntField(default=1)),
                ('seq', fields.BigIntField(default=0, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('definition', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'instrument', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A questionnaire as data (SPEC 2, "Assessment"): ``definition`` holds its title, items and'},
            bases=['SyncedRecord'],
        ),
        ops.CreateModel(
            name='Assessment',
            fields=[
                ('version', fields.IntField(default=1)),
                ('seq', fields.BigIntField(default=0, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('voided', fields.BooleanField(default=False)),
                ('void_reason', fields.CharField(null=True, max_length=200)),
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('participant', fields.ForeignKeyField('models.Participant', source_field='participant_id', db_constraint=True, to_field='id', related_name='assessments', on_delete=OnDelete.RESTRICT)),
                ('instrument', fields.ForeignKeyField('models.Instrument', source_field='instrument_id', db_constraint=True, to_field='id', related_name='assessments', on_delete=OnDelete.RESTRICT)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='assessments', on_delete=OnDelete.RESTRICT)),
                ('entered_by', fields.ForeignKeyField('models.User', source_field='entered_by_id', db_constraint=True, to_field='id', related_name='assessments', on_delete=OnDelete.RESTRICT)),
                ('time_point', fields.CharField(max_length=12)),
                ('assessed_on', fields.DateField()),
                ('answers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('score', fields.FloatField()),
                ('note', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'assessment', 'app': 'models', 'indexes': [Index(fields=['community_id', 'seq']), Index(fields=['participant_id', 'seq']), Index(fields=['participant_id', 'instrument_id', 'assessed_on']), Index(fields=['community_id', 'assessed_on'])], 'pk_attr': 'id', 'table_description': "A participant's answers to one instrument on one day, and the score the server computed"},
            bases=['VoidableRecord'],
        ),
        ops.CreateModel(
            name='Measurement',
            fields=[
                ('version', fields.IntField(default=1)),
                ('seq', fields.BigIntField(default=0, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('voided', fields.BooleanField(default=False)),
                ('void_reason', fields.CharField(null=True, max_length=200)),
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('participant', fields.ForeignKeyField('models.Participant', source_field='participant_id', db_constraint=True, to_field='id', related_name='measurements', on_delete=OnDelete.RESTRICT)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='measurements', on_delete=OnDelete.RESTRICT)),
                ('entered_by', fields.ForeignKeyField('models.User', source_field='entered_by_id', null=True, db_constraint=True, to_field='id', related_name='measurements', on_delete=OnDelete.RESTRICT)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', null=True, db_constraint=True, to_field='id', related_name='measurements', on_delete=OnDelete.RESTRICT)),
                ('marker', fields.CharField(max_length=16)),
                ('value', fields.FloatField()),
                ('measured_on', fields.DateField()),
                ('source', fields.CharField(max_length=12)),
                ('note', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'measurement', 'app': 'models', 'indexes': [Index(fields=['community_id', 'seq']), Index(fields=['participant_id', 'seq']), Index(fields=['participant_id', 'marker', 'measured_on']), Index(fields=['community_id', 'measured_on'])], 'pk_attr': 'id', 'table_description': "One dated value of one clinical marker for a participant. The participant's baseline and"},
            bases=['VoidableRecord'],
        ),
        ops.CreateModel(
            name='Supervision',
            fields=[
                ('version', fields.IntField(default=1)),
                ('seq', fields.BigIntField(default=0, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('voided', fields.BooleanField(default=False)),
                ('void_reason', fields.CharField(null=True, max_length=200)),
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('peer_leader', fields.ForeignKeyField('models.User', source_field='peer_leader_id', db_constraint=True, to_field='id', related_name='supervisions', on_delete=OnDelete.RESTRICT)),
                ('supervisor', fields.ForeignKeyField('models.User', source_field='supervisor_id', db_constraint=True, to_field='id', related_name='supervisions_given', on_delete=OnDelete.RESTRICT)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='supervisions', on_delete=OnDelete.RESTRICT)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('mode', fields.CharField(max_length=16)),
                ('topics', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('concerns', fields.CharField(null=True, max_length=500)),
                ('follow_up', fields.CharField(null=True, max_length=500)),
            ],
            options={'table': 'supervision', 'app': 'models', 'indexes': [Index(fields=['community_id', 'seq']), Index(fields=['peer_leader_id', 'seq']), Index(fields=['community_id', 'occurred_at'])], 'pk_attr': 'id', 'table_description': "A coordinator's contact with a peer leader (supervision and support of peer supporters)."},
            bases=['VoidableRecord'],
        ),
        ops.CreateModel(
            name='Training',
            fields=[
                ('version', fields.IntField(default=1)),
                ('seq', fields.BigIntField(default=0, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('voided', fields.BooleanField(default=False)),
                ('void_reason', fields.CharField(null=True, max_length=200)),
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', null=True, db_constraint=True, to_field='id', related_name='trainings', on_delete=OnDelete.RESTRICT)),
                ('trainer', fields.ForeignKeyField('models.User', source_field='trainer_id', db_constraint=True, to_field='id', related_name='trainings', on_delete=OnDelete.RESTRICT)),
                ('title', fields.CharField(max_length=200)),
                ('held_on', fields.DateField()),
                ('attendee_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('hours', fields.FloatField(null=True)),
                ('note', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'training', 'app': 'models', 'indexes': [Index(fields=['community_id', 'seq']), Index(fields=['trainer_id', 'seq']), Index(fields=['community_id', 'held_on'])], 'pk_attr': 'id', 'table_description': 'A training session for peer leaders and who attended it.'},
            bases=['VoidableRecord'],
        ),
        WidenOnPostgres(
            model_name='AuditEvent',
            name='entity',
            field=fields.CharField(null=True, max_length=32),
        ),
        WidenOnPostgres(
            model_name='Conflict',
            name='entity',
            field=fields.CharField(max_length=32),
        ),
        WidenOnPostgres(
            model_name='Mutation',
            name='entity',
            field=fields.CharField(max_length=32),
        ),
        ops.RunPython(move_values),
    ]
