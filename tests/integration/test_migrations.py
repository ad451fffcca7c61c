"""The versioned migrations build the whole schema on an empty SQLite or PostgreSQL database, and
every model's values come back as they were written (types that differ between the two backends:
UUIDs, JSON, bytes, big integers, dates and time-zone-aware datetimes)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise, connections
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.models import Model

from sync import db as sync_db
from sync import sequence
from sync.instruments import BUILT_IN
from sync.log import logged_result
from sync.models import (
    Assessment,
    AuditEvent,
    Challenge,
    Committee,
    Community,
    Conflict,
    Contact,
    Credential,
    Device,
    Group,
    GroupActivity,
    GroupMeeting,
    ImplementationRating,
    ImportUpload,
    Instrument,
    Invite,
    Measurement,
    Mutation,
    Participant,
    RateLimit,
    Role,
    Session,
    Supervision,
    Training,
    User,
)
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 11, 20, 1, 30, 15, 250000, tzinfo=UTC)


def _models() -> list[type[Model]]:
    return list(Tortoise.apps["models"].values())


async def _columns(table: str) -> set[str]:
    conn = connections.get("default")
    if sync_db.dialect() == "sqlite":
        rows = await conn.execute_query_dict(f"PRAGMA table_info({table})")
        return {r["name"] for r in rows}
    rows = await conn.execute_query_dict(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1", [table]
    )
    return {r["column_name"] for r in rows}


async def test_migrations_create_every_table_and_column_on_an_empty_database(
    database_url: str,
) -> None:
    await sync_db.migrate(database_url)
    await sync_db.init(database_url)
    try:
        models = _models()
        assert len(models) >= 24
        for model in models:
            table = model._meta.db_table
            assert await _columns(table) == set(model._meta.db_fields), table
        assert await _columns("tortoise_migrations")
    finally:
        await sync_db.close()


async def _round_trip(model: type[Model], **values: Any) -> Model:
    """Write a row with these values, read it back in a fresh query, and compare every value."""
    written = await model.create(**values)
    again = await model.get(pk=written.pk)
    for name, value in values.items():
        got = getattr(again, name)
        assert got == value, f"{model.__name__}.{name}: wrote {value!r}, read {got!r}"
    return again


async def test_every_model_round_trips(db: str) -> None:
    community = await _round_trip(Community, id=uuid.uuid4(), name="长风街道", code="CF")
    committee = await _round_trip(
        Committee, id=uuid.uuid4(), community_id=community.pk, name="华阳新村居委会", code="CF-01"
    )
    leader = await _round_trip(
        User,
        id=uuid.uuid4(),
        username="peer",
        display_name="沈秀英",
        role=Role.PEER_LEADER,
        community_id=community.pk,
        webauthn_handle=bytes(range(32)),
        scope_token=3,
    )
    admin = await _round_trip(
        User, id=uuid.uuid4(), username="admin", display_name="管理员", role=Role.ADMIN
    )
    group = await _round_trip(
        Group,
        id=uuid.uuid4(),
        community_id=community.pk,
        committee_id=committee.pk,
        name="华阳自我管理小组",
        leader_id=leader.pk,
        version=2,
        seq=9_000_000_000,
    )
    participant = await _round_trip(
        Participant,
        id=uuid.uuid4(),
        code="CF00001",
        full_name="王建国",
        sex="male",
        birth_year=1953,
        phone="13912345678",
        address="大渡河路1043弄5号602室",
        community_id=community.pk,
        committee_id=committee.pk,
        group_id=group.pk,
        peer_leader_id=leader.pk,
        enrolled_on=date(2026, 5, 1),
        consent_on=date(2026, 4, 28),
        status="active",
        conditions=["type_2_diabetes", "hypertension"],
        hba1c_baseline=9.1,
        hba1c=8.4,
        hba1c_on=date(2026, 11, 1),
        bp_systolic=142,
        bp_diastolic=88,
        weight_kg=68.5,
        needs_visit=True,
        needs_visit_reason="连续两次电话未接通",
        notes="听力不好",
        last_contact_at=WHEN,
        next_follow_up_on=date(2026, 11, 27),
    )
    meeting = await _round_trip(
        GroupMeeting,
        id=uuid.uuid4(),
        group_id=group.pk,
        community_id=community.pk,
        peer_leader_id=leader.pk,
        occurred_at=WHEN,
        place="居委会活动室",
        topic="低血糖的识别与处理",
        attendee_ids=[str(participant.pk)],
        voided=True,
        void_reason="重复记录",
    )
    await _round_trip(
        Contact,
        id=uuid.uuid4(),
        participant_id=participant.pk,
        peer_leader_id=leader.pk,
        community_id=community.pk,
        meeting_id=meeting.pk,
        occurred_at=WHEN,
        mode="group_meeting",
        duration_min=90,
        functions=["daily_management", "social_emotional"],
        topics=["hypoglycaemia"],
        referral="urgent",
        referral_reason="自测血糖过低",
        referral_to="hospital",
        glucose_mmol=3.1,
        bp_systolic=185,
        bp_diastolic=112,
        weight_kg=60.2,
        follow_up_on=date(2026, 11, 21),
        note="已陪同就医",
    )
    device = await _round_trip(
        Device,
        id=uuid.uuid4(),
        user_id=leader.pk,
        label="Android · Chrome",
        last_seen_at=WHEN,
        last_mutation_id=2**40,
    )
    await _round_trip(
        Mutation,
        device_id=device.pk,
        mutation_id=2**40,
        user_id=leader.pk,
        entity="participant",
        record_id=participant.pk,
        base_version=1,
        version=2,
        status="merged",
        changes={"phone": "13812345678", "needs_visit": False},
        result={"mutation_id": 2**40, "status": "merged", "version": 2},
    )
    await _round_trip(
        Conflict,
        id=uuid.uuid4(),
        entity="participant",
        record_id=participant.pk,
        base_version=1,
        server_version=3,
        fields_json={"phone": {"base": None, "server": "139", "device": "138"}},
        user_id=leader.pk,
        device_id=device.pk,
        community_id=community.pk,
        status="resolved",
        resolved_by_id=admin.pk,
        resolved_at=WHEN,
        resolution={"phone": {"choice": "device", "value": None}},
    )
    await _round_trip(
        AuditEvent,
        actor_id=admin.pk,
        device_id=device.pk,
        action="conflict.resolved",
        entity="participant",
        record_id=str(participant.pk),
        request_id="f" * 32,
        detail={"fields": 1},
    )
    await _round_trip(
        Credential,
        id=uuid.uuid4(),
        user_id=leader.pk,
        credential_id="A" * 1300,
        public_key=b"\x00\xffkey",
        sign_count=2**32 + 1,
        transports=["internal", "hybrid"],
        backup_eligible=True,
        backed_up=True,
        last_used_at=WHEN,
    )
    invite = await _round_trip(
        Invite,
        id=uuid.uuid4(),
        code="K7P2-9QXD",
        user_id=leader.pk,
        created_by_id=admin.pk,
        expires_at=WHEN + timedelta(days=7),
    )
    await _round_trip(
        Session,
        id="a" * 64,
        user_id=leader.pk,
        device_id=device.pk,
        last_seen_at=WHEN,
        expires_at=WHEN + timedelta(days=14),
    )
    await _round_trip(
        Challenge,
        id=uuid.uuid4(),
        challenge="c" * 86,
        purpose="register",
        invite_id=invite.pk,
        expires_at=WHEN + timedelta(minutes=5),
        used_at=WHEN,
    )
    await _round_trip(RateLimit, key="login:203.0.113.9", window_start=WHEN, count=7)
    await _round_trip(
        ImportUpload,
        id="k" * 43,
        owner_id=admin.pk,
        data="code,full_name\r\nP-1,张伟\r\n".encode("gb18030"),
        rejected_csv=b"\xef\xbb\xbfline,reason\r\n",
        expires_at=WHEN + timedelta(days=1),
        confirmed_at=None,
    )
    await _round_trip_evaluation_records(community, committee, group, leader, admin, participant)


async def _round_trip_evaluation_records(
    community: Model,
    committee: Model,
    group: Model,
    leader: Model,
    admin: Model,
    participant: Model,
) -> None:
    contact = await Contact.filter(participant_id=participant.pk).first()
    assert contact is not None
    await _round_trip(
        Measurement,
        id=uuid.uuid4(),
        participant_id=participant.pk,
        community_id=community.pk,
        entered_by_id=leader.pk,
        contact_id=contact.pk,
        marker="glucose",
        value=3.1,
        measured_on=date(2026, 11, 20),
        source="self_report",
        note="餐后两小时",
        voided=True,
        void_reason="录错了",
        version=2,
        seq=2**40,
    )
    instrument = await _round_trip(
        Instrument,
        id="who5",
        definition={"title": {"zh-CN": "幸福感", "en": "Well-being"}, "items": [], "scale": {}},
        active=False,
        version=3,
    )
    await _round_trip(
        Assessment,
        id=uuid.uuid4(),
        participant_id=participant.pk,
        instrument_id=instrument.pk,
        community_id=community.pk,
        entered_by_id=leader.pk,
        time_point="follow_up",
        assessed_on=date(2026, 11, 21),
        answers={"dds2_1": 4, "dds2_2": 3},
        score=3.5,
    )
    await _round_trip(
        GroupActivity,
        id=uuid.uuid4(),
        group_id=group.pk,
        committee_id=None,
        community_id=community.pk,
        peer_leader_id=leader.pk,
        channel="wechat_group",
        occurred_at=WHEN,
        topic="春节饮食",
        functions=["daily_management", "ongoing_support"],
        participants_count=11,
        residents_count=4000,
        attendee_ids=[str(participant.pk)],
    )
    await _round_trip(
        Supervision,
        id=uuid.uuid4(),
        peer_leader_id=leader.pk,
        supervisor_id=admin.pk,
        community_id=community.pk,
        occurred_at=WHEN,
        mode="wechat",
        topics=["burnout"],
        concerns="组员流失" * 100,
        follow_up="下周再聊",
    )
    await _round_trip(
        Training,
        id=uuid.uuid4(),
        community_id=None,
        trainer_id=admin.pk,
        title="低血糖的识别",
        held_on=date(2026, 10, 9),
        attendee_ids=[str(leader.pk)],
        hours=2.5,
    )
    await _round_trip(
        ImplementationRating,
        id=uuid.uuid4(),
        peer_leader_id=leader.pk,
        community_id=community.pk,
        rated_by_id=admin.pk,
        period="2026-Q4",
        being_there=5,
        daily_management=1,
        committee_use=None,
        comment="居委会配合很好",
    )


async def test_the_change_counter_counts_on_from_the_built_in_rows(db: str) -> None:
    """The migrations number the rows they write (the built-in instruments) like any write."""
    conn = connections.get("default")
    seeded = len(BUILT_IN)
    assert await sequence.current(conn) == seeded
    assert await sequence.allocate(conn, 3) == seeded + 1
    assert await sequence.current(conn) == seeded + 3


async def test_foreign_keys_are_enforced(db: str) -> None:
    # SQLite only enforces them with `PRAGMA foreign_keys = ON`; both backends must refuse an
    # orphan, or a bad push could store a contact for a participant that does not exist.
    with pytest.raises((IntegrityError, OperationalError)):
        await Committee.create(id=uuid.uuid4(), community_id=uuid.uuid4(), name="x", code="X-01")


def test_the_models_need_no_migration_that_is_not_written() -> None:
    """Tortoise's autodetector finds no difference between the models and the migrations: a
    model change without its migration would reach a database that lacks it."""
    script = (
        "import asyncio\n"
        "from tortoise.cli.cli import tortoise_cli_context\n"
        "from tortoise.migrations.autodetector import MigrationAutodetector\n"
        "from sync.db import tortoise_config\n"
        "async def main():\n"
        "    config = tortoise_config('sqlite://:memory:')\n"
        "    apps = {label: dict(app) for label, app in config['apps'].items()}\n"
        "    async with tortoise_cli_context(config) as ctx:\n"
        "        writers = await MigrationAutodetector(ctx.apps, apps).changes()\n"
        "    print('pending:', len(writers))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("pending: 0"), done.stdout


async def test_upgrading_from_the_first_migration_keeps_the_mutation_log(
    database_url: str,
) -> None:
    """0002 makes the log's JSON nullable (SQLite rebuilds the table) and, on PostgreSQL, drops
    its foreign keys: rows logged before it survive, and their stored results still answer a
    replay."""
    await tortoise_migrate(
        config=sync_db.tortoise_config(database_url), target="models.0001_initial"
    )
    await Tortoise.close_connections()
    await sync_db.init(database_url)
    try:
        user = await User.create(username="before", display_name="Before", role=Role.PEER_LEADER)
        # The device row as 0001 made it (the model may have columns added since).
        device_id = uuid.uuid4()
        await connections.get("default").execute_query(
            "INSERT INTO device (id, user_id, created_at, last_mutation_id) VALUES "
            + ("($1, $2, $3, 0)" if "postgres" in database_url else "(?, ?, ?, 0)"),
            [str(device_id), str(user.id), datetime.now(UTC)],
        )
        record = uuid.uuid4()
        old_result = {"mutation_id": 7, "id": str(record), "status": "applied", "version": 1}
        await Mutation.create(
            device_id=device_id,
            mutation_id=7,
            user=user,
            entity="contact",
            record_id=record,
            base_version=0,
            version=1,
            status="applied",
            changes={"mode": [None, "phone"]},
            result=old_result,
        )
    finally:
        await sync_db.close()
    await sync_db.migrate(database_url)
    await sync_db.init(database_url)
    try:
        rows = await connections.get("default").execute_query_dict(
            "SELECT mutation_id, record_id, status, version, result FROM mutation"
        )
        assert len(rows) == 1
        assert logged_result(rows[0]) == old_result
        # A row written the new way: no JSON at all, the same answer from the columns.
        bare = {**rows[0], "result": None}
        assert logged_result(bare) == old_result
        conn = connections.get("default")
        if sync_db.dialect() == "postgres":
            fks = await conn.execute_query_dict(
                "SELECT constraint_name FROM information_schema.table_constraints "
                "WHERE table_name = 'mutation' AND constraint_type = 'FOREIGN KEY'"
            )
            assert fks == []
        else:
            fks = await conn.execute_query_dict("PRAGMA foreign_key_list(mutation)")
            assert {r["table"] for r in fks} == {"device", "users"}
    finally:
        await sync_db.close()


async def test_upgrading_marks_every_logged_row_but_creations(database_url: str) -> None:
    """0011: a creation's log row is the only one whose ``changes`` is NULL (the history index
    leaves those out). Rows logged before it get ``{}`` unless they are a record's creation,
    the version-1 row written at the record's ``created_at``."""
    await tortoise_migrate(
        config=sync_db.tortoise_config(database_url), target="models.0010_evaluation_records"
    )
    await Tortoise.close_connections()
    await sync_db.init(database_url)
    try:
        leader = await factories.user(Role.PEER_LEADER)
        person = await factories.participant(
            await factories.committee(await leader.community), peer_leader=leader
        )
        device = await factories.device(leader)
        later = person.created_at + timedelta(minutes=5)
        rows = {
            1: ("participant", person.id, 1, None, person.created_at),  # the creation
            2: ("participant", person.id, 1, None, later),  # an edit that changed nothing
            3: ("participant", person.id, None, None, later),  # a rejection
            4: ("participant", person.id, 2, {"note": [None, "x"]}, later),  # an edit
            5: ("participant", person.id, 2, None, later),  # nothing changed, at version 2
            6: ("contact", uuid.uuid4(), 1, None, later),  # a record that is not there
        }
        for n, (entity, record, version, changes, at) in rows.items():
            m = await Mutation.create(
                device=device,
                mutation_id=n,
                user=leader,
                entity=entity,
                record_id=record,
                version=version,
                status="rejected" if version is None else "applied",
                changes=changes,
            )
            await Mutation.filter(id=m.id).update(received_at=at)
    finally:
        await sync_db.close()
    await sync_db.migrate(database_url)
    await sync_db.init(database_url)
    try:
        after = dict(
            await Mutation.filter(device_id=device.id).values_list("mutation_id", "changes")
        )
        assert after == {1: None, 2: {}, 3: {}, 4: {"note": [None, "x"]}, 5: {}, 6: {}}
    finally:
        await sync_db.close()


async def test_migrators_started_together_wait_for_each_other(
    database_url: str, tmp_path: Path
) -> None:
    """Servers started at once on several hosts each migrate on start: one applies the
    migrations, the others wait for it and find nothing left to do (without the lock, two of
    three failed creating the same tables)."""
    env = {**os.environ, "PEERLOG_DATABASE_URL": database_url, "PEERLOG_DATA_DIR": str(tmp_path)}
    peerlog = str(Path(sys.executable).with_name("peerlog"))
    procs = [
        await asyncio.create_subprocess_exec(
            peerlog,
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    assert [p.returncode for p in procs] == [0, 0, 0], [o.decode()[-500:] for o, _ in outputs]
    await sync_db.init(database_url)
    try:
        for model in _models():
            assert await _columns(model._meta.db_table) == set(model._meta.db_fields)
    finally:
        await sync_db.close()
