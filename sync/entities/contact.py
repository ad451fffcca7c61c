"""A contact: one conversation of a peer leader with a participant (SPEC 3), or a participant's
attendance of a group meeting (made by ``sync.entities.group_meeting``, ``meeting_id`` set).

Its after-change hook keeps the participant's ``last_contact_at`` / ``next_follow_up_on`` (the
latest non-voided contact's) in step, in the same batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sync import models
from sync import validate as v
from sync.entities import measurement
from sync.entities.base import Batch, Entity, Errors, Mark, Record, Rules, Values
from sync.entities.lookups import need_participant, participant_of
from sync.models import ContactMode, KeyFunction, Referral, Role
from sync.scope import Actor
from sync.wire import Message, template

# What the contacts keep in step on their participant (read in part: ``PARTICIPANT_REF_COLUMNS``).
DERIVED = ("last_contact_at", "next_follow_up_on")

VOLUNTEER_NO_CONTACTS = template("volunteers do not record contacts")
CONTACT_FROM_MEETING = template("this contact comes from a group meeting: edit the meeting instead")
ONLY_AUTHOR = template("only the author can change a contact")
OUTSIDE_COMMUNITY_CONTACT = template("this contact is outside your community")
NO_PARTICIPANT = template("no such participant in your scope")


class Contact(Entity):
    name = "contact"
    model = models.Contact
    defaults: ClassVar[Values] = {
        "functions": [],
        "topics": [],
        "referral": "none",
        "voided": False,
    }
    rules: ClassVar[Rules] = {
        "participant_id": v.ident(required=True),
        "occurred_at": v.instant,
        "mode": v.enum(v.values_of(ContactMode), required=True),
        "duration_min": v.number(1, 1440, "minutes", whole=True),
        "functions": v.list_of(v.choice(v.values_of(KeyFunction)), "functions"),
        "topics": v.list_of(v.word, "topics"),
        "referral": v.enum(v.values_of(Referral), required=True),
        "referral_reason": v.text(200),
        "referral_to": v.text(120),
        "glucose_mmol": v.number(1, 35, "mmol/L"),
        "bp_systolic": v.number(60, 260, "mmHg", whole=True),
        "bp_diastolic": v.number(30, 160, "mmHg", whole=True),
        "weight_kg": v.number(20, 300, "kg"),
        "follow_up_on": v.calendar_date(future=v.FOLLOW_UP_HORIZON),
        "note": v.text(v.NOTE),
        "voided": v.boolean,
        "void_reason": v.text(200),
    }
    required = ("participant_id", "occurred_at", "mode")
    server_set = ("peer_leader_id", "community_id", "meeting_id")
    refers_to = ("participant", "group_meeting")

    def own_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        return f"peer_leader_id = {mark(1)[0]}", [actor.user_id]

    def write_errors(
        self, actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Errors:
        if actor.role is Role.VOLUNTEER:
            return {"id": [Message(VOLUNTEER_NO_CONTACTS)]}
        if current is None:
            return {}
        if current.get("meeting_id"):
            return {"id": [Message(CONTACT_FROM_MEETING)]}
        if actor.role is Role.PEER_LEADER and current.get("peer_leader_id") != actor.user_id:
            return {"id": [Message(ONLY_AUTHOR)]}
        if actor.role is Role.COORDINATOR and current.get("community_id") != actor.community_id:
            return {"id": [Message(OUTSIDE_COMMUNITY_CONTACT)]}
        return {}

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        need_participant(batch, merged)
        if current is not None:  # a new contact's values have no rows yet
            measurement.contact_refers(batch, rid)

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        if participant_of(batch, after, "peer_leader_id") is None:
            return {"participant_id": [Message(NO_PARTICIPANT)]}
        return {}

    def after_change(self, batch: Batch, before: Record | None, after: Record) -> None:
        touched(batch, after["id"], before["participant_id"] if before else None, after)
        # Reported glucose, blood pressure and weight: self-reported measurements.
        measurement.contact_changed(batch, after, created=before is None)


# --- the participant's latest contact -------------------------------------------------------------


@dataclass
class _Touched:
    participants: set[str] = field(default_factory=set)  # whose contacts changed
    recompute: set[str] = field(default_factory=set)  # … by an edit, not only a new contact
    # Contacts in the database that this batch changes → their participant there.
    was: dict[str, str] = field(default_factory=dict)


def touched(batch: Batch, contact_id: str, was: str | None, after: Record) -> None:
    """A contact is written with the batch (``was``: its participant before, None if new): its
    participants' last contact and next follow-up are derived again before the writes."""
    state = batch.shared(_Touched, _Touched)
    if not state.participants:
        batch.before_write(_derive_participant_fields)
    state.participants.add(after["participant_id"])
    if was is not None:
        state.recompute.add(after["participant_id"])
        state.was.setdefault(contact_id, was)
        if was != after["participant_id"]:
            state.participants.add(was)
            state.recompute.add(was)


async def _derive_participant_fields(batch: Batch) -> None:
    """``last_contact_at`` / ``next_follow_up_on``: the latest non-voided contact's."""
    state = batch.shared(_Touched, _Touched)
    latest: dict[str, tuple[str, str | None]] = {}
    if state.recompute:
        # The latest of what the database holds (less the contacts changed here), then the
        # batch's own contacts as they now stand.
        for r in await _latest_stored(batch, state):
            latest[r["participant_id"]] = (r["occurred_at"], r["follow_up_on"])
        for (entity, _cid), r in batch.records.items():
            if entity != "contact" or r["voided"]:
                continue
            pid = r["participant_id"]
            if pid not in state.recompute:
                continue
            best = latest.get(pid)
            if best is None or r["occurred_at"] > best[0]:
                latest[pid] = (r["occurred_at"], r["follow_up_on"])
    # Participants with only new contacts: the newest of those against what they have.
    newest: dict[str, tuple[str, str | None]] = {}
    for key in batch.dirty:
        if key[0] != "contact":
            continue
        c = batch.records[key]
        pid = c["participant_id"]
        if c["voided"] or pid in state.recompute:
            continue
        best = newest.get(pid)
        if best is None or c["occurred_at"] > best[0]:
            newest[pid] = (c["occurred_at"], c["follow_up_on"])
    for pid in state.participants:
        participant = batch.records.get(("participant", pid))
        if participant is None:
            continue
        if pid in state.recompute:
            at, follow_up = latest.get(pid, (None, None))
        else:
            at, follow_up = participant.get("last_contact_at"), participant.get("next_follow_up_on")
            candidate = newest.get(pid)
            if candidate is not None and (at is None or candidate[0] > at):
                at, follow_up = candidate
        if (at, follow_up) != (
            participant.get("last_contact_at"),
            participant.get("next_follow_up_on"),
        ):
            batch.put(
                "participant",
                {
                    **participant,
                    "last_contact_at": at,
                    "next_follow_up_on": follow_up,
                    "version": participant["version"] + 1,
                    "updated_at": batch.now_text,
                },
                DERIVED,
            )


async def _latest_stored(batch: Batch, state: _Touched) -> list[dict[str, Any]]:
    """Per participant whose contacts were edited, the latest non-voided contact in the
    database, leaving out the contacts this batch changed: one row each through the
    (participant_id, occurred_at) index, however many contacts a participant has. (Reading
    all of their contacts made a push's cost grow with the table: BENCHMARKS.md.)"""
    dialect = batch.dialect
    recompute = sorted(state.recompute)
    columns = "participant_id, occurred_at, follow_up_on"
    if dialect.postgres:
        # One statement whatever the counts (one prepared plan, see ``Dialect.one_of``).
        raw = await batch.conn.execute_query_dict(
            f"SELECT c.{columns.replace(', ', ', c.')} FROM unnest($1::uuid[]) AS p(id) "
            f"CROSS JOIN LATERAL (SELECT {columns} FROM contact WHERE participant_id = p.id "
            "AND NOT voided AND id <> ALL($2::uuid[]) ORDER BY occurred_at DESC LIMIT 1) c",
            [recompute, sorted(state.was)],
        )
        return [dialect.row("contact", r) for r in raw]
    # SQLite: one indexed subquery per participant, as many to a statement as its parameter
    # limit allows. A participant's changed contacts are at most one per mutation.
    changed: dict[str, list[str]] = {}
    for cid, pid in state.was.items():
        changed.setdefault(pid, []).append(cid)
    parts: list[tuple[str, list[Any]]] = []
    for pid in recompute:
        skip = changed.get(pid, [])
        unchanged = f" AND id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        parts.append(
            (
                f"SELECT * FROM (SELECT {columns} FROM contact WHERE participant_id = ? "
                f"AND voided = 0{unchanged} ORDER BY occurred_at DESC LIMIT 1)",
                [pid, *skip],
            )
        )
    out: list[dict[str, Any]] = []
    while parts:
        sql: list[str] = []
        params: list[Any] = []
        while parts and (not sql or len(params) + len(parts[0][1]) <= 900):
            part, values = parts.pop(0)
            sql.append(part)
            params.extend(values)
        raw = await batch.conn.execute_query_dict(" UNION ALL ".join(sql), params)
        out.extend(dialect.row("contact", r) for r in raw)
    return out


ENTITY = Contact()
