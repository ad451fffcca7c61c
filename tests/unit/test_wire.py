"""The wire: malformed bodies are named precisely, and field values are checked one by one."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sync import entities
from sync.entities import READABLE, REGISTRY
from sync.wire import ROSTER_FIELDS, MalformedBody, decode_push

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _body(**kw: object) -> bytes:
    mutation = {
        "mutation_id": 1,
        "entity": "contact",
        "id": str(uuid.uuid4()),
        "base_version": 0,
        "fields": {},
    }
    mutation.update(kw)
    return json.dumps({"device_id": str(uuid.uuid4()), "mutations": [mutation]}).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "body: "),
        (b"[]", "body: expected object, got array"),
        (_body(mutation_id="7"), "mutations[0].mutation_id: expected int, got str"),
        (_body(id="nope"), "mutations[0].id: invalid UUID"),
        (_body(fields=[]), "mutations[0].fields: expected object, got array"),
        (_body(extra=1), "mutations[0].extra: unknown field"),
        (json.dumps({"mutations": []}).encode(), "device_id: required"),
    ],
)
def test_a_malformed_push_names_the_place(body: bytes, message: str) -> None:
    with pytest.raises(MalformedBody) as caught:
        decode_push(body)
    assert str(caught.value).startswith(message)


def test_the_volunteer_roster_holds_no_clinical_value_and_no_note() -> None:
    clinical = {"hba1c", "hba1c_baseline", "bp_systolic", "bp_diastolic", "weight_kg", "notes"}
    clinical |= {"conditions", "birth_year", "hba1c_on", "bp_on", "weight_on"}
    assert not clinical & set(ROSTER_FIELDS)
    assert set(ROSTER_FIELDS) <= set(READABLE["participant"])


@pytest.mark.parametrize(
    ("entity", "fields", "bad"),
    [
        ("participant", {"hba1c": 25}, {"hba1c": ["must be between 3 and 20 %"]}),
        ("participant", {"hba1c": "8.1"}, {"hba1c": ["must be a number"]}),
        ("participant", {"needs_visit": "yes"}, {"needs_visit": ["must be true or false"]}),
        ("participant", {"sex": "f"}, {"sex": ["must be one of female, male, other"]}),
        (
            "participant",
            {"consent_on": "2030-01-01"},
            {"consent_on": ["must not be in the future"]},
        ),
        (
            "participant",
            {"hba1c_on": "2026-02-30"},
            {"hba1c_on": ["must be a real calendar date (YYYY-MM-DD)"]},
        ),
        ("participant", {"bp_systolic": 120.5}, {"bp_systolic": ["must be a whole number"]}),
        ("contact", {"glucose_mmol": 0.5}, {"glucose_mmol": ["must be between 1 and 35 mmol/L"]}),
        (
            "contact",
            {"occurred_at": "2026-11-20T09:30:00"},
            {"occurred_at": ["must carry a UTC offset, e.g. 2026-11-20T09:30:00+08:00"]},
        ),
        (
            "contact",
            {"occurred_at": "2026-11-22T09:30:00+00:00"},
            {"occurred_at": ["must not be in the future"]},
        ),
        (
            "contact",
            {"functions": ["being_there", "magic"]},
            {
                "functions": [
                    "item 1 must be one of being_there, daily_management, social_emotional, linkage_to_care, ongoing_support"
                ]
            },
        ),
        ("contact", {"duration_min": 0}, {"duration_min": ["must be between 1 and 1440 minutes"]}),
        ("contact", {"colour": "red"}, {"colour": ["unknown field for contact"]}),
        (
            "group_meeting",
            {"attendee_ids": ["x"]},
            {"attendee_ids": ["item 0 must be an id (UUID)"]},
        ),
    ],
)
def test_invalid_values_get_one_message_per_field_without_the_value(
    entity: str, fields: dict[str, object], bad: dict[str, list[str]]
) -> None:
    clean, errors = entities.check(
        entity, {**fields, "note" if entity != "participant" else "notes": "ok"}, NOW
    )
    assert errors == bad
    assert "note" in clean or "notes" in clean


def test_valid_values_come_out_canonical() -> None:
    clean, errors = entities.check(
        "contact",
        {
            "participant_id": str(uuid.uuid4()).upper(),
            "occurred_at": "2026-11-20T09:30:00+08:00",
            "follow_up_on": (NOW + timedelta(days=30)).date().isoformat(),
            "functions": ["being_there", "being_there"],
            "glucose_mmol": 7,
            "referral": "urgent",
        },
        NOW,
    )
    assert errors == {}
    assert clean["occurred_at"] == "2026-11-20T01:30:00+00:00"
    assert clean["participant_id"] == clean["participant_id"].lower()
    assert clean["functions"] == ["being_there"]
    assert clean["glucose_mmol"] == 7.0


def test_cross_field_rules() -> None:
    assert entities.check_record("participant", {"enrolled_on": "2026-01-01"}, creating=False) == {
        "consent_on": ["is required to enrol (set enrolled_on)"]
    }
    assert entities.check_record("contact", {"bp_systolic": 80, "bp_diastolic": 90}, creating=False)
    assert set(entities.check_record("contact", {}, creating=True)) == {
        "participant_id",
        "occurred_at",
        "mode",
    }


def test_every_field_a_reader_receives_is_a_column_of_its_table() -> None:
    for entity in REGISTRY.values():
        assert set(READABLE[entity.name]) <= set(entity.columns), entity.name
        assert set(entity.required) <= set(entity.rules), entity.name
