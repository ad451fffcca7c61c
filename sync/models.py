"""The central store: every table Peerlog keeps, as Tortoise models.

Synced records (participant, contact, group meeting, group, and the evaluation records:
measurement, instrument, assessment, group activity, supervision, training, implementation
rating) carry a server-owned ``version``
(1 on creation) and ``seq``: the value of the global change sequence at their last write. A pull
page is one range scan on ``seq`` within the user's scope, so every synced table indexes
(scope column, seq).

``seq`` is allocated from ``ChangeCounter`` inside the writing transaction (``UPDATE ... RETURNING``),
which holds the counter row's lock until commit: sequence numbers therefore become visible in the
order they were allocated, and a cursor past ``seq = n`` never skips a row committed later with a
smaller number.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Role(StrEnum):
    PEER_LEADER = "peer_leader"
    VOLUNTEER = "volunteer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class ParticipantStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    MOVED = "moved"
    WITHDRAWN = "withdrawn"
    DECEASED = "deceased"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class ContactMode(StrEnum):
    HOME_VISIT = "home_visit"
    PHONE_CALL = "phone_call"
    TEXT_MESSAGE = "text_message"
    WECHAT_GROUP = "wechat_group"
    GROUP_MEETING = "group_meeting"
    WALK_OR_EXERCISE = "walk_or_exercise"
    SHOPPING_OR_COOKING = "shopping_or_cooking"
    CLINIC_ACCOMPANIMENT = "clinic_accompaniment"
    COMMUNITY_ASSISTANCE = "community_assistance"


class KeyFunction(StrEnum):
    BEING_THERE = "being_there"
    DAILY_MANAGEMENT = "daily_management"
    SOCIAL_EMOTIONAL = "social_emotional"
    LINKAGE_TO_CARE = "linkage_to_care"
    ONGOING_SUPPORT = "ongoing_support"


class Referral(StrEnum):
    NONE = "none"
    ROUTINE = "routine"
    URGENT = "urgent"


class Marker(StrEnum):
    """A clinical marker a measurement holds, with its unit (SPEC 2, "Measurement")."""

    HBA1C = "hba1c"  # %
    BP_SYSTOLIC = "bp_systolic"  # mmHg
    BP_DIASTOLIC = "bp_diastolic"  # mmHg
    WEIGHT = "weight"  # kg
    GLUCOSE = "glucose"  # mmol/L


class MeasurementSource(StrEnum):
    CLINIC = "clinic"
    SELF_REPORT = "self_report"


class TimePoint(StrEnum):
    BASELINE = "baseline"
    FOLLOW_UP = "follow_up"
    OTHER = "other"


class ActivityChannel(StrEnum):
    WECHAT_GROUP = "wechat_group"
    NEIGHBOURHOOD_ACTIVITY = "neighbourhood_activity"
    COMMUNITY_ASSISTANCE = "community_assistance"


class SupervisionMode(StrEnum):
    IN_PERSON = "in_person"
    PHONE_CALL = "phone_call"
    WECHAT = "wechat"
    GROUP_SESSION = "group_session"


class ConflictStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class MutationStatus(StrEnum):
    APPLIED = "applied"
    MERGED = "merged"
    CONFLICT = "conflict"
    REJECTED = "rejected"


# --- places and people -------------------------------------------------------------------------


class Community(Model):
    """A community, served by one community health centre."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=120)
    code = fields.CharField(max_length=32, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "community"


class Committee(Model):
    """A neighbourhood residential committee within a community."""

    id = fields.UUIDField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="committees", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=120)
    code = fields.CharField(max_length=32, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "committee"


class User(Model):
    """Anyone who signs in. Passkeys only: there is no password column, on purpose."""

    id = fields.UUIDField(primary_key=True)
    display_name = fields.CharField(max_length=120)
    # Unique handle used by the command line (`peerlog invite NAME`).
    username = fields.CharField(max_length=64, unique=True)
    role = fields.CharEnumField(Role, max_length=16)
    community: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="users", null=True, on_delete=fields.RESTRICT
    )
    # A volunteer's residential committee (their roster).
    committee: fields.ForeignKeyNullableRelation[Committee] = fields.ForeignKeyField(
        "models.Committee", related_name="volunteers", null=True, on_delete=fields.RESTRICT
    )
    is_active = fields.BooleanField(default=True)
    locale = fields.CharField(max_length=8, default="zh-CN")
    # Bumped whenever the user's scope changes: cursors carry it, so a stale cursor means resync.
    scope_token = fields.IntField(default=1)
    # WebAuthn user handle (random, never the primary key or a name).
    webauthn_handle = fields.BinaryField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    deactivated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"


class Group(Model):
    """A community self-management group, led by one or two peer leaders. Synced (read-only)."""

    id = fields.UUIDField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="groups", on_delete=fields.RESTRICT
    )
    committee: fields.ForeignKeyNullableRelation[Committee] = fields.ForeignKeyField(
        "models.Committee", related_name="groups", null=True, on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=120)
    leader: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="led_groups", null=True, on_delete=fields.RESTRICT
    )
    co_leader: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="co_led_groups", null=True, on_delete=fields.RESTRICT
    )
    version = fields.IntField(default=1)
    seq = fields.BigIntField(default=0, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "peer_group"
        indexes = (Index(fields=("community_id", "seq")),)


# --- synced records ----------------------------------------------------------------------------


class Participant(Model):
    id = fields.UUIDField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    full_name = fields.CharField(max_length=120)
    sex = fields.CharField(max_length=8, null=True)
    birth_year = fields.IntField(null=True)
    phone = fields.CharField(max_length=32, null=True)
    address = fields.CharField(max_length=200, null=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="participants", on_delete=fields.RESTRICT
    )
    committee: fields.ForeignKeyRelation[Committee] = fields.ForeignKeyField(
        "models.Committee", related_name="participants", on_delete=fields.RESTRICT
    )
    group: fields.ForeignKeyNullableRelation[Group] = fields.ForeignKeyField(
        "models.Group", related_name="participants", null=True, on_delete=fields.RESTRICT
    )
    peer_leader: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="participants", null=True, on_delete=fields.RESTRICT
    )
    enrolled_on = fields.DateField(null=True)
    consent_on = fields.DateField(null=True)
    status = fields.CharField(max_length=16, default=ParticipantStatus.ACTIVE.value)
    conditions: fields.Field[list[str]] = fields.JSONField(default=list)
    hba1c_baseline = fields.FloatField(null=True)
    hba1c_baseline_on = fields.DateField(null=True)
    hba1c = fields.FloatField(null=True)
    hba1c_on = fields.DateField(null=True)
    bp_systolic = fields.IntField(null=True)
    bp_diastolic = fields.IntField(null=True)
    bp_on = fields.DateField(null=True)
    weight_kg = fields.FloatField(null=True)
    weight_on = fields.DateField(null=True)
    needs_visit = fields.BooleanField(default=False)
    needs_visit_reason = fields.CharField(max_length=200, null=True)
    notes = fields.TextField(null=True)
    # Server-maintained from contacts (read-only on the wire): rosters show them without contacts.
    last_contact_at = fields.DatetimeField(null=True)
    next_follow_up_on = fields.DateField(null=True)
    version = fields.IntField(default=1)
    seq = fields.BigIntField(default=0, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "participant"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("committee_id", "seq")),
            Index(fields=("peer_leader_id", "seq")),
            Index(fields=("group_id", "seq")),
        )


class GroupMeeting(Model):
    id = fields.UUIDField(primary_key=True)
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "models.Group", related_name="meetings", on_delete=fields.RESTRICT
    )
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="meetings", on_delete=fields.RESTRICT
    )
    # The author: the peer leader who logged the meeting.
    peer_leader: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="meetings", on_delete=fields.RESTRICT
    )
    occurred_at = fields.DatetimeField()
    place = fields.CharField(max_length=200, null=True)
    topic = fields.CharField(max_length=200, null=True)
    co_leader = fields.CharField(max_length=120, null=True)
    attendee_ids: fields.Field[list[str]] = fields.JSONField(default=list)
    note = fields.TextField(null=True)
    voided = fields.BooleanField(default=False)
    void_reason = fields.CharField(max_length=200, null=True)
    version = fields.IntField(default=1)
    seq = fields.BigIntField(default=0, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "group_meeting"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("group_id", "seq")),
            Index(fields=("community_id", "occurred_at")),
        )


class Contact(Model):
    """One contact between a peer leader and a participant: the core record."""

    id = fields.UUIDField(primary_key=True)
    participant: fields.ForeignKeyRelation[Participant] = fields.ForeignKeyField(
        "models.Participant", related_name="contacts", on_delete=fields.RESTRICT
    )
    # The author, set by the server from the signed-in user.
    peer_leader: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="contacts", on_delete=fields.RESTRICT
    )
    # Denormalised from the participant so scope scans and reports need no join.
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="contacts", on_delete=fields.RESTRICT
    )
    # Set when the contact was expanded from a group meeting's attendance.
    meeting: fields.ForeignKeyNullableRelation[GroupMeeting] = fields.ForeignKeyField(
        "models.GroupMeeting", related_name="contacts", null=True, on_delete=fields.RESTRICT
    )
    occurred_at = fields.DatetimeField()
    mode = fields.CharField(max_length=24)
    duration_min = fields.IntField(null=True)
    functions: fields.Field[list[str]] = fields.JSONField(default=list)
    topics: fields.Field[list[str]] = fields.JSONField(default=list)
    referral = fields.CharField(max_length=8, default=Referral.NONE.value)
    referral_reason = fields.CharField(max_length=200, null=True)
    referral_to = fields.CharField(max_length=120, null=True)
    glucose_mmol = fields.FloatField(null=True)
    bp_systolic = fields.IntField(null=True)
    bp_diastolic = fields.IntField(null=True)
    weight_kg = fields.FloatField(null=True)
    follow_up_on = fields.DateField(null=True)
    note = fields.TextField(null=True)
    voided = fields.BooleanField(default=False)
    void_reason = fields.CharField(max_length=200, null=True)
    version = fields.IntField(default=1)
    seq = fields.BigIntField(default=0, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "contact"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("peer_leader_id", "seq")),
            Index(fields=("participant_id", "occurred_at")),
            Index(fields=("community_id", "occurred_at")),
        )


# --- evaluation records (SPEC 2; the contract is RECORDS.md) -----------------------------------
#
# Like contacts: a UUID made where the record is made, the server-owned ``version`` and ``seq``,
# voided with a reason rather than deleted, and ``community_id`` denormalised so that a
# coordinator's pull is one range scan on (community_id, seq).


class SyncedRecord(Model):
    """The columns the sync engine keeps on every record it sends: ``version`` (1 on
    creation), ``seq`` (the change sequence at the last write) and the times."""

    version = fields.IntField(default=1)
    seq = fields.BigIntField(default=0, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class VoidableRecord(SyncedRecord):
    """A record its author voids, with a reason, instead of deleting it."""

    voided = fields.BooleanField(default=False)
    void_reason = fields.CharField(max_length=200, null=True)

    class Meta:
        abstract = True


class Measurement(VoidableRecord):
    """One dated value of one clinical marker for a participant. The participant's baseline and
    latest values are derived from these rows (``sync.outcomes``), never overwritten. One
    blood-pressure reading is two rows (``bp_systolic``, ``bp_diastolic``) on the same day."""

    id = fields.UUIDField(primary_key=True)
    participant: fields.ForeignKeyRelation[Participant] = fields.ForeignKeyField(
        "models.Participant", related_name="measurements", on_delete=fields.RESTRICT
    )
    # Denormalised from the participant (server-set), for scope scans and reports.
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="measurements", on_delete=fields.RESTRICT
    )
    # The signed-in user who entered it; null for values carried over from the participant's
    # columns by migration 0010 (nobody recorded who typed them).
    entered_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="measurements", null=True, on_delete=fields.RESTRICT
    )
    # Set when the value was reported on a contact (``source`` is then ``self_report``).
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="measurements", null=True, on_delete=fields.RESTRICT
    )
    marker = fields.CharField(max_length=16)
    value = fields.FloatField()
    measured_on = fields.DateField()
    source = fields.CharField(max_length=12)
    note = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "measurement"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("participant_id", "seq")),
            # Deriving one participant's baseline and latest per marker.
            Index(fields=("participant_id", "marker", "measured_on")),
            Index(fields=("community_id", "measured_on")),
        )


class Instrument(SyncedRecord):
    """A questionnaire as data (SPEC 2, "Assessment"): ``definition`` holds its title, items and
    their wording in zh-CN and English, the answer scale, the scoring rule and an optional
    cut-off (``sync.instruments`` documents the shape and holds the built-in ones). Read-only
    on the wire; ``version`` goes up whenever the definition changes."""

    id = fields.CharField(max_length=32, primary_key=True)  # a slug: ``dds2``, ``nbsupport``
    definition: fields.Field[dict[str, Any]] = fields.JSONField()
    active = fields.BooleanField(default=True)

    class Meta:
        table = "instrument"


class Assessment(VoidableRecord):
    """A participant's answers to one instrument on one day, and the score the server computed
    from them by the instrument's rule (never the phone's)."""

    id = fields.UUIDField(primary_key=True)
    participant: fields.ForeignKeyRelation[Participant] = fields.ForeignKeyField(
        "models.Participant", related_name="assessments", on_delete=fields.RESTRICT
    )
    instrument: fields.ForeignKeyRelation[Instrument] = fields.ForeignKeyField(
        "models.Instrument", related_name="assessments", on_delete=fields.RESTRICT
    )
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="assessments", on_delete=fields.RESTRICT
    )
    entered_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="assessments", on_delete=fields.RESTRICT
    )
    time_point = fields.CharField(max_length=12)
    assessed_on = fields.DateField()
    # Item id → the integer answered, every item of the instrument present.
    answers: fields.Field[dict[str, int]] = fields.JSONField(default=dict)
    score = fields.FloatField()
    note = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "assessment"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("participant_id", "seq")),
            Index(fields=("participant_id", "instrument_id", "assessed_on")),
            Index(fields=("community_id", "assessed_on")),
        )


class GroupActivity(VoidableRecord):
    """What reaches many people at once and is not a one-to-one contact: a WeChat group session,
    a neighbourhood activity, community assistance. For one group or one committee (exactly one
    of the two); its own kind of dose, never a contact per person."""

    id = fields.UUIDField(primary_key=True)
    group: fields.ForeignKeyNullableRelation[Group] = fields.ForeignKeyField(
        "models.Group", related_name="activities", null=True, on_delete=fields.RESTRICT
    )
    committee: fields.ForeignKeyNullableRelation[Committee] = fields.ForeignKeyField(
        "models.Committee", related_name="activities", null=True, on_delete=fields.RESTRICT
    )
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="activities", on_delete=fields.RESTRICT
    )
    # The author, set by the server from the signed-in user.
    peer_leader: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="activities", on_delete=fields.RESTRICT
    )
    channel = fields.CharField(max_length=24)
    occurred_at = fields.DatetimeField()
    topic = fields.CharField(max_length=200, null=True)
    functions: fields.Field[list[str]] = fields.JSONField(default=list)
    participants_count = fields.IntField(null=True)
    residents_count = fields.IntField(null=True)
    attendee_ids: fields.Field[list[str]] = fields.JSONField(default=list)
    note = fields.TextField(null=True)

    class Meta:
        table = "group_activity"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("peer_leader_id", "seq")),
            Index(fields=("group_id", "seq")),
            Index(fields=("committee_id", "seq")),
            Index(fields=("community_id", "occurred_at")),
        )


class Supervision(VoidableRecord):
    """A coordinator's contact with a peer leader (supervision and support of peer supporters).
    Staff only: peer leaders never receive it."""

    id = fields.UUIDField(primary_key=True)
    peer_leader: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="supervisions", on_delete=fields.RESTRICT
    )
    # The author, set by the server.
    supervisor: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="supervisions_given", on_delete=fields.RESTRICT
    )
    # The peer leader's community (server-set).
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="supervisions", on_delete=fields.RESTRICT
    )
    occurred_at = fields.DatetimeField()
    mode = fields.CharField(max_length=16)
    topics: fields.Field[list[str]] = fields.JSONField(default=list)
    concerns = fields.CharField(max_length=500, null=True)
    follow_up = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "supervision"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("peer_leader_id", "seq")),
            Index(fields=("community_id", "occurred_at")),
        )


class Training(VoidableRecord):
    """A training session for peer leaders and who attended it."""

    id = fields.UUIDField(primary_key=True)
    # The coordinator's community (server-set); null for a session an administrator held for
    # the whole program.
    community: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="trainings", null=True, on_delete=fields.RESTRICT
    )
    # The author, set by the server.
    trainer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="trainings", on_delete=fields.RESTRICT
    )
    title = fields.CharField(max_length=200)
    held_on = fields.DateField()
    # Peer leaders' user ids.
    attendee_ids: fields.Field[list[str]] = fields.JSONField(default=list)
    hours = fields.FloatField(null=True)
    note = fields.TextField(null=True)

    class Meta:
        table = "training"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("trainer_id", "seq")),
            Index(fields=("community_id", "held_on")),
        )


class ImplementationRating(VoidableRecord):
    """A coordinator's quarterly rating of one peer leader, or of one community: each key
    function, use of the residential committee and linkage to community resources, 1–5 or null
    (not rated). The subject is the peer leader when ``peer_leader_id`` is set, else the
    community; ``community_id`` is always set (the peer leader's community), so a coordinator's
    pull finds both kinds with one scan."""

    id = fields.UUIDField(primary_key=True)
    peer_leader: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="ratings", null=True, on_delete=fields.RESTRICT
    )
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="ratings", on_delete=fields.RESTRICT
    )
    rated_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="ratings_given", on_delete=fields.RESTRICT
    )
    period = fields.CharField(max_length=7)  # YYYY-Qn
    being_there = fields.SmallIntField(null=True)
    daily_management = fields.SmallIntField(null=True)
    social_emotional = fields.SmallIntField(null=True)
    linkage_to_care = fields.SmallIntField(null=True)
    ongoing_support = fields.SmallIntField(null=True)
    committee_use = fields.SmallIntField(null=True)
    resource_linkage = fields.SmallIntField(null=True)
    comment = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "implementation_rating"
        indexes = (
            Index(fields=("community_id", "seq")),
            Index(fields=("peer_leader_id", "seq")),
            Index(fields=("community_id", "period")),
        )


# --- the sync engine's own tables --------------------------------------------------------------


class ChangeCounter(Model):
    """The global change sequence: one row, incremented inside each writing transaction."""

    name = fields.CharField(max_length=32, primary_key=True)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "change_counter"


class DatabaseGeneration(Model):
    """One row each time the database is restored from a copy (``peerlog restore``,
    ``peerlog after-restore``). The newest row's ``generation`` goes into every pull cursor: a
    cursor from before the restore belongs to another generation, and its phone fetches its
    whole scope again instead of skipping the changes numbered again (SPEC 3). No row yet: the
    database's first generation, ``""``."""

    id = fields.IntField(primary_key=True)
    generation = fields.CharField(max_length=36, unique=True)
    started_at = fields.DatetimeField(auto_now_add=True)
    # How the restore was made: ``restore`` (peerlog restore FILE) or ``after-restore``.
    reason = fields.CharField(max_length=32)

    class Meta:
        table = "database_generation"


class Mutation(Model):
    """One row per received mutation: the per-device mutation log, the version history of the
    record it wrote (``changes`` holds each field's old and new value at ``version``; a
    creation's values are the record's own), the result sent back,
    and the mutation's audit event (actor, device, action ``sync.<status>``, record, time and
    request id). The audit log page shows these rows beside ``audit_event``, and never shows
    the values in ``changes``, only their field names."""

    id = fields.BigIntField(primary_key=True)
    # No foreign-key constraints on the log: the push writes ids it has just read and locked,
    # users and devices are never deleted (they are switched off and revoked), and two checks
    # per row were a third of the cost of writing a 500-row log (BENCHMARKS.md).
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="mutations", on_delete=fields.RESTRICT, db_constraint=False
    )
    mutation_id = fields.BigIntField()
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="mutations", on_delete=fields.RESTRICT, db_constraint=False
    )
    entity = fields.CharField(max_length=32)
    record_id = fields.UUIDField()
    base_version = fields.IntField(default=0)
    # The record's version after this mutation; null when rejected.
    version = fields.IntField(null=True)
    status = fields.CharField(max_length=10)
    # Null for a creation, and only for one: its values are the record's at version 1 (the
    # record now, with the later versions' changes undone). Any other row has its changes, or
    # ``{}`` (a rejection, an edit that changed nothing).
    changes: fields.Field[dict[str, Any] | None] = fields.JSONField(null=True)
    # Null when the result sent back is only the columns (mutation id, record, status,
    # version); kept when it carries errors or a conflict id.
    result: fields.Field[dict[str, Any] | None] = fields.JSONField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    request_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "mutation"
        unique_together = (("device_id", "mutation_id"),)
        # And ``idx_mutation_record_edits`` on (record_id, version) WHERE NOT changes IS NULL:
        # every row but creations, for a stale edit's history and the audit page's record
        # filter (made by migration 0011: Tortoise's options cannot say IS NOT NULL).
        indexes = (Index(fields=("user_id", "received_at")),)


class Conflict(Model):
    id = fields.UUIDField(primary_key=True)
    entity = fields.CharField(max_length=32)
    record_id = fields.UUIDField(db_index=True)
    base_version = fields.IntField()
    server_version = fields.IntField()
    # {field: {"base": …, "server": …, "device": …}}
    fields_json: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="conflicts", on_delete=fields.RESTRICT
    )
    device: fields.ForeignKeyNullableRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="conflicts", null=True, on_delete=fields.RESTRICT
    )
    community: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="conflicts", null=True, on_delete=fields.RESTRICT
    )
    mutation_id = fields.BigIntField(null=True)
    status = fields.CharField(max_length=10, default=ConflictStatus.OPEN.value, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="resolved_conflicts", null=True, on_delete=fields.RESTRICT
    )
    resolved_at = fields.DatetimeField(null=True)
    # {field: {"choice": "server" | "device" | "value", "value": …}}
    resolution: fields.Field[dict[str, Any] | None] = fields.JSONField(null=True)

    class Meta:
        table = "conflict"


class AuditEvent(Model):
    """Append-only. Never holds health data: ids, actions and counts only."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="audit_events", null=True, on_delete=fields.RESTRICT
    )
    device_id = fields.UUIDField(null=True)
    action = fields.CharField(max_length=48, db_index=True)
    entity = fields.CharField(max_length=32, null=True)
    record_id = fields.CharField(max_length=64, null=True, db_index=True)
    request_id = fields.CharField(max_length=64, null=True)
    detail: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "audit_event"


# --- sign-in -----------------------------------------------------------------------------------


class Device(Model):
    """A phone or browser, identified by the UUID it made for itself on first start."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="devices", on_delete=fields.RESTRICT
    )
    label = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)
    last_sync_at = fields.DatetimeField(null=True)
    last_mutation_id = fields.BigIntField(default=0)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="revoked_devices", null=True, on_delete=fields.RESTRICT
    )
    # The phone's last outbox report (SPEC 3, ``sync.outbox``): records waiting, the oldest's time.
    outbox_waiting = fields.IntField(null=True)
    outbox_oldest_at = fields.DatetimeField(null=True)
    outbox_reported_at = fields.DatetimeField(null=True)
    # Something the phone's user must be told at its next sync (``X-Peerlog-Notice`` on the
    # pull): ``invite`` = an administrator made a new invite for this already-enrolled user
    # (SPEC 5). Sent while fresh; the phone remembers which one it has shown.
    notice = fields.CharField(max_length=32, null=True)
    notice_at = fields.DatetimeField(null=True)

    class Meta:
        table = "device"


class Credential(Model):
    """A WebAuthn passkey."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="credentials", on_delete=fields.RESTRICT
    )
    credential_id = fields.CharField(max_length=1400, unique=True)  # base64url
    public_key = fields.BinaryField()
    sign_count = fields.BigIntField(default=0)
    transports: fields.Field[list[str]] = fields.JSONField(default=list)
    aaguid = fields.CharField(max_length=64, null=True)
    backup_eligible = fields.BooleanField(default=False)
    backed_up = fields.BooleanField(default=False)
    name = fields.CharField(max_length=120, default="Passkey")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "credential"


class DeviceKey(Model):
    """A device key (SPEC 5): the public half of a non-extractable ECDSA P-256 key a phone that
    cannot make a passkey made with WebCrypto. Bound to one device for good; revoking the device
    revokes the key."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="device_keys", on_delete=fields.RESTRICT
    )
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="keys", on_delete=fields.RESTRICT
    )
    public_key = fields.BinaryField()  # SubjectPublicKeyInfo (DER), as WebCrypto exports "spki"
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "device_key"


class Invite(Model):
    id = fields.UUIDField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invites", on_delete=fields.RESTRICT
    )
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invites_created", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "invite"


class Session(Model):
    """A signed-in browser. The cookie holds a random token, and only its SHA-256 is stored here."""

    id = fields.CharField(max_length=64, primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    device: fields.ForeignKeyNullableRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="sessions", null=True, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "session"


class Challenge(Model):
    """A WebAuthn challenge: single use, short-lived, kept server-side for multi-process serving."""

    id = fields.UUIDField(primary_key=True)
    challenge = fields.CharField(max_length=128, unique=True)  # base64url
    purpose = fields.CharField(max_length=16)  # register | login | add_passkey
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="challenges", null=True, on_delete=fields.CASCADE
    )
    invite: fields.ForeignKeyNullableRelation[Invite] = fields.ForeignKeyField(
        "models.Invite", related_name="challenges", null=True, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "challenge"


class RateLimit(Model):
    """Fixed-window counters shared by every server process."""

    key = fields.CharField(max_length=128, primary_key=True)
    window_start = fields.DatetimeField()
    count = fields.IntField(default=0)

    class Meta:
        table = "rate_limit"


# --- administration ----------------------------------------------------------------------------


class ImportUpload(Model):
    """A participant CSV between its preview and its confirmation (``server/admin/importer.py``).

    In the database, not on a server's disk, so that any process behind the balancer can confirm
    it. It holds names and phones: the uploaded bytes go once it is confirmed, and the row, with
    the rejected rows kept for their download, goes when it expires (a day)."""

    id = fields.CharField(max_length=64, primary_key=True)  # the random token in the page's URLs
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="import_uploads", on_delete=fields.CASCADE
    )
    data = fields.BinaryField(null=True)  # the file as uploaded; null once confirmed
    rejected_csv = fields.BinaryField()  # what the "rejected rows" link downloads
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    confirmed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "import_upload"


class ReferralFollowUp(Model):
    """Staff working through urgent referrals (``/admin/referrals``): a contact's urgent referral
    marked handled, by whom, when, with a note (what was done: called, appointment made).

    Kept beside the contact, not in it: it is the health centre's worklist, not the peer
    leader's record, so it is never synced to phones and never conflicts with their edits. The
    note may hold health details: it is shown on the worklist only, never logged or audited."""

    id = fields.BigIntField(primary_key=True)
    contact: fields.OneToOneRelation[Contact] = fields.OneToOneField(
        "models.Contact", related_name="follow_up", on_delete=fields.CASCADE
    )
    handled_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="referrals_handled", on_delete=fields.RESTRICT
    )
    handled_at = fields.DatetimeField()
    note = fields.TextField(null=True)

    class Meta:
        table = "referral_follow_up"
