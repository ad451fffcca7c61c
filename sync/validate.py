"""Field validation for pushed mutations: the rule builders (types, enumerations, ranges and
dates) each entity's rules are made of (``sync/entities``), and the checks that apply them.

``check(entity, rules, fields, now)`` returns the fields in canonical form and a message list per bad
field. Canonical values are JSON-native so they compare equal whether they come from a phone,
the database or the version history: UUIDs as lower-case strings, dates ``YYYY-MM-DD``,
instants as UTC ISO 8601 strings, lists as lists.

Messages name the field and the rule, never the value: a value may be a name or a reading.
Each is a ``sync.wire.Message`` made from a template declared below, so the edge can show it in
the reader's language; only an invalid value makes one.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sync.wire import Message, Template, template

Errors = dict[str, list[str]]

REQUIRED = template("is required")
NOT_TEXT = template("must be text")
CONTROL_CHARACTERS = template(
    "must not contain control characters (such as NUL) or bidirectional overrides"
)
TOO_LONG = template("must be at most %(max)s characters")
NOT_NUMBER = template("must be a number")
NOT_WHOLE = template("must be a whole number")
OUT_OF_RANGE = template("must be between %(low)s and %(high)s")
# A unit symbol (%, mmHg, kg, mmol/L) reads the same in every language; minutes have words.
OUT_OF_RANGE_UNIT = template("must be between %(low)s and %(high)s %(unit)s")
OUT_OF_RANGE_MINUTES = template("must be between %(low)s and %(high)s minutes")
NOT_OPTION = template("must be one of %(options)s")
NOT_BOOL = template("must be true or false")
NOT_ID = template("must be an id (UUID)")
NOT_DATE = template("must be a date written YYYY-MM-DD")
NOT_REAL_DATE = template("must be a real calendar date (YYYY-MM-DD)")
TOO_EARLY = template("must not be before %(date)s")
IN_FUTURE = template("must not be in the future")
TOO_FAR_AHEAD = template("is too far ahead")
NOT_INSTANT = template("must be a date and time in ISO 8601 with a UTC offset")
NO_OFFSET = template("must carry a UTC offset, e.g. 2026-11-20T09:30:00+08:00")
NOT_LIST_OR_EMPTY = template("must be a list (use [] for none)")
NOT_LIST = template("must be a list")
TOO_MANY = template("must have at most %(max)s items")
# ``index`` is the wire's (0-based, as in attendee_ids[0]); ``number`` counts from 1, for people.
ITEM = template("item %(index)s %(problem)s", "number")
NOT_WORD = template("must be a lower-case word (a-z, 0-9, _)")
NOT_ANSWERS = template("must be an object of question ids and whole-number answers")
UNKNOWN_FIELD = template("unknown field for %(entity)s")
BELOW_SYSTOLIC = template("must be lower than bp_systolic")
VOID_REASON = template("is required when voiding")


class Invalid(ValueError):
    """A value breaks its field's rule; ``message`` says which (never the value)."""

    def __init__(self, tmpl: Template, **params: Any) -> None:
        self.message = Message(tmpl, **params)
        super().__init__(self.message)


# A phone's clock may run a little fast; an instant this far ahead is still accepted.
CLOCK_SKEW = timedelta(minutes=10)
# A device east of the server may already be on tomorrow's date.
DATE_SKEW = timedelta(days=1)
EARLIEST = date(1990, 1, 1)
FOLLOW_UP_HORIZON = timedelta(days=2 * 366)

# SPEC 3: a contact's form suggests an urgent referral for a reported glucose below or above
# this range (mmol/L), or a blood pressure at or above these (mmHg, systolic or diastolic); the
# staff dashboard lists the contacts saved with such a reading and no referral.
GLUCOSE_SAFE = (3.9, 16.7)
BP_URGENT = (180, 110)

_WORD = re.compile(r"[a-z0-9_]{1,40}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.I)
# SPEC 3, text fields: no C0 control but tab and line breaks, no DEL or C1 control (PostgreSQL
# refuses a NUL outright, and the others hide text or break CSV and terminals), and no
# bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069: "Trojan Source"
# text that reads differently from what it holds). Bidi *marks* (U+200E/F) stay: mixed Chinese
# and Latin text may need them.
FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# A line break typed in a staff page's textarea arrives as CRLF, on a phone as LF: one form kept.
_CR = re.compile(r"\r\n?")
# Already the canonical text of a UUID (what phones send): kept as it is, no UUID object made.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def clean_text(value: str) -> str:
    """``value`` stripped, with its line breaks as LF; raises ``Invalid`` when it holds a
    character no text field may hold (``FORBIDDEN_IN_TEXT``). For every free-text input, also
    those written outside the sync engine (places, user names, …)."""
    if "\r" in value:
        value = _CR.sub("\n", value)
    if FORBIDDEN_IN_TEXT.search(value):
        raise Invalid(CONTROL_CHARACTERS)
    return value.strip()


def printable(name: str) -> str:
    """A name from the wire (an unknown field's or entity's) safe to store and send back:
    each forbidden character written as ``\\uXXXX`` (it is a key, never a person's value)."""
    return FORBIDDEN_IN_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", name)


def canonical_instant(value: datetime) -> str:
    """The one string form of an instant, used everywhere values are compared."""
    return value.astimezone(UTC).isoformat()


# --- validators: each returns the canonical value or raises Invalid ------------------------------

Validator = Callable[[Any, datetime], Any]

# Each validator's rule as data (kind, range, unit, length…): the phone's catalogue (``catalogue``).
_DESCRIPTION: dict[Validator, dict[str, Any]] = {}


def _described(check: Validator, kind: str, **rule: Any) -> Validator:
    _DESCRIPTION[check] = {
        "kind": kind,
        **{k: v for k, v in rule.items() if v is not False and v != ""},
    }
    return check


def _absent(value: Any, required: bool) -> bool:
    """Whether ``value`` is left out (None); REQUIRED where the field may not be."""
    if value is None and required:
        raise Invalid(REQUIRED)
    return value is None


def text(max_len: int, *, required: bool = False) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if _absent(value, required):
            return None
        if not isinstance(value, str):
            raise Invalid(NOT_TEXT)
        value = clean_text(value)
        if required and not value:
            raise Invalid(REQUIRED)
        if len(value) > max_len:
            raise Invalid(TOO_LONG, max=max_len)
        return value or None

    return _described(check, "text", max=max_len, required=required)


def number(
    low: float, high: float, unit: str, *, whole: bool = False, required: bool = False
) -> Validator:
    bounds: dict[str, Any] = {"low": _fmt(low), "high": _fmt(high)}
    if unit == "minutes":
        rule = OUT_OF_RANGE_MINUTES
    elif unit:
        rule, bounds["unit"] = OUT_OF_RANGE_UNIT, unit
    else:
        rule = OUT_OF_RANGE

    def check(value: Any, now: datetime) -> Any:
        if _absent(value, required):
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(NOT_NUMBER)
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(NOT_NUMBER)
        if whole:
            if isinstance(value, float):
                if not value.is_integer():
                    raise Invalid(NOT_WHOLE)
                value = int(value)
        else:
            value = float(value)
        if not low <= value <= high:
            raise Invalid(rule, **bounds)
        return value

    return _described(
        check, "number", low=low, high=high, unit=unit, whole=whole, required=required
    )


def _fmt(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def enum(options: tuple[str, ...], *, required: bool = False) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if _absent(value, required):
            return None
        if value not in options:
            raise Invalid(NOT_OPTION, options=options)
        return value

    return _described(check, "option", options=list(options), required=required)


def boolean(value: Any, now: datetime) -> Any:
    if not isinstance(value, bool):
        raise Invalid(NOT_BOOL)
    return value


def ident(*, required: bool = False) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if _absent(value, required):
            return None
        if not isinstance(value, str):
            raise Invalid(NOT_ID)
        if _CANONICAL_UUID.fullmatch(value):
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise Invalid(NOT_ID) from None

    return _described(check, "id", required=required)


def calendar_date(*, future: timedelta | None = None) -> Validator:
    """A calendar date; not in the future unless ``future`` allows it (follow-ups)."""

    def check(value: Any, now: datetime) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise Invalid(NOT_DATE)
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise Invalid(NOT_REAL_DATE) from None
        if day < EARLIEST:
            raise Invalid(TOO_EARLY, date=EARLIEST.isoformat())
        latest = (now + (future or DATE_SKEW)).date()
        if day > latest:
            raise Invalid(IN_FUTURE if future is None else TOO_FAR_AHEAD)
        return day.isoformat()

    ahead = future or DATE_SKEW
    return _described(check, "date", earliest=EARLIEST.isoformat(), ahead_days=ahead.days)


def instant(value: Any, now: datetime) -> Any:
    if not isinstance(value, str):
        raise Invalid(NOT_INSTANT)
    if not _OFFSET.search(value.strip()):
        raise Invalid(NO_OFFSET)
    try:
        at = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise Invalid(NOT_INSTANT) from None
    if at.tzinfo is None:  # pragma: no cover - the offset pattern already requires one
        raise Invalid(NO_OFFSET)
    if at > now + CLOCK_SKEW:
        raise Invalid(IN_FUTURE)
    if at.date() < EARLIEST:
        raise Invalid(TOO_EARLY, date=EARLIEST.isoformat())
    return canonical_instant(at)


def list_of(
    item: Callable[[Any], Any], what: str, *, max_items: int = 20, required: bool = True
) -> Validator:
    def check(value: Any, now: datetime) -> Any:
        if value is None:
            if required:
                raise Invalid(NOT_LIST_OR_EMPTY)
            return []
        if not isinstance(value, list):
            raise Invalid(NOT_LIST)
        if len(value) > max_items:
            raise Invalid(TOO_MANY, max=max_items)
        out: list[Any] = []
        for index, element in enumerate(value):
            try:
                canonical = item(element)
            except Invalid as exc:
                raise Invalid(ITEM, index=index, number=index + 1, problem=exc.message) from None
            if canonical not in out:
                out.append(canonical)
        return out

    return _described(check, "list", max_items=max_items)


def answers(*, max_items: int = 100) -> Validator:
    """A questionnaire's answers: an object of item id → whole number. Whether the items and the
    numbers fit the questionnaire is checked against it (``sync.entities.assessment``)."""

    def check(value: Any, now: datetime) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and _WORD.fullmatch(k) for k in value
        ):
            raise Invalid(NOT_ANSWERS)
        if len(value) > max_items:
            raise Invalid(TOO_MANY, max=max_items)
        return dict(value)

    return _described(check, "answers", max_items=max_items)


def choice(options: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in options:
            raise Invalid(NOT_OPTION, options=options)
        return value

    return check


def word(value: Any) -> Any:
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        raise Invalid(NOT_WORD)
    return value


def id_item(value: Any) -> Any:
    if not isinstance(value, str):
        raise Invalid(NOT_ID)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Invalid(NOT_ID) from None


def values_of(enum: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


# The length of a free-text note (SPEC 3).
NOTE = 10_000


_described(boolean, "bool")
_described(
    instant,
    "instant",
    earliest=EARLIEST.isoformat(),
    ahead_minutes=int(CLOCK_SKEW.total_seconds() // 60),
)


def describe(check: Validator) -> dict[str, Any]:
    """A rule as JSON-native data (kind, range, unit, length…), for the phone's catalogue."""
    return _DESCRIPTION[check]


def urgent() -> dict[str, Any]:
    """SPEC 3's referral thresholds, for the phone's catalogue."""
    return {
        "glucose_below": GLUCOSE_SAFE[0],
        "glucose_above": GLUCOSE_SAFE[1],
        "bp_systolic_at_least": BP_URGENT[0],
        "bp_diastolic_at_least": BP_URGENT[1],
    }


def check(
    entity: str, rules: Mapping[str, Validator], fields: Mapping[str, Any], now: datetime
) -> tuple[dict[str, Any], Errors]:
    """Canonical values of the valid fields, and messages for the others."""
    clean: dict[str, Any] = {}
    errors: Errors = {}
    for name, value in fields.items():
        rule = rules.get(name)
        if rule is None:
            errors[printable(name)] = [Message(UNKNOWN_FIELD, entity=entity)]
            continue
        try:
            clean[name] = rule(value, now)
        except Invalid as exc:
            errors[name] = [exc.message]
    return clean, errors


def check_record(record: Mapping[str, Any], required: tuple[str, ...] = ()) -> Errors:
    """Rules across fields every entity shares, on the record as it would be after the write:
    ``required`` present (a creation's), diastolic below systolic, a reason to void."""
    errors: Errors = {}
    for name in required:
        if record.get(name) in (None, ""):
            errors.setdefault(name, []).append(Message(REQUIRED))
    sys, dia = record.get("bp_systolic"), record.get("bp_diastolic")
    if sys is not None and dia is not None and dia >= sys:
        errors.setdefault("bp_diastolic", []).append(Message(BELOW_SYSTOLIC))
    if record.get("voided") and not record.get("void_reason"):
        errors.setdefault("void_reason", []).append(Message(VOID_REASON))
    return errors
