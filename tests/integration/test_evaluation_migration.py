"""Migration 0010 moves every clinical value held today into measurement rows, none lost and none
twice (issue 14: "the migration from today's schema keeps every baseline and latest value"),
on a copy of the demo program at 0009, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.models import Model
from tortoise.transactions import in_transaction

from server import demo
from sync import db as sync_db
from sync import outcomes, sequence
from sync.instruments import BUILT_IN
from sync.models import (
    Committee,
    Community,
    Contact,
    Group,
    GroupMeeting,
    Instrument,
    Measurement,
    Participant,
    User,
)

TODAY = date(2026, 11, 23)
ZONE = "Asia/Shanghai"
Key = tuple[str, str, float, date, str, str | None, bool]


async def _fill_demo_as_of_0009() -> None:
    """The demo program (``peerlog demo``'s generator) written into the tables 0009 has. Not
    ``demo.write``: the demo will also fill the new records, whose tables 0009 lacks."""
    program = demo.generate(seed=11, today=TODAY, scale=0.25)
    synced: list[Model] = [
        *program.groups,
        *program.participants,
        *program.meetings,
        *program.contacts,
    ]
    tables: list[tuple[type[Model], list[Any]]] = [
        (Community, program.communities),
        (Committee, program.committees),
        (User, program.users),
        (Group, program.groups),
        (Participant, program.participants),
        (GroupMeeting, program.meetings),
        (Contact, program.contacts),
    ]
    async with in_transaction() as conn:
        first = await sequence.allocate(conn, len(synced))
        for offset, row in enumerate(synced):
            row.seq = first + offset
        for model, rows in tables:
            await model.bulk_create(rows, batch_size=1000, using_db=conn)


async def _odd_cases() -> None:
    """What real data holds and the demo does not: values without their date, a latest HbA1c
    dated before the baseline, one half of a blood pressure, values on a voided contact."""
    people = await Participant.all().order_by("code").limit(4)
    undated, backwards, half, _ = people
    await Participant.filter(id=undated.id).update(
        hba1c_baseline_on=None, hba1c=8.1, hba1c_on=None, weight_on=None
    )
    await Participant.filter(id=backwards.id).update(
        hba1c_baseline=9.4, hba1c_baseline_on=date(2026, 6, 1), hba1c=8.2, hba1c_on=date(2026, 3, 1)
    )
    await Participant.filter(id=half.id).update(bp_systolic=150, bp_diastolic=None)
    reported = await Contact.filter(glucose_mmol__isnull=False, voided=False).order_by("id").first()
    assert reported is not None
    await Contact.filter(id=reported.id).update(voided=True, void_reason="重复记录", weight_kg=61.5)


def _expected_participant_rows(p: dict[str, Any]) -> list[Key]:
    """Written out again here, apart from the migration's own table of columns."""
    zone = ZoneInfo(ZONE)
    changed = p["updated_at"].astimezone(zone).date()
    pid = str(p["id"])
    out: list[Key] = []
    baseline_on = p["hba1c_baseline_on"] or p["enrolled_on"] or changed
    for column, on, marker, undated in (
        ("hba1c_baseline", "hba1c_baseline_on", "hba1c", p["enrolled_on"] or changed),
        ("hba1c", "hba1c_on", "hba1c", changed),
        ("bp_systolic", "bp_on", "bp_systolic", changed),
        ("bp_diastolic", "bp_on", "bp_diastolic", changed),
        ("weight_kg", "weight_on", "weight", changed),
    ):
        if p[column] is not None:
            day = p[on] or undated
            # A latest HbA1c from before the baseline is kept, voided.
            voided = column == "hba1c" and p["hba1c_baseline"] is not None and day < baseline_on
            out.append((pid, marker, float(p[column]), day, "clinic", None, voided))
    return out


def _expected_contact_rows(c: dict[str, Any]) -> list[Key]:
    day = c["occurred_at"].astimezone(ZoneInfo(ZONE)).date()
    return [
        (
            str(c["participant_id"]),
            marker,
            float(c[column]),
            day,
            "self_report",
            str(c["id"]),
            c["voided"],
        )
        for column, marker in (
            ("glucose_mmol", "glucose"),
            ("bp_systolic", "bp_systolic"),
            ("bp_diastolic", "bp_diastolic"),
            ("weight_kg", "weight"),
        )
        if c[column] is not None
    ]


PARTICIPANT_VALUES = (
    "id",
    "community_id",
    "enrolled_on",
    "updated_at",
    "hba1c_baseline",
    "hba1c_baseline_on",
    "hba1c",
    "hba1c_on",
    "bp_systolic",
    "bp_diastolic",
    "bp_on",
    "weight_kg",
    "weight_on",
)
CONTACT_VALUES = (
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
)


async def test_every_baseline_latest_and_reported_value_becomes_one_measurement(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEERLOG_TIMEZONE", ZONE)
    await tortoise_migrate(
        config=sync_db.tortoise_config(database_url), target="models.0009_durability"
    )
    await Tortoise.close_connections()
    await sync_db.init(database_url)
    try:
        await _fill_demo_as_of_0009()
        await _odd_cases()
        people = await Participant.all().values(*PARTICIPANT_VALUES)
        contacts = await Contact.all().values(*CONTACT_VALUES)
        counter_before = await sequence.current(connections.get("default"))
    finally:
        await sync_db.close()

    expected: Counter[Key] = Counter()
    for p in people:
        expected.update(_expected_participant_rows(p))
    for c in contacts:
        expected.update(_expected_contact_rows(c))
    # The demo has every kind of value, so the comparison below is not of two empty sets.
    assert {k[1] for k in expected} == {"hba1c", "bp_systolic", "bp_diastolic", "weight", "glucose"}
    assert sum(1 for k in expected if k[4] == "self_report") > 500

    await sync_db.migrate(database_url)
    await sync_db.init(database_url)
    try:
        rows = await Measurement.all().values(
            "id", "participant_id", "community_id", "entered_by_id", "contact_id", "marker",
            "value", "measured_on", "source", "voided", "void_reason", "version", "seq", "note",
        )  # fmt: skip
        instruments = {i.id: i for i in await Instrument.all()}
    finally:
        await sync_db.close()

    found: Counter[Key] = Counter(
        (
            str(r["participant_id"]),
            r["marker"],
            r["value"],
            r["measured_on"],
            r["source"],
            str(r["contact_id"]) if r["contact_id"] else None,
            r["voided"],
        )
        for r in rows
    )
    assert found == expected
    assert len(rows) == sum(expected.values())

    # Each row is in its participant's community, authored as its contact was, numbered from
    # the change sequence after everything written before (phones pull them next time).
    community = {str(p["id"]): p["community_id"] for p in people}
    author = {str(c["id"]): c["peer_leader_id"] for c in contacts}
    void_reason = {str(c["id"]): c["void_reason"] for c in contacts if c["voided"]}
    for r in rows:
        assert r["community_id"] == community[str(r["participant_id"])]
        contact = str(r["contact_id"]) if r["contact_id"] else None
        assert r["entered_by_id"] == (author[contact] if contact else None)
        if contact:
            assert r["void_reason"] == void_reason.get(contact)
        else:
            assert (r["void_reason"] is not None) == r["voided"]
        assert r["version"] == 1 and r["note"] is None
    seqs = sorted(r["seq"] for r in rows)
    assert len(set(seqs)) == len(seqs) and seqs[0] > counter_before
    # A contact's reported value has the id the contact's after-write hook will use.
    assert all(
        r["id"] == outcomes.contact_reading_id(r["contact_id"], r["marker"])
        for r in rows
        if r["contact_id"]
    )

    # The HbA1c baseline and latest derived from the rows are the columns' values, except a
    # latest dated before its baseline, which no longer counts.
    by_person: dict[str, list[outcomes.Reading]] = {}
    for r in rows:
        by_person.setdefault(str(r["participant_id"]), []).append(
            outcomes.Reading(
                r["marker"], r["value"], r["measured_on"], r["source"], r["voided"], r["seq"]
            )
        )
    backwards = 0
    for p in people:
        derived = outcomes.participant_columns(by_person.get(str(p["id"]), []))
        assert derived["hba1c_baseline"] == p["hba1c_baseline"]
        if p["hba1c"] is not None and p["hba1c_on"] and p["hba1c_on"] < p["hba1c_baseline_on"]:
            backwards += 1
            assert derived["hba1c"] is None
        else:
            assert derived["hba1c"] == p["hba1c"]
    assert backwards == 1

    # The built-in instruments, as defined.
    assert {slug: (i.definition, i.version, i.active) for slug, i in instruments.items()} == {
        slug: (definition, 1, True) for slug, definition in BUILT_IN.items()
    }
    assert instruments["dds2"].seq > counter_before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_empty_program_gets_the_instruments_and_no_measurements(database_url: str) -> None:
    await sync_db.migrate(database_url)
    await sync_db.init(database_url)
    try:
        assert await Measurement.all().count() == 0
        assert sorted(await Instrument.all().values_list("id", flat=True)) == ["dds2", "nbsupport"]
        assert await sequence.current(connections.get("default")) == len(BUILT_IN)
    finally:
        await sync_db.close()
