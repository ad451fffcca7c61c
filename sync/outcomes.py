"""Clinical outcomes from measurement rows: each marker's baseline, latest and follow-up value,
the participant's derived columns, and where measurements come from (the participant's old
columns, a contact's reported values). Pure: no database, no HTTP.

The rules (SPEC 2, RECORDS.md):

- A voided row never counts.
- Baseline: the earliest ``clinic`` row of the marker, or, when there is none, the earliest row.
- Latest: the newest row not dated before the baseline (a "latest" from before the baseline
  moved a community's HbA1c change from −0.26 to −0.18 in the evaluator's test).
- Follow-up: the newest row dated within a window after the baseline, 3 to 9 months by
  default; the evaluator chooses the window.
- Rows of the same day are ordered by ``order`` (the change sequence: the one written first
  comes first), then by id, so every caller picks the same row.
"""

from __future__ import annotations

import calendar
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sync.models import Marker, MeasurementSource

# Marker → (lowest, highest, unit, whole numbers only): the ranges the participant's and the
# contact's fields have always had (SPEC 3).
MARKER_RANGES: dict[str, tuple[float, float, str, bool]] = {
    Marker.HBA1C: (3, 20, "%", False),
    Marker.GLUCOSE: (1, 35, "mmol/L", False),
    Marker.BP_SYSTOLIC: (60, 260, "mmHg", True),
    Marker.BP_DIASTOLIC: (30, 160, "mmHg", True),
    Marker.WEIGHT: (20, 300, "kg", False),
}

# A measurement dated more than this before the participant's enrolment is refused: a baseline
# may be taken shortly before enrolling, a value from years ago is a typing mistake.
BEFORE_ENROLMENT = timedelta(days=90)


def too_early(measured_on: date, enrolled_on: date | None) -> bool:
    """Whether a measurement of this day is dated too long before the enrolment."""
    return enrolled_on is not None and measured_on < enrolled_on - BEFORE_ENROLMENT


@dataclass(frozen=True)
class Reading:
    """What the rules need of one measurement row."""

    marker: str
    value: float
    measured_on: date
    source: str = MeasurementSource.CLINIC.value
    voided: bool = False
    order: int = 0  # the row's ``seq``
    id: str = ""


@dataclass(frozen=True)
class Window:
    """The follow-up window, in whole months after the baseline's day, both ends included."""

    first_month: int = 3
    last_month: int = 9

    def __post_init__(self) -> None:
        if not 0 <= self.first_month <= self.last_month:
            raise ValueError("a follow-up window needs 0 <= first_month <= last_month")

    def bounds(self, baseline_on: date) -> tuple[date, date]:
        return add_months(baseline_on, self.first_month), add_months(baseline_on, self.last_month)


DEFAULT_WINDOW = Window()


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it is shorter (31 Aug + 6
    months = 28 or 29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _rows(readings: Iterable[Reading], marker: str) -> list[Reading]:
    rows = [r for r in readings if r.marker == marker and not r.voided]
    rows.sort(key=lambda r: (r.measured_on, r.order, r.id))
    return rows


def baseline(readings: Iterable[Reading], marker: str) -> Reading | None:
    rows = _rows(readings, marker)
    clinic = [r for r in rows if r.source == MeasurementSource.CLINIC]
    pool = clinic or rows
    return pool[0] if pool else None


def _from_baseline(
    readings: Iterable[Reading], marker: str
) -> tuple[list[Reading], Reading] | None:
    """The marker's counted rows in order, and the baseline among them."""
    rows = _rows(readings, marker)
    first = baseline(rows, marker)
    return None if first is None else (rows, first)


def latest(
    readings: Iterable[Reading], marker: str, *, until: date | None = None
) -> Reading | None:
    """The newest row on or after the baseline's day (and on or before ``until``); it is the
    baseline itself when nothing newer counts."""
    found = _from_baseline(readings, marker)
    if found is None:
        return None
    rows, first = found
    counted = [
        r
        for r in rows
        if r.measured_on >= first.measured_on and (until is None or r.measured_on <= until)
    ]
    return counted[-1] if counted else None


def follow_up(
    readings: Iterable[Reading],
    marker: str,
    *,
    window: Window = DEFAULT_WINDOW,
    until: date | None = None,
) -> Reading | None:
    """The newest row within the window after the baseline (and on or before ``until``)."""
    found = _from_baseline(readings, marker)
    if found is None:
        return None
    rows, first = found
    start, end = window.bounds(first.measured_on)
    if until is not None:
        end = min(end, until)
    inside = [r for r in rows if start <= r.measured_on <= end and r is not first]
    return inside[-1] if inside else None


def change(
    readings: Iterable[Reading],
    marker: str,
    *,
    window: Window = DEFAULT_WINDOW,
    until: date | None = None,
) -> float | None:
    """Follow-up minus baseline, or None without both."""
    rows = list(readings)
    first = baseline(rows, marker)
    later = follow_up(rows, marker, window=window, until=until)
    if first is None or later is None:
        return None
    return later.value - first.value


# --- where measurement rows come from -------------------------------------------------------------

# Participant column → (its date column, marker): the values migration 0010 moved into rows,
# and what a coordinator writing these columns (old phones, the import) still creates.
PARTICIPANT_READINGS: tuple[tuple[str, str, Marker], ...] = (
    ("hba1c_baseline", "hba1c_baseline_on", Marker.HBA1C),
    ("hba1c", "hba1c_on", Marker.HBA1C),
    ("bp_systolic", "bp_on", Marker.BP_SYSTOLIC),
    ("bp_diastolic", "bp_on", Marker.BP_DIASTOLIC),
    ("weight_kg", "weight_on", Marker.WEIGHT),
)

# The participant's clinical columns, derived from the rows and kept in step by the measurement
# after-write hook; they stay on the wire (read-only) for the phones that show them.
PARTICIPANT_DERIVED = tuple(
    dict.fromkeys(name for column, on, _ in PARTICIPANT_READINGS for name in (column, on))
)

# Contact column → marker: a contact's reported values, each a ``self_report`` row.
CONTACT_READINGS: tuple[tuple[str, Marker], ...] = (
    ("glucose_mmol", Marker.GLUCOSE),
    ("bp_systolic", Marker.BP_SYSTOLIC),
    ("bp_diastolic", Marker.BP_DIASTOLIC),
    ("weight_kg", Marker.WEIGHT),
)

# --- the participant's derived columns ------------------------------------------------------------


def participant_columns(readings: Iterable[Reading]) -> dict[str, Any]:
    """The participant's derived columns from their measurement rows.

    ``hba1c`` is the latest HbA1c other than the baseline (null until remeasured, as the
    column always was); blood pressure and weight are their latest values, with no baseline
    column. A blood-pressure reading is the newest day with one: its systolic and diastolic
    rows of that day."""
    rows = list(readings)
    out: dict[str, Any] = dict.fromkeys(PARTICIPANT_DERIVED)
    first = baseline(rows, Marker.HBA1C)
    if first is not None:
        out["hba1c_baseline"], out["hba1c_baseline_on"] = first.value, first.measured_on
        last = latest(rows, Marker.HBA1C)
        if last is not None and last is not first:
            out["hba1c"], out["hba1c_on"] = last.value, last.measured_on
    pressure = [
        r
        for marker in (Marker.BP_SYSTOLIC, Marker.BP_DIASTOLIC)
        if (r := latest(rows, marker)) is not None
    ]
    if pressure:
        day = max(r.measured_on for r in pressure)
        out["bp_on"] = day
        for marker, column in (
            (Marker.BP_SYSTOLIC, "bp_systolic"),
            (Marker.BP_DIASTOLIC, "bp_diastolic"),
        ):
            same_day = [r for r in _rows(rows, marker) if r.measured_on == day]
            if same_day:
                out[column] = round(same_day[-1].value)
    weight = latest(rows, Marker.WEIGHT)
    if weight is not None:
        out["weight_kg"], out["weight_on"] = weight.value, weight.measured_on
    return out


# --- ids and days of derived rows ------------------------------------------------------------------

# Ids of derived rows are made from what they derive from, so that writing them again (a
# replayed hook, an edited contact, a migration run on a copy) finds the same row.
_CONTACT_NS = uuid.UUID("8f0d2c4e-6b1a-4e57-9d3c-2a7f5e9b1c60")
_PARTICIPANT_NS = uuid.UUID("3c9e7a15-0f42-4b8d-a6e1-5d2b8c7f4a93")


def contact_reading_id(contact_id: uuid.UUID | str, marker: str) -> uuid.UUID:
    """The id of the ``self_report`` row holding a contact's reported value of ``marker``."""
    return uuid.uuid5(_CONTACT_NS, f"{contact_id}/{marker}")


_CONTACT_NS_BYTES = _CONTACT_NS.bytes


def contact_reading_key(contact_id: str, marker: str) -> str:
    """``str(contact_reading_id(contact_id, marker))`` without the two ``UUID`` objects: the
    push makes one per reported value of every contact it writes (``uuid.uuid5`` and ``str``
    were a tenth of a push's Python). The same SHA-1 name-based UUID (RFC 4122, version 5)."""
    digest = bytearray(hashlib.sha1(_CONTACT_NS_BYTES + f"{contact_id}/{marker}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def participant_reading_id(participant_id: uuid.UUID | str, column: str, version: int) -> uuid.UUID:
    """The id of the row made from a participant's ``column`` as it was at ``version``."""
    return uuid.uuid5(_PARTICIPANT_NS, f"{participant_id}/{column}/{version}")


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The program's calendar day of an instant (a contact's reported value is dated so)."""
    return instant.astimezone(zone).date()


def contact_readings(contact: Mapping[str, Any]) -> list[tuple[str, Marker, Any]]:
    """(column, marker, value) of each value a contact reports."""
    return [
        (column, marker, contact[column])
        for column, marker in CONTACT_READINGS
        if contact.get(column) is not None
    ]
