"""What the evaluation records (RECORDS.md) share: who may write them and how they find the
participant or peer leader they are about.

Two kinds:

- ``ParticipantRecord`` (measurement, assessment): about one participant, written by peer
  leaders for participants in their scope and by staff; a peer leader pulls those of the
  participants in their scope; the participant's community is copied onto the row.
- ``StaffRecord`` (supervision, training, implementation rating): written and read by
  coordinators (their community) and administrators (their own, offline); never by peer leaders
  or volunteers.

Volunteers neither write nor receive any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sync import scope
from sync.entities.base import Batch, Entity, Errors, Mark, Record
from sync.entities.lookups import need_participant, participant_of
from sync.models import Role
from sync.outcomes import BEFORE_ENROLMENT, too_early
from sync.scope import Actor
from sync.wire import Message, template

VOLUNTEERS_DO_NOT = template("volunteers do not record this")
PEER_LEADERS_DO_NOT = template("only coordinators and administrators record this")
OUTSIDE_COMMUNITY = template("this record is outside your community")
NO_PARTICIPANT = template("no such participant in your scope")
PARTICIPANT_STAYS = template("a record stays with its participant")
BEFORE_ENROLLED = template(
    "must not be more than 90 days before the participant's enrolment (%(date)s)"
)


class ParticipantRecord(Entity):
    """A record about one participant (``participant_id``), dated by ``date_field``."""

    date_field: str
    author_field = "entered_by_id"

    def own_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        # The participants a peer leader pulls (assigned, or in a group they lead), looked up
        # row by row through the participant's key: ``participant_id IN (SELECT id FROM
        # participant WHERE …)`` made SQLite list the whole caseload first, on every pull page,
        # even when no record of this kind had changed (2 ms a page for 2,000 participants).
        cond, params = scope.led_filter(actor, mark, of="led")
        return (
            f"EXISTS (SELECT 1 FROM participant AS led "
            f"WHERE led.id = {self.table}.participant_id AND {cond})",
            params,
        )

    def write_errors(
        self, actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Errors:
        if actor.role is Role.VOLUNTEER:
            return {"id": [Message(VOLUNTEERS_DO_NOT)]}
        if current is not None:
            if "participant_id" in fields and fields["participant_id"] != current["participant_id"]:
                return {"participant_id": [Message(PARTICIPANT_STAYS)]}
            if actor.role is Role.COORDINATOR and current.get("community_id") != actor.community_id:
                return {"id": [Message(OUTSIDE_COMMUNITY)]}
        return {}

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        need_participant(batch, merged)

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        """The participant is in the writer's scope; the row takes its community, the writer
        as its author, and is not dated long before the participant's enrolment."""
        participant = participant_of(batch, after, self.author_field)
        if participant is None:
            return {"participant_id": [Message(NO_PARTICIPANT)]}
        enrolled = participant.get("enrolled_on")
        day = after.get(self.date_field)
        if day and enrolled and too_early(date.fromisoformat(day), date.fromisoformat(enrolled)):
            earliest = date.fromisoformat(enrolled) - BEFORE_ENROLMENT
            return {self.date_field: [Message(BEFORE_ENROLLED, date=earliest.isoformat())]}
        return {}


def before_enrolment_rule(entities: Mapping[str, Entity]) -> dict[str, Any]:
    """``ParticipantRecord.reference_errors``' date rule for the phone's catalogue: the date
    field of each record about a participant, how many days before the enrolment it may be,
    and the refusal's message (its template: the phone renders it in its language)."""
    return {
        "days": BEFORE_ENROLMENT.days,
        "fields": {
            name: e.date_field for name, e in entities.items() if isinstance(e, ParticipantRecord)
        },
        "message": str(BEFORE_ENROLLED),
    }


class StaffRecord(Entity):
    """Written and read by coordinators (their community) and administrators."""

    # The column naming the staff member who wrote it (set by the server).
    author_field: str

    def own_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        # Peer leaders receive none; an administrator's phone, what they wrote.
        if actor.role is not Role.ADMIN:
            return None
        return f"{self.author_field} = {mark(1)[0]}", [actor.user_id]

    def write_errors(
        self, actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Errors:
        if actor.role is Role.VOLUNTEER:
            return {"id": [Message(VOLUNTEERS_DO_NOT)]}
        if actor.role is Role.PEER_LEADER:
            return {"id": [Message(PEER_LEADERS_DO_NOT)]}
        if (
            current is not None
            and actor.role is Role.COORDINATOR
            and current.get("community_id") != actor.community_id
        ):
            return {"id": [Message(OUTSIDE_COMMUNITY)]}
        return {}

    def set_author(self, batch: Batch, after: Record) -> None:
        if not after.get(self.author_field):
            after[self.author_field] = batch.actor.user_id


def in_community(actor: Actor, community: str | None) -> bool:
    """Whether a coordinator (or an administrator: any) may write for ``community``."""
    return actor.role is Role.ADMIN or (community is not None and community == actor.community_id)


def today(now: datetime) -> date:
    return now.date()
