"""A program adds a questionnaire of its own (SPEC 2: "a program can add one"): from the command
line (``peerlog instrument add FILE.json``) or the staff page (administrators only). A bad
definition is refused field by field; a good one is written through the engine, audited, pulled
by peer leaders' phones, and answered: the server scores it by its own rule."""

from __future__ import annotations

import copy
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import Settings
from sync import engine
from sync.models import Assessment, AuditEvent, Instrument, Role
from tests import factories as f
from tests.integration.test_cli import data_dir, run  # noqa: F401 (a fixture)
from tests.integration.test_sync_helpers import mutation, pull_all, push

# The PHQ-2's structure (two items, answers 0–3, summed, 3 or more to follow up).
PHQ2: dict[str, Any] = {
    "id": "phq2",
    "title": {"zh-CN": "抑郁筛查（PHQ-2）", "en": "Depression screen (PHQ-2)"},
    "prompt": {
        "zh-CN": "过去两周里，您有多少时候受到以下问题困扰？",
        "en": "Over the last two weeks, how often have you been bothered by the following?",
    },
    "items": [
        {
            "id": "phq_1",
            "text": {
                "zh-CN": "做事时提不起劲或没有兴趣",
                "en": "Little interest or pleasure in doing things",
            },
        },
        {
            "id": "phq_2",
            "text": {
                "zh-CN": "感到心情低落、沮丧或绝望",
                "en": "Feeling down, depressed, or hopeless",
            },
        },
    ],
    "scale": {
        "min": 0,
        "max": 3,
        "labels": {
            "0": {"zh-CN": "完全不会", "en": "Not at all"},
            "1": {"zh-CN": "好几天", "en": "Several days"},
            "2": {"zh-CN": "一半以上的天数", "en": "More than half the days"},
            "3": {"zh-CN": "几乎每天", "en": "Nearly every day"},
        },
    },
    "scoring": "sum",
    "cutoff": {"value": 3, "label": {"zh-CN": "需进一步评估", "en": "Screen positive"}},
}


def bad_phq2() -> dict[str, Any]:
    bad = copy.deepcopy(PHQ2)
    bad["items"][1]["text"].pop("en")  # English wording missing
    bad["scale"]["max"] = 0  # not above min
    bad["scoring"] = "median"
    bad["id"] = "PHQ 2"
    return bad


BAD_FIELDS = {
    "id": "must be a lower-case word (a-z, 0-9, _)",
    "items.2.text": "needs its wording in zh-CN and en",
    "scale.max": "must be more than scale.min",
    "scoring": "must be one of mean, sum",
}


def test_the_command_line_refuses_a_bad_definition_field_by_field_and_adds_a_good_one(
    data_dir: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_phq2(), ensure_ascii=False), encoding="utf-8")
    code, out, err = run(capsys, "instrument", "add", str(bad))
    assert code == 2 and out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0] == f"peerlog: {bad} cannot be added:"
    assert sorted(lines[1:]) == sorted(f"  {k}: {v}" for k, v in BAD_FIELDS.items())

    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "phq2",', encoding="utf-8")
    code, _, err = run(capsys, "instrument", "add", str(broken))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is not JSON" in err

    good = tmp_path / "phq2.json"
    good.write_text(json.dumps(PHQ2, ensure_ascii=False), encoding="utf-8")
    code, out, err = run(capsys, "instrument", "add", str(good))
    assert (code, err) == (0, "")
    assert out.startswith("added questionnaire phq2")
    code, _, err = run(capsys, "instrument", "add", str(good))  # once only
    assert code == 2 and "  id: is already used by another questionnaire" in err
    with sqlite3.connect(data_dir / "peerlog.sqlite3") as db:
        (definition, version, seq) = db.execute(
            "SELECT definition, version, seq FROM instrument WHERE id = 'phq2'"
        ).fetchone()
        assert json.loads(definition) == {k: v for k, v in PHQ2.items() if k != "id"}
        assert version == 1 and seq > 0
        assert db.execute(
            "SELECT action, entity, actor_id FROM audit_event WHERE record_id = 'phq2'"
        ).fetchall() == [("instrument.add", "instrument", None)]


async def test_an_added_questionnaire_reaches_a_peer_leader_s_pull_and_is_scored_by_its_rule(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await f.user(Role.ADMIN)
    coordinator = await f.user(Role.COORDINATOR)
    with pytest.raises(engine.NotAllowed):
        await engine.add_instrument(coordinator, PHQ2)
    slug, errors = await engine.add_instrument(admin, PHQ2, request_id="req-1")
    assert (slug, errors) == ("phq2", {})
    event = await AuditEvent.get(record_id="phq2")
    assert (event.action, event.actor_id, event.request_id, event.detail) == (  # type: ignore[attr-defined]
        "instrument.add",
        admin.id,
        "req-1",
        {"items": 2},
    )

    community = await f.community()
    committee = await f.committee(community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    person = await f.participant(committee, peer_leader=leader)
    await f.sign_in(client, leader, settings)
    client.cookies.set("lang", "en")
    changes, _ = await pull_all(client)
    pulled = {c["id"]: c["fields"] for c in changes if c["entity"] == "instrument"}
    assert set(pulled) == {"dds2", "nbsupport", "phq2"}
    assert pulled["phq2"]["definition"]["items"][1]["text"]["en"] == (
        "Feeling down, depressed, or hopeless"
    )
    assert pulled["phq2"]["active"] is True

    answered = {
        "participant_id": str(person.id),
        "instrument_id": "phq2",
        "time_point": "baseline",
        "assessed_on": "2026-11-02",
        "answers": {"phq_1": 2, "phq_2": 3},
    }
    off_scale = {**answered, "answers": {"phq_1": 4, "phq_2": 0}}
    response = await push(
        client,
        uuid.uuid4(),
        [
            mutation(1, "assessment", uuid.uuid4(), answered),
            mutation(2, "assessment", uuid.uuid4(), off_scale),
        ],
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected"]
    assert results[1]["errors"] == {"answers": ["phq_1: must be a whole number from 0 to 3"]}
    (row,) = await Assessment.filter(instrument_id="phq2")
    assert row.score == 5.0  # the sum, not DDS-2's mean


async def test_the_page_lists_questionnaires_and_only_an_administrator_adds_one(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    coordinator = await f.user(Role.COORDINATOR)
    await f.sign_in(client, coordinator, settings)
    page = await client.get("/admin/instruments")
    assert page.status_code == 200
    assert 'data-id="dds2"' in page.text and 'data-id="nbsupport"' in page.text
    assert 'id="instrument-form"' not in page.text
    refused = await client.post("/admin/instruments", data={"definition": json.dumps(PHQ2)})
    assert refused.status_code == 403
    assert not await Instrument.filter(id="phq2").exists()

    client.cookies.clear()
    admin = await f.user(Role.ADMIN)
    await f.sign_in(client, admin, settings)
    client.cookies.set("lang", "en")
    page = await client.get("/admin/instruments")
    assert 'id="instrument-form"' in page.text
    bad = await client.post("/admin/instruments", data={"definition": json.dumps(bad_phq2())})
    assert bad.status_code == 422
    for name, message in BAD_FIELDS.items():
        assert f"<li><code>{name}</code>: {message}</li>" in bad.text
    assert "&#34;PHQ 2&#34;" in bad.text or "&quot;PHQ 2&quot;" in bad.text  # kept to fix
    not_json = await client.post("/admin/instruments", data={"definition": "{nope"})
    assert not_json.status_code == 422 and "<code>definition</code>" in not_json.text

    body = json.dumps(PHQ2, ensure_ascii=False).encode()
    added = await client.post(
        "/admin/instruments",
        files={"file": ("phq2.json", body, "application/json")},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/admin/instruments?added=phq2"
    listed = await client.get("/admin/instruments?added=phq2")
    assert 'data-id="phq2"' in listed.text and "Depression screen (PHQ-2)" in listed.text
    client.cookies.set("lang", "zh-CN")
    again = await client.post("/admin/instruments", data={"definition": json.dumps(PHQ2)})
    assert again.status_code == 422 and "<code>id</code>" in again.text
