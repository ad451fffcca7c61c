"""Exports: the CSV parses back to exactly the records in the database, and every export is
audited without a single value in the audit. Filter days and the times in the cells are in the
program's time zone (``PEERLOG_TIMEZONE``): each test states its zone."""

from __future__ import annotations

import argparse
import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from server import exports
from server.settings import Settings
from sync.models import AuditEvent, Contact, GroupMeeting, Participant, Role
from tests import factories
from tests.factories import at

# Days in UTC unless a test says otherwise (the program's zone is what several tests are about).
pytestmark = pytest.mark.timezone("UTC")


async def make_records() -> dict[str, object]:
    community = await factories.community(code="SH-XH")
    other = await factories.community()
    committee = await factories.committee(community, code="RC-1")
    leader = await factories.user(Role.PEER_LEADER, community=community)
    group = await factories.group(community, leader=leader, committee=committee)
    people = [
        await factories.participant(
            committee,
            leader,
            full_name=name,
            address='3号楼 402, "east" door',
            conditions=["t2d", "hypertension"],
            hba1c_baseline=8.6,
            hba1c_baseline_on=date(2026, 5, 1),
            hba1c=7.9,
            notes="line one\nline two",
            group=group,
        )
        for name in ("王秀英", "李建国", "Zhang, Wei")
    ]
    outsider = await factories.participant(await factories.committee(other), full_name="Outsider")
    base = datetime(2026, 10, 1, 1, 30, tzinfo=UTC)
    for i, p in enumerate(people * 3):
        await Contact.create(
            participant=p,
            peer_leader=leader,
            community=community,
            occurred_at=base + timedelta(days=i * 5, minutes=7),
            mode="home_visit" if i % 2 else "phone_call",
            duration_min=20 + i,
            functions=["being_there", "daily_management"][: 1 + i % 2],
            topics=["diet"],
            referral="urgent" if i == 4 else "none",
            referral_reason="低血糖" if i == 4 else None,
            glucose_mmol=3.2 if i == 4 else None,
            follow_up_on=date(2026, 12, 1),
            note=f"note {i}, with a comma",
        )
    await Contact.create(
        participant=outsider,
        peer_leader=leader,
        community=other,
        occurred_at=base,
        mode="phone_call",
    )
    await GroupMeeting.create(
        group=group,
        community=community,
        peer_leader=leader,
        occurred_at=base + timedelta(days=3),
        topic="饮食",
        attendee_ids=[str(p.id) for p in people],
    )
    return {"community": community, "people": people, "leader": leader}


def parse(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode()), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


async def test_contacts_csv_parses_back_to_the_database(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    made = await make_records()
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    community = made["community"]
    response = await client.get(
        f"/admin/exports/contacts.csv?community={community.id}&since=2026-10-01&until=2026-11-30"  # type: ignore[attr-defined]
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = parse(response.content)
    assert list(rows[0]) == list(exports.CONTACT_COLUMNS)
    in_db = {
        str(c.id): c
        for c in await Contact.filter(community_id=community.id).prefetch_related("participant")  # type: ignore[attr-defined]
    }
    assert {r["id"] for r in rows} == set(in_db)  # one row per record, no other community
    for row in rows:
        c = in_db[row["id"]]
        assert datetime.fromisoformat(row["occurred_at"]) == c.occurred_at
        assert row["participant_code"] == c.participant.code
        assert row["mode"] == c.mode and int(row["duration_min"]) == c.duration_min
        assert row["functions"].split(";") == c.functions
        assert row["referral"] == c.referral
        assert (row["referral_reason"] or None) == c.referral_reason
        assert (float(row["glucose_mmol"]) if row["glucose_mmol"] else None) == c.glucose_mmol
        assert date.fromisoformat(row["follow_up_on"]) == c.follow_up_on
        assert row["note"] == c.note and row["voided"] == "false"


async def test_participants_and_meetings_csv_parse_back(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    made = await make_records()
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    community = made["community"]
    rows = parse(
        (await client.get(f"/admin/exports/participants.csv?community={community.id}")).content
    )  # type: ignore[attr-defined]
    people = {str(p.id): p for p in await Participant.filter(community_id=community.id)}  # type: ignore[attr-defined]
    assert {r["id"] for r in rows} == set(people)
    for row in rows:
        p = people[row["id"]]
        assert (row["full_name"], row["address"], row["notes"]) == (p.full_name, p.address, p.notes)
        assert row["conditions"].split(";") == p.conditions
        assert float(row["hba1c_baseline"]) == p.hba1c_baseline and float(row["hba1c"]) == p.hba1c
        assert row["committee_code"] == "RC-1" and row["community_code"] == "SH-XH"
        assert date.fromisoformat(row["consent_on"]) == p.consent_on

    meetings = parse((await client.get("/admin/exports/meetings.csv?since=2026-10-01")).content)
    in_db = await GroupMeeting.all()
    assert [r["id"] for r in meetings] == [str(m.id) for m in in_db]
    assert meetings[0]["attendee_ids"].split(";") == in_db[0].attendee_ids
    assert int(meetings[0]["attendees"]) == 3 and meetings[0]["topic"] == "饮食"


async def test_each_export_is_audited_without_values(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    made = await make_records()
    coordinator = await factories.user(Role.COORDINATOR, community=made["community"])
    await factories.sign_in(client, coordinator, settings)
    body = (
        await client.get("/admin/exports/contacts.csv?since=2026-10-01&until=2026-10-31")
    ).content
    count = len(parse(body))
    event = await AuditEvent.get(action="export")
    assert event.actor_id == coordinator.id  # type: ignore[attr-defined]
    assert event.detail["kind"] == "contacts" and event.detail["rows"] == count
    assert event.detail["community"] == "SH-XH"
    assert (event.detail["since"], event.detail["until"]) == ("2026-10-01", "2026-10-31")
    text = str(event.detail)
    for value in ("王秀英", "低血糖", "note", "3.2"):
        assert value not in text


async def test_the_command_line_export_writes_the_same_csv(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    await make_records()
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    web = (await client.get("/admin/exports/contacts.csv?community=")).content
    out = tmp_path / "contacts.csv"
    args = argparse.Namespace(
        kind="contacts", community=None, since=None, until=None, output=str(out)
    )
    await exports.cli_export(args, settings.zone)
    assert parse(out.read_bytes()) == parse(web)
    cli_event = await AuditEvent.filter(action="export", actor_id=None).first()
    assert cli_event is not None and cli_event.detail["source"] == "cli"


async def test_the_command_line_names_a_bad_community(db: str) -> None:
    from server.console import UserError

    args = argparse.Namespace(
        kind="contacts", community="NOPE", since=None, until=None, output=None
    )
    try:
        await exports.cli_export(args, ZoneInfo("UTC"))
    except UserError as exc:
        assert "NOPE" in str(exc)
    else:
        raise AssertionError("a bad community code must be a user error")


async def test_peerlog_export_on_the_command_line(settings: Settings, tmp_path: Path) -> None:
    """``peerlog export`` as a person types it: to a file with -o, or to standard output."""
    import asyncio
    import os
    import sys

    await make_records()
    env = {
        **os.environ,
        "PEERLOG_DATABASE_URL": settings.database_url,
        "PEERLOG_DATA_DIR": str(tmp_path),
        "PEERLOG_TIMEZONE": settings.timezone,
    }

    async def peerlog_export(*argv: str) -> tuple[int, bytes, bytes]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "export",
            *argv,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, err = await proc.communicate()
        return proc.returncode or 0, stdout, err

    out = tmp_path / "meetings.csv"
    code, _, err = await peerlog_export("meetings", "--community", "SH-XH", "-o", str(out))
    assert code == 0, err.decode()
    assert len(parse(out.read_bytes())) == 1 and b"wrote 1 meetings" in err
    code, _, err = await peerlog_export("contacts", "--since", "2026-13-01")
    assert code == 2 and b"YYYY-MM-DD" in err and b"Traceback" not in err
    code, stdout, _ = await peerlog_export("participants")
    assert code == 0 and len(parse(stdout)) == 4


@pytest.mark.parametrize("settings", ["Asia/Shanghai"], indirect=True)
async def test_an_export_from_a_day_starts_at_the_programs_midnight(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    community = await factories.community(code="SH-TZ")
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    p = await factories.participant(
        committee, leader, last_contact_at=at("2026-12-01T07:30:00+08:00")
    )

    async def contact(when: str) -> Contact:
        return await Contact.create(
            participant=p,
            peer_leader=leader,
            community=community,
            occurred_at=at(when),
            mode="phone_call",
        )

    morning = await contact("2026-12-01T07:30:00+08:00")  # 23:30 UTC on 30 November
    night_before = await contact("2026-11-30T23:59:00+08:00")  # 15:59 UTC on 30 November
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)

    since = parse((await client.get("/admin/exports/contacts.csv?since=2026-12-01")).content)
    assert [(r["id"], r["occurred_at"]) for r in since] == [
        (str(morning.id), "2026-12-01T07:30:00+08:00")
    ]
    until = parse((await client.get("/admin/exports/contacts.csv?until=2026-11-30")).content)
    assert [(r["id"], r["occurred_at"]) for r in until] == [
        (str(night_before.id), "2026-11-30T23:59:00+08:00")
    ]
    people = parse((await client.get("/admin/exports/participants.csv")).content)
    assert people[0]["last_contact_at"] == "2026-12-01T07:30:00+08:00"
    event = await AuditEvent.filter(action="export").order_by("at").first()
    assert event is not None and event.detail["timezone"] == "Asia/Shanghai"

    # `peerlog export` counts the same days; counted in UTC, 1 December starts 8 hours later.
    async def cli(zone: str) -> list[str]:
        out = tmp_path / f"{zone.replace('/', '-')}.csv"
        args = argparse.Namespace(
            kind="contacts", community="SH-TZ", since="2026-12-01", until=None, output=str(out)
        )
        await exports.cli_export(args, ZoneInfo(zone))
        return [r["occurred_at"] for r in parse(out.read_bytes())]

    assert await cli("Asia/Shanghai") == ["2026-12-01T07:30:00+08:00"]
    assert await cli("UTC") == []


@pytest.mark.parametrize("settings", ["Asia/Shanghai"], indirect=True)
async def test_the_exports_page_says_which_time_zone_days_are_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    html = (await client.get("/admin/exports")).text
    assert "Asia/Shanghai" in html.split('id="time-zone-note"', 1)[1].split("</p>", 1)[0]
    assert "+08:00" in html
