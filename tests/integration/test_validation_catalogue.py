"""The phone checks a form with the server's own rules: ``validate.js`` imports the catalogue
the server makes from the entity modules (``sync/entities``) (no copy of a range, a unit or a threshold), and
the service worker stores it at install, so the form checks offline too."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from pathlib import Path

import httpx

from server.settings import Settings
from sync import entities, outcomes
from sync.models import Role
from tests import factories as f
from tests.integration.test_sync_helpers import mutation, push

IMPORT = re.compile(r'import RULES from "\./(rules\.js\?v=[0-9a-f]+)"')


async def phone_rules(client: httpx.AsyncClient) -> tuple[str, dict[str, object]]:
    """The catalogue URL validate.js imports, and the rules that URL serves."""
    worker = (await client.get("/sw.js")).text
    precache = json.loads(re.search(r"const PRECACHE = (\[.*\]);", worker).group(1))  # type: ignore[union-attr]
    validate_url = next(u for u in precache if u.startswith("/static/js/validate.js?"))
    module = (await client.get(validate_url)).text
    found = IMPORT.search(module)
    assert found, "validate.js imports the server's catalogue"
    url = f"/static/js/{found.group(1)}"
    assert url in precache, "the service worker stores the catalogue at install"
    served = await client.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    body = served.text.split("export default ", 1)[1].rstrip().removesuffix(";")
    return url, json.loads(body)


async def test_the_phones_rules_are_the_servers(client: httpx.AsyncClient) -> None:
    _, rules = await phone_rules(client)
    assert rules == json.loads(json.dumps(entities.catalogue()))
    contact = rules["fields"]["contact"]  # type: ignore[index]
    assert contact["glucose_mmol"] == {"kind": "number", "low": 1, "high": 35, "unit": "mmol/L"}
    assert contact["duration_min"]["whole"] is True
    assert contact["note"] == {"kind": "text", "max": 10_000}
    assert rules["urgent"] == {
        "glucose_below": 3.9,
        "glucose_above": 16.7,
        "bp_systolic_at_least": 180,
        "bp_diastolic_at_least": 110,
    }


def test_validate_js_holds_no_copy_of_a_rule() -> None:
    source = Path(__file__).resolve().parents[2] / "pwa" / "static" / "js" / "validate.js"
    code = "\n".join(
        line.split("//")[0] for line in source.read_text(encoding="utf-8").splitlines()
    )
    for number in ("1440", "35", "260", "160", "300", "3.9", "16.7", "180", "110", "366"):
        assert not re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", code), number


TEMPLATES = Path(__file__).resolve().parents[2] / "pwa" / "templates"
# A limit typed into a form (maxlength="200", max="260"): a copy of a rule that can drift from it.
TYPED_LIMIT = re.compile(r'<(?:input|textarea)\b[^>]*\b(?:maxlength|max|min)="(?!0")[0-9.]+"')


def test_no_form_field_carries_a_limit_typed_into_its_template() -> None:
    typed = [
        f"{path.relative_to(TEMPLATES)}: {m.group(0)[:80]}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for m in TYPED_LIMIT.finditer(path.read_text(encoding="utf-8"))
    ]
    assert typed == [], "\n".join(typed)


async def test_a_phone_form_carries_the_servers_limits(client: httpx.AsyncClient) -> None:
    page = (await client.get("/contacts/new")).text
    rules = entities.catalogue()["fields"]["contact"]
    glucose = re.search(r'<input id="glucose_mmol"[^>]*>', page)
    assert glucose, "the contact form asks for a glucose reading"
    low, high = rules["glucose_mmol"]["low"], rules["glucose_mmol"]["high"]
    assert f'min="{low:g}"' in glucose.group(0) and f'max="{high:g}"' in glucose.group(0)
    note = re.search(r'<textarea id="note"[^>]*>', page)
    assert note and f'maxlength="{rules["note"]["max"]}"' in note.group(0)


async def test_the_phone_refuses_a_date_long_before_enrolment_by_the_server_s_rule_and_message(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, rules = await phone_rules(client)
    rule = rules["before_enrolment"]
    assert rule == {
        "days": outcomes.BEFORE_ENROLMENT.days,
        "fields": {"measurement": "measured_on", "assessment": "assessed_on"},
        "message": "must not be more than 90 days before the participant's enrolment (%(date)s)",
    }
    # What the server answers for the same reading: the same field, template and date, so the
    # phone's message (validate.js renders ``message`` with ``date``) is the server's own.
    community = await f.community()
    committee = await f.committee(community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    person = await f.participant(committee, peer_leader=leader, enrolled_on=date(2026, 5, 1))
    await f.sign_in(client, leader, settings)
    reading = {
        "participant_id": str(person.id),
        "marker": "weight",
        "value": 70.5,
        "measured_on": "2026-01-30",
        "source": "clinic",
    }
    response = await push(client, uuid.uuid4(), [mutation(1, "measurement", uuid.uuid4(), reading)])
    (result,) = response.json()["results"]
    assert result["status"] == "rejected"
    assert list(result["errors"]) == [rule["fields"]["measurement"]]  # type: ignore[index]
    assert result["templates"]["measured_on"] == [[rule["message"], {"date": "2026-01-31"}]]  # type: ignore[index]
    # A day later is allowed, on the phone (validate.js compares with the same earliest) too.
    later = {**reading, "measured_on": "2026-01-31"}
    response = await push(client, uuid.uuid4(), [mutation(1, "measurement", uuid.uuid4(), later)])
    assert response.json()["results"][0]["status"] == "applied"
