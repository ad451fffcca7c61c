"""A group activity: a WeChat group session, a neighbourhood activity or community assistance
for one group or one residential committee (RECORDS.md); read and changed like a meeting
(``group_meeting.LedRecord``). It is its own kind of dose: it makes
no contact per person. Peer leaders record them for the groups they lead and the committees of
their community; staff for their community's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sync import models, scope
from sync.entities.base import Batch, Errors, Record, Rules, Values
from sync.entities.evaluation import OUTSIDE_COMMUNITY, VOLUNTEERS_DO_NOT, in_community
from sync.entities.group_meeting import BAD_ATTENDEE, LedRecord, attendee_ok
from sync.entities.lookups import COMMITTEES, GROUPS, PARTICIPANTS
from sync.models import ActivityChannel, KeyFunction, Role
from sync.validate import (
    NOTE,
    boolean,
    choice,
    enum,
    id_item,
    ident,
    instant,
    list_of,
    number,
    text,
    values_of,
)
from sync.wire import Message, template

GROUP_OR_COMMITTEE = template("give a group or a residential committee (one of the two)")
NOT_YOUR_GROUP = template("no such group among the groups you may record for")
NOT_YOUR_COMMITTEE = template("no such residential committee in your community")


class GroupActivity(LedRecord):
    name = "group_activity"
    model = models.GroupActivity
    defaults: ClassVar[Values] = {"functions": [], "attendee_ids": [], "voided": False}
    rules: ClassVar[Rules] = {
        "group_id": ident(),
        "committee_id": ident(),
        "channel": enum(values_of(ActivityChannel), required=True),
        "occurred_at": instant,
        "topic": text(200),
        "functions": list_of(choice(values_of(KeyFunction)), "functions"),
        "participants_count": number(0, 1000, "", whole=True),
        "residents_count": number(0, 5000, "", whole=True),
        "attendee_ids": list_of(id_item, "attendee_ids", max_items=1000, required=False),
        "note": text(NOTE),
        "voided": boolean,
        "void_reason": text(200),
    }
    required = ("channel", "occurred_at")
    server_set = ("community_id", "peer_leader_id")
    refers_to = ("group",)

    volunteer_refusal = VOLUNTEERS_DO_NOT
    not_yours_refusal = NOT_YOUR_GROUP
    outside_refusal = OUTSIDE_COMMUNITY

    def record_errors(self, record: Mapping[str, Any], creating: bool) -> Errors:
        errors = super().record_errors(record, creating)
        if bool(record.get("group_id")) == bool(record.get("committee_id")):
            errors.setdefault("group_id", []).append(Message(GROUP_OR_COMMITTEE))
        return errors

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        if merged.get("group_id"):
            batch.need(GROUPS, [merged["group_id"]])
        if merged.get("committee_id"):
            batch.need(COMMITTEES, [merged["committee_id"]])
        batch.need(PARTICIPANTS, clean.get("attendee_ids") or [])

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        actor = batch.actor
        if bool(after.get("group_id")) == bool(after.get("committee_id")):
            return {}  # one of the two: ``record_errors`` says so
        if after.get("group_id"):
            group = batch.found(GROUPS).get(after["group_id"])
            if group is None or not scope.group_writable(actor, group):
                return {"group_id": [Message(NOT_YOUR_GROUP)]}
            community = group["community_id"]
        else:
            community = batch.found(COMMITTEES).get(after["committee_id"])
            # A peer leader's committees: those of their own community.
            if actor.role is Role.PEER_LEADER:
                allowed = community is not None and community == actor.community_id
            else:
                allowed = in_community(actor, community)
            if not allowed:
                return {"committee_id": [Message(NOT_YOUR_COMMITTEE)]}
        after["community_id"] = community
        if not after.get("peer_leader_id"):
            after["peer_leader_id"] = actor.user_id
        if "attendee_ids" in written:
            bad = [
                i
                for i, pid in enumerate(after.get("attendee_ids") or [])
                if not attendee_ok(batch, pid, {"community_id": community})
            ]
            if bad:
                return {
                    "attendee_ids": [Message(BAD_ATTENDEE, index=i, number=i + 1) for i in bad[:5]]
                }
        return {}


ENTITY = GroupActivity()
