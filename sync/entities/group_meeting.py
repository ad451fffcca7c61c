"""A group meeting: a peer leader's session with one of their groups (SPEC 3). Its attendance
(``attendee_ids``) becomes one ``group_meeting`` contact per attendee, kept in step with the
meeting by its after-change hook.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from sync import models, scope
from sync import validate as v
from sync.entities import contact
from sync.entities.base import Batch, Entity, Errors, Lookup, Mark, Record, Rules, Values
from sync.entities.lookups import GROUPS, PARTICIPANTS
from sync.models import Role
from sync.scope import Actor
from sync.wire import Message, Template, template

# Contacts expanded from a meeting get ids derived from (meeting, participant): replaying or
# editing the meeting finds the same contacts instead of making new ones.
MEETING_CONTACT_NS = uuid.UUID("5b0f3c52-0a43-4a3e-9d5e-3f5a1f0c7e21")

REMOVED_FROM_MEETING = "removed from the meeting's attendance"
MEETING_VOIDED = "the group meeting was voided"

VOLUNTEER_NO_MEETINGS = template("volunteers do not record group meetings")
NOT_YOUR_GROUP = template("this meeting belongs to a group you do not lead")
OUTSIDE_COMMUNITY_MEETING = template("this meeting is outside your community")
NO_MEETING_GROUP = template("no such group among the groups you may record for")
# ``index`` is the wire's (0-based); ``number`` counts from 1, for people.
BAD_ATTENDEE = template(
    "item %(index)s is not a participant of this community in your scope", "number"
)


async def _contacts(batch: Batch, meetings: list[str]) -> dict[str, Any]:
    stored = [i for i in meetings if ("group_meeting", i) in batch.existing]
    for row in await batch.fetch("contact", stored, key="meeting_id"):
        if ("contact", row["id"]) not in batch.records:
            batch.keep("contact", row)
    return {}


# The contacts of the meetings a batch changes (as ``records``); found: nothing.
MEETING_CONTACTS = Lookup("meeting contacts", _contacts)


class LedRecord(Entity):
    """A record of a group's life (a meeting, a group activity): a peer leader pulls and changes
    those they wrote or of a group they lead, a coordinator those of their community; not a
    volunteer's to write."""

    volunteer_refusal: ClassVar[Template]
    not_yours_refusal: ClassVar[Template]
    outside_refusal: ClassVar[Template]

    def own_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        return scope.led_filter(actor, mark)

    def write_errors(
        self, actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Errors:
        if actor.role is Role.VOLUNTEER:
            return {"id": [Message(self.volunteer_refusal)]}
        if current is None:
            return {}
        if actor.role is Role.PEER_LEADER and not (
            current.get("group_id") in actor.group_ids
            or current.get("peer_leader_id") == actor.user_id
        ):
            return {"id": [Message(self.not_yours_refusal)]}
        if actor.role is Role.COORDINATOR and current.get("community_id") != actor.community_id:
            return {"id": [Message(self.outside_refusal)]}
        return {}


class GroupMeeting(LedRecord):
    name = "group_meeting"
    model = models.GroupMeeting
    defaults: ClassVar[Values] = {"attendee_ids": [], "voided": False}
    rules: ClassVar[Rules] = {
        "group_id": v.ident(required=True),
        "occurred_at": v.instant,
        "place": v.text(200),
        "topic": v.text(200),
        "co_leader": v.text(120),
        "attendee_ids": v.list_of(v.id_item, "attendee_ids", max_items=500),
        "note": v.text(v.NOTE),
        "voided": v.boolean,
        "void_reason": v.text(200),
    }
    required = ("group_id", "occurred_at")
    server_set = ("peer_leader_id", "community_id")
    refers_to = ("group",)

    volunteer_refusal = VOLUNTEER_NO_MEETINGS
    not_yours_refusal = NOT_YOUR_GROUP
    outside_refusal = OUTSIDE_COMMUNITY_MEETING

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        batch.need(PARTICIPANTS, merged.get("attendee_ids") or [])
        if current is not None:
            batch.need(PARTICIPANTS, current.get("attendee_ids") or [])
        if merged.get("group_id"):
            batch.need(GROUPS, [merged["group_id"]])
        batch.need(MEETING_CONTACTS, [rid])

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        actor = batch.actor
        group = batch.found(GROUPS).get(after.get("group_id") or "")
        if group is None or not scope.group_writable(actor, group):
            return {"group_id": [Message(NO_MEETING_GROUP)]}
        after["community_id"] = group["community_id"]
        if not after.get("peer_leader_id"):
            after["peer_leader_id"] = actor.user_id
        bad = [
            i
            for i, pid in enumerate(after.get("attendee_ids") or [])
            if not attendee_ok(batch, pid, group)
        ]
        if bad:
            return {"attendee_ids": [Message(BAD_ATTENDEE, index=i, number=i + 1) for i in bad[:5]]}
        return {}

    def after_change(self, batch: Batch, before: Record | None, after: Record) -> None:
        """Keep one ``group_meeting`` contact per attendee in step with the meeting."""
        attendees = set(after.get("attendee_ids") or [])
        previous = set((before or {}).get("attendee_ids") or [])
        meeting_id = after["id"]
        for pid in attendees | previous:
            cid = str(uuid.uuid5(MEETING_CONTACT_NS, f"{meeting_id}:{pid}"))
            existing = batch.records.get(("contact", cid))
            present = pid in attendees and not after.get("voided")
            reason = None
            if not present:
                reason = MEETING_VOIDED if after.get("voided") else REMOVED_FROM_MEETING
            wanted = {
                "participant_id": pid,
                "peer_leader_id": after["peer_leader_id"],
                "community_id": after["community_id"],
                "meeting_id": meeting_id,
                "occurred_at": after["occurred_at"],
                "mode": "group_meeting",
                "voided": not present,
                "void_reason": reason,
            }
            if existing is None:
                if not present:
                    continue
                record = {**batch.blank("contact"), **wanted, "id": cid, "version": 0}
            else:
                if all(existing.get(k) == v for k, v in wanted.items()):
                    continue
                record = {**existing, **wanted}
            record["version"] = record["version"] + 1
            record["updated_at"] = batch.now_text
            batch.put("contact", record)
            contact.touched(batch, cid, pid if existing is not None else None, record)


def attendee_ok(batch: Batch, participant_id: str, group: dict[str, Any]) -> bool:
    participant = batch.records.get(("participant", participant_id))
    return (
        participant is not None
        and participant["community_id"] == group["community_id"]
        and scope.participant_visible(batch.actor, participant)
    )


ENTITY = GroupMeeting()
