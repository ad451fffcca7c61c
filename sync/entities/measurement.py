"""A measurement: one dated value of one clinical marker for a participant (RECORDS.md).

Peer leaders record them for participants in their scope, staff for their community. The
value's range depends on the marker (``sync.outcomes.MARKER_RANGES``: the ranges the
participant's and the contact's fields have always had). A measurement is refused when dated in
the future or more than 90 days before the participant's enrolment.

Two other records make measurements, through hooks of this module:

- a contact's reported glucose, blood pressure and weight become ``self_report`` rows with
  ``contact_id`` set (one row per contact and marker, id ``outcomes.contact_reading_id``): an
  edited value updates its row, a cleared one or a voided contact voids it;
- a coordinator writing a participant's HbA1c, blood pressure or weight (old phones, the import)
  makes ``clinic`` rows.

After any of these, the participant's derived columns (baseline and latest HbA1c, blood
pressure, weight: ``outcomes.participant_columns``) are computed again before the writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from sync import models, outcomes
from sync.entities.base import Batch, Errors, Key, Lookup, Record, Rules, Values
from sync.entities.evaluation import ParticipantRecord
from sync.models import Marker, MeasurementSource
from sync.scope import Actor
from sync.validate import (
    NOT_WHOLE,
    OUT_OF_RANGE_UNIT,
    boolean,
    calendar_date,
    enum,
    ident,
    number,
    text,
    values_of,
)
from sync.wire import Message, template

FROM_A_CONTACT = template("this value comes from a contact: edit the contact instead")


class Measurement(ParticipantRecord):
    name = "measurement"
    date_field = "measured_on"
    model = models.Measurement
    defaults: ClassVar[Values] = {"source": MeasurementSource.CLINIC.value, "voided": False}
    rules: ClassVar[Rules] = {
        "participant_id": ident(required=True),
        "marker": enum(values_of(Marker), required=True),
        # Any plausible number; each marker's own range is checked on the record, so that the
        # message names it ("must be between 3 and 20 %").
        "value": number(0, 1000, ""),
        "measured_on": calendar_date(),
        "source": enum(values_of(MeasurementSource), required=True),
        "note": text(200),
        "voided": boolean,
        "void_reason": text(200),
    }
    required = ("participant_id", "marker", "value", "measured_on")
    server_set = ("community_id", "entered_by_id", "contact_id")
    refers_to = ("participant", "contact")

    def write_errors(
        self, actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Errors:
        errors = super().write_errors(actor, current, fields)
        if not errors and current is not None and current.get("contact_id"):
            return {"id": [Message(FROM_A_CONTACT)]}
        return errors

    def record_errors(self, record: Mapping[str, Any], creating: bool) -> Errors:
        errors = super().record_errors(record, creating)
        value, marker = record.get("value"), record.get("marker")
        if value is not None and marker in outcomes.MARKER_RANGES:
            low, high, unit, whole = outcomes.MARKER_RANGES[marker]
            if whole and not float(value).is_integer():
                errors.setdefault("value", []).append(Message(NOT_WHOLE))
            elif not low <= value <= high:
                errors.setdefault("value", []).append(
                    Message(OUT_OF_RANGE_UNIT, low=_fmt(low), high=_fmt(high), unit=unit)
                )
        return errors

    def after_change(self, batch: Batch, before: Record | None, after: Record) -> None:
        changed(batch, after["participant_id"], after["marker"], before and before["marker"])


def _fmt(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


# --- the participant's derived columns ------------------------------------------------------------


@dataclass
class _Changed:
    participants: set[str] = field(default_factory=set)
    # (participant id, column, value, day, version): values staff wrote on the participant.
    written: list[tuple[str, str, float, str, int]] = field(default_factory=list)


# The markers the participant's derived columns show (a glucose reading derives nothing).
DERIVED_MARKERS = frozenset(m.value for _, _, m in outcomes.PARTICIPANT_READINGS)


def changed(batch: Batch, participant_id: str, *markers: Any) -> None:
    """A measurement of this participant is written with the batch: their derived columns are
    computed again before the writes, when it is of a marker they show. Deriving reads all
    the participant's rows, so a contact's reported glucose (most of them) must not ask for it."""
    if not DERIVED_MARKERS.intersection(markers):
        return
    state = batch.shared(_Changed, _Changed)
    if not state.participants:
        batch.before_write(_derive)
    state.participants.add(participant_id)


def participant_changed(batch: Batch, before: Record | None, after: Record) -> None:
    """Staff wrote a participant's clinical columns (old phones, the import): each new value
    becomes a ``clinic`` row dated by its date column (or today) before the columns are derived
    again. It replaces the row the column showed when that row is of the same day (a
    correction), and the baseline row whatever its day (the column says which the baseline is)."""
    for column, on, marker in outcomes.PARTICIPANT_READINGS:
        value = after.get(column)
        if value is None:
            continue
        if before is not None and (before.get(column), before.get(on)) == (value, after.get(on)):
            continue
        day = after.get(on) or _local_day(batch, batch.now_text)
        batch.shared(_Changed, _Changed).written.append(
            (after["id"], column, float(value), day, after["version"])
        )
        changed(batch, after["id"], marker.value)


async def _derive(batch: Batch) -> None:
    state = batch.shared(_Changed, _Changed)
    people = sorted(p for p in state.participants if ("participant", p) in batch.records)
    if not people:
        return
    for row in await batch.fetch("measurement", people, key="participant_id"):
        if ("measurement", row["id"]) not in batch.records:
            batch.keep("measurement", row)
    # Built with one walk of the batch's records: an import of N participants writes ~5N
    # columns, and a walk per column made the batch quadratic (bench/bench_import.py).
    readings = _Readings(batch, set(people))
    for pid, column, value, day, version in state.written:
        _write_column(batch, readings, pid, column, value, day, version)
    for pid in people:
        participant = batch.records[("participant", pid)]
        derived = {
            k: v.isoformat() if isinstance(v, date) else v
            for k, v in outcomes.participant_columns(readings.of(pid)).items()
        }
        if all(participant.get(k) == v for k, v in derived.items()):
            continue
        batch.put(
            "participant",
            {
                **participant,
                **derived,
                "version": participant["version"] + 1,
                "updated_at": batch.now_text,
            },
            outcomes.PARTICIPANT_DERIVED,
        )


class _Readings:
    """The participants' rows as they now stand, by participant, kept in step with the rows
    ``_write_column`` writes. A row written by this batch has no sequence number yet, but it
    is written after every stored one: it comes after them, in the batch's order."""

    TOP = 1 << 62

    def __init__(self, batch: Batch, people: set[str]) -> None:
        self.batch = batch
        self.position: dict[Key, int] = {}  # in ``batch.records``, which only grows
        self.keys: dict[str, dict[Key, None]] = {}
        self.made: dict[str, list[outcomes.Reading]] = {}
        for n, (key, r) in enumerate(batch.records.items()):
            if key[0] == "measurement" and r.get("participant_id") in people:
                self.position[key] = n
                self.keys.setdefault(r["participant_id"], {})[key] = None

    def of(self, pid: str) -> list[outcomes.Reading]:
        if pid not in self.made:
            self.made[pid] = [self._reading(key) for key in self.keys.get(pid, {})]
        return self.made[pid]

    def put(self, rid: str, existing: Record | None, wanted: dict[str, Any]) -> None:
        """``_put_derived``, then the row counts among its participant's."""
        key = ("measurement", rid)
        _put_derived(self.batch, rid, existing, wanted)
        if key not in self.position:
            if key not in self.batch.records:
                return  # nothing written
            self.position[key] = len(self.batch.records) - 1  # a new key is the last
        pid = self.batch.records[key]["participant_id"]
        self.keys.setdefault(pid, {})[key] = None
        self.made.pop(pid, None)

    def _reading(self, key: Key) -> outcomes.Reading:
        batch, r = self.batch, self.batch.records[key]
        fresh = key in batch.dirty or key not in batch.existing
        return outcomes.Reading(
            marker=r["marker"],
            value=float(r["value"]),
            measured_on=date.fromisoformat(r["measured_on"]),
            source=r["source"],
            voided=bool(r["voided"]),
            order=self.TOP + self.position[key] if fresh else int(r["seq"]),
            id=r["id"],
        )


def _write_column(
    batch: Batch,
    readings: _Readings,
    pid: str,
    column: str,
    value: float,
    day: str,
    version: int,
) -> None:
    marker = next(m for c, _, m in outcomes.PARTICIPANT_READINGS if c == column)
    rows = readings.of(pid)
    shown = (
        outcomes.baseline(rows, marker)
        if column == "hba1c_baseline"
        else outcomes.latest(rows, marker)
    )
    if shown is not None and (column == "hba1c_baseline" or shown.measured_on.isoformat() == day):
        old = batch.records[("measurement", shown.id)]
        if not old.get("contact_id"):
            readings.put(shown.id, old, {"voided": True, "void_reason": REPLACED})
    participant = batch.records[("participant", pid)]
    rid = str(outcomes.participant_reading_id(pid, column, version))
    readings.put(
        rid,
        batch.records.get(("measurement", rid)),
        {
            "participant_id": pid,
            "community_id": participant["community_id"],
            "entered_by_id": batch.actor.user_id,
            "contact_id": None,
            "marker": marker.value,
            "value": value,
            "measured_on": day,
            "source": MeasurementSource.CLINIC.value,
            "voided": False,
            "void_reason": None,
        },
    )


# The reason a row is voided when staff write another value in its place on the participant.
REPLACED = "已在参与者资料中替换 · replaced on the participant's record"


# --- rows made from a contact's reported values ----------------------------------------------------


async def _contact_rows(batch: Batch, ids: list[str]) -> dict[str, Any]:
    ids = [i for i in ids if ("measurement", i) not in batch.records]
    for row in await batch.fetch("measurement", ids):
        batch.keep("measurement", row)
    return {}


# The measurement rows a changed contact's reported values may have (as ``records``).
CONTACT_ROWS = Lookup("contact measurements", _contact_rows)


# (column, marker) of a contact's reported values, the marker as plain text (an enum member's
# ``.value`` is a descriptor call, and this runs for every contact a push writes).
_CONTACT_READINGS = tuple((column, marker.value) for column, marker in outcomes.CONTACT_READINGS)


def contact_refers(batch: Batch, contact_id: str) -> None:
    """A contact mutation: read the rows its reported values may already have."""
    batch.need(
        CONTACT_ROWS,
        [outcomes.contact_reading_key(contact_id, m) for _, m in _CONTACT_READINGS],
    )


def contact_changed(batch: Batch, contact: Record, created: bool = False) -> None:
    """Keep one ``self_report`` row per reported value of ``contact`` in step with it.
    ``created``: the contact is new with this change, so none of its rows exists yet (they are
    read only for contacts that existed, ``contact_refers``): a value it does not report needs
    no row, and no id is made for it."""
    day: str | None = None
    records = batch.records
    for column, marker in _CONTACT_READINGS:
        value = contact.get(column)
        if created and value is None:
            continue
        rid = outcomes.contact_reading_key(contact["id"], marker)
        existing = records.get(("measurement", rid))
        present = value is not None and not contact.get("voided")
        if not present and existing is None:
            continue
        if day is None:
            day = _local_day(batch, contact["occurred_at"])
        wanted: dict[str, Any] = {
            "participant_id": contact["participant_id"],
            "community_id": contact["community_id"],
            "entered_by_id": contact["peer_leader_id"],
            "contact_id": contact["id"],
            "marker": marker,
            "source": _SELF_REPORT,
            "measured_on": day,
            "voided": not present,
        }
        if value is not None and present:
            wanted["value"] = float(value)
            wanted["void_reason"] = None
        else:
            wanted["void_reason"] = contact.get("void_reason") or REMOVED_FROM_CONTACT
        _put_derived(batch, rid, existing, wanted)


_SELF_REPORT = MeasurementSource.SELF_REPORT.value


REMOVED_FROM_CONTACT = "已从联系记录中删除 · cleared on its contact"


def _put_derived(batch: Batch, rid: str, existing: Record | None, wanted: dict[str, Any]) -> None:
    if existing is None:
        record = {**batch.blank("measurement"), **wanted, "id": rid, "version": 0}
    else:
        if all(existing.get(k) == v for k, v in wanted.items()):
            return
        record = {**existing, **wanted}
    record["version"] = record["version"] + 1
    record["updated_at"] = batch.now_text
    batch.put("measurement", record)
    changed(batch, record["participant_id"], record["marker"])


def _local_day(batch: Batch, instant: str) -> str:
    return outcomes.local_day(datetime.fromisoformat(instant), batch.zone).isoformat()


ENTITY = Measurement()
