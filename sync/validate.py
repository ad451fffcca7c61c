"""Field validation for pushed mutations: types, enumerations, ranges and dates.

``check(entity, fields, now)`` returns the fields in canonical form and a message list per bad
field. Canonical values are JSON-native so they compare equal whether they come from a phone,
the database or the version history: UUIDs as lower-case strings, dates ``YYYY-MM-DD``,
instants as UTC ISO 8601 strings, lists as lists.

Messages name the field and the rule, never the value: a value may be a name or a reading.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sync.models import ContactMode, KeyFunction, ParticipantStatus, Referral, Sex
from sync.wire import WRITABLE

Errors = dict[str, list[str]]


class Invalid(ValueError):
    pass


# A phone's clock may run a little fast; an instant this far ahead is still accepted.
CLOCK_SKEW = timedelta(minutes=10)
# A device east of the server may already be on tomorrow's date.
DATE_SKEW = timedelta(days=1)
EARLIEST = date(1990, 1, 1)
FOLLOW_UP_HORIZON = timedelta(days=2 * 366)

_WORD = re.compile(r"^[a-z0-9_]{1,40}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.I)
# Already the canonical text of a UUID (what phones send): kept as it is, no UUID object made.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_instant(value: datetime) -> str:
    """The one string form of an instant, used everywhere values are compared."""
    return value.astimezone(UTC).isoformat()


# --- validators: each returns the canonical value or raises Invalid ------------------------------

Validator = Callable[[Any, datetime], Any]


def _text(max_len: int, *, required: bool = False) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if value is None:
            if required:
                raise Invalid("is required")
            return None
        if not isinstance(value, str):
            raise Invalid("must be text")
        value = value.strip()
        if required and not value:
            raise Invalid("is required")
        if len(value) > max_len:
            raise Invalid(f"must be at most {max_len} characters")
        return value or None

    return check


def _number(
    low: float, high: float, unit: str, *, whole: bool = False, required: bool = False
) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if value is None:
            if required:
                raise Invalid("is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid("must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid("must be a number")
        if whole:
            if isinstance(value, float):
                if not value.is_integer():
                    raise Invalid("must be a whole number")
                value = int(value)
        else:
            value = float(value)
        if not low <= value <= high:
            raise Invalid(f"must be between {_fmt(low)} and {_fmt(high)}{unit}")
        return value

    return check


def _fmt(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def _enum(options: tuple[str, ...], *, required: bool = False) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if value is None:
            if required:
                raise Invalid("is required")
            return None
        if value not in options:
            raise Invalid("must be one of " + ", ".join(options))
        return value

    return check


def _bool(value: Any, now: datetime) -> Any:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


def _uuid(*, required: bool = False) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if value is None:
            if required:
                raise Invalid("is required")
            return None
        if not isinstance(value, str):
            raise Invalid("must be an id (UUID)")
        if _CANONICAL_UUID.fullmatch(value):
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise Invalid("must be an id (UUID)") from None

    return check


def _date(*, future: timedelta | None = None) -> Validator:
    """A calendar date; not in the future unless ``future`` allows it (follow-ups)."""

    def check(value: Any, now: datetime) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or not _DATE.match(value):
            raise Invalid("must be a date written YYYY-MM-DD")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise Invalid("must be a real calendar date (YYYY-MM-DD)") from None
        if day < EARLIEST:
            raise Invalid(f"must not be before {EARLIEST.isoformat()}")
        latest = (now + (future or DATE_SKEW)).date()
        if day > latest:
            raise Invalid("must not be in the future" if future is None else "is too far ahead")
        return day.isoformat()

    return check


def _instant(value: Any, now: datetime) -> Any:
    if not isinstance(value, str):
        raise Invalid("must be a date and time in ISO 8601 with a UTC offset")
    if not _OFFSET.search(value.strip()):
        raise Invalid("must carry a UTC offset, e.g. 2026-11-20T09:30:00+08:00")
    try:
        at = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise Invalid("must be a date and time in ISO 8601 with a UTC offset") from None
    if at.tzinfo is None:  # pragma: no cover - the offset pattern already requires one
        raise Invalid("must carry a UTC offset")
    if at > now + CLOCK_SKEW:
        raise Invalid("must not be in the future")
    if at.date() < EARLIEST:
        raise Invalid(f"must not be before {EARLIEST.isoformat()}")
    return canonical_instant(at)


def _list(
    item: Callable[[Any], Any], what: str, *, max_items: int = 20, required: bool = True
) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if value is None:
            if required:
                raise Invalid("must be a list (use [] for none)")
            return []
        if not isinstance(value, list):
            raise Invalid("must be a list")
        if len(value) > max_items:
            raise Invalid(f"must have at most {max_items} items")
        out: list[Any] = []
        for index, element in enumerate(value):
            try:
                canonical = item(element)
            except Invalid as exc:
                raise Invalid(f"item {index} {exc}") from None
            if canonical not in out:
                out.append(canonical)
        return out

    return check


def _choice(options: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in options:
            raise Invalid("must be one of " + ", ".join(options))
        return value

    return check


def _word(value: Any) -> Any:
    if not isinstance(value, str) or not _WORD.match(value):
        raise Invalid("must be a lower-case word (a-z, 0-9, _)")
    return value


def _id_item(value: Any) -> Any:
    if not isinstance(value, str):
        raise Invalid("must be an id (UUID)")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Invalid("must be an id (UUID)") from None


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


_NOTE = 10_000

RULES: dict[str, dict[str, Validator]] = {
    "participant": {
        "code": _text(32, required=True),
        "full_name": _text(120, required=True),
        "sex": _enum(_values(Sex)),
        "birth_year": _number(1900, 2100, "", whole=True),
        "phone": _text(32),
        "address": _text(200),
        "committee_id": _uuid(required=True),
        "group_id": _uuid(),
        "peer_leader_id": _uuid(),
        "enrolled_on": _date(),
        "consent_on": _date(),
        "status": _enum(_values(ParticipantStatus), required=True),
        "conditions": _list(_word, "conditions"),
        "hba1c_baseline": _number(3, 20, " %"),
        "hba1c_baseline_on": _date(),
        "hba1c": _number(3, 20, " %"),
        "hba1c_on": _date(),
        "bp_systolic": _number(60, 260, " mmHg", whole=True),
        "bp_diastolic": _number(30, 160, " mmHg", whole=True),
        "bp_on": _date(),
        "weight_kg": _number(20, 300, " kg"),
        "weight_on": _date(),
        "needs_visit": _bool,
        "needs_visit_reason": _text(200),
        "notes": _text(_NOTE),
    },
    "contact": {
        "participant_id": _uuid(required=True),
        "occurred_at": _instant,
        "mode": _enum(_values(ContactMode), required=True),
        "duration_min": _number(1, 1440, " minutes", whole=True),
        "functions": _list(_choice(_values(KeyFunction)), "functions"),
        "topics": _list(_word, "topics"),
        "referral": _enum(_values(Referral), required=True),
        "referral_reason": _text(200),
        "referral_to": _text(120),
        "glucose_mmol": _number(1, 35, " mmol/L"),
        "bp_systolic": _number(60, 260, " mmHg", whole=True),
        "bp_diastolic": _number(30, 160, " mmHg", whole=True),
        "weight_kg": _number(20, 300, " kg"),
        "follow_up_on": _date(future=FOLLOW_UP_HORIZON),
        "note": _text(_NOTE),
        "voided": _bool,
        "void_reason": _text(200),
    },
    "group_meeting": {
        "group_id": _uuid(required=True),
        "occurred_at": _instant,
        "place": _text(200),
        "topic": _text(200),
        "co_leader": _text(120),
        "attendee_ids": _list(_id_item, "attendee_ids", max_items=500),
        "note": _text(_NOTE),
        "voided": _bool,
        "void_reason": _text(200),
    },
}

assert {k: tuple(v) for k, v in RULES.items()} == WRITABLE, "validation rules must match the wire"

# Entities only the server writes (administration pages, through ``sync.engine.write``): phones
# pull them read-only, and a phone's push of one is rejected before these rules are looked at.
SERVER_ONLY_RULES: dict[str, dict[str, Validator]] = {
    "group": {
        "name": _text(120, required=True),
        "community_id": _uuid(required=True),
        "committee_id": _uuid(),
        "leader_id": _uuid(),
        "co_leader_id": _uuid(),
    },
}


def rules(entity: str) -> dict[str, Validator]:
    """The field rules of a phone-writable or a server-only entity."""
    return RULES.get(entity) or SERVER_ONLY_RULES[entity]


# Fields a new record must have.
REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {
    "participant": ("code", "full_name", "committee_id"),
    "contact": ("participant_id", "occurred_at", "mode"),
    "group_meeting": ("group_id", "occurred_at"),
    "group": ("name", "community_id"),
}


def check(entity: str, fields: Mapping[str, Any], now: datetime) -> tuple[dict[str, Any], Errors]:
    """Canonical values of the valid fields, and messages for the others (``entity`` known)."""
    rules = RULES.get(entity) or SERVER_ONLY_RULES[entity]
    clean: dict[str, Any] = {}
    errors: Errors = {}
    for name, value in fields.items():
        rule = rules.get(name)
        if rule is None:
            errors[name] = [f"unknown field for {entity}"]
            continue
        try:
            clean[name] = rule(value, now)
        except Invalid as exc:
            errors[name] = [str(exc)]
    return clean, errors


def check_record(entity: str, record: Mapping[str, Any], creating: bool) -> Errors:
    """Rules across fields, on the record as it would be after the write."""
    errors: Errors = {}
    if creating:
        for name in REQUIRED_ON_CREATE[entity]:
            if record.get(name) in (None, ""):
                errors.setdefault(name, []).append("is required")
    sys, dia = record.get("bp_systolic"), record.get("bp_diastolic")
    if sys is not None and dia is not None and dia >= sys:
        errors.setdefault("bp_diastolic", []).append("must be lower than bp_systolic")
    if entity == "participant" and record.get("enrolled_on") and not record.get("consent_on"):
        errors.setdefault("consent_on", []).append("is required to enrol (set enrolled_on)")
    if record.get("voided") and not record.get("void_reason"):
        errors.setdefault("void_reason", []).append("is required when voiding")
    return errors
