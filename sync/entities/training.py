"""A training session for peer leaders and who attended it (RECORDS.md). Staff only: a
coordinator's sessions belong to their community; an administrator's to the whole program
(``community_id`` null)."""

from __future__ import annotations

from typing import ClassVar

from sync import models
from sync.entities.base import Batch, Errors, Record, Rules, Values
from sync.entities.evaluation import StaffRecord
from sync.entities.lookups import PEER_LEADERS
from sync.models import Role
from sync.validate import NOTE, boolean, calendar_date, id_item, list_of, number, text
from sync.wire import Message, template

BAD_TRAINEE = template("item %(index)s is not a peer leader of your community", "number")


class Training(StaffRecord):
    name = "training"
    author_field = "trainer_id"
    model = models.Training
    defaults: ClassVar[Values] = {"attendee_ids": [], "voided": False}
    rules: ClassVar[Rules] = {
        "title": text(200, required=True),
        "held_on": calendar_date(),
        "attendee_ids": list_of(id_item, "attendee_ids", max_items=500, required=False),
        "hours": number(0, 24, ""),
        "note": text(NOTE),
        "voided": boolean,
        "void_reason": text(200),
    }
    required = ("title", "held_on")
    server_set = ("community_id", "trainer_id")

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        batch.need(PEER_LEADERS, clean.get("attendee_ids") or [])

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        actor = batch.actor
        if actor.role is Role.COORDINATOR and not after.get("community_id"):
            after["community_id"] = actor.community_id
        self.set_author(batch, after)
        if "attendee_ids" in written:
            leaders = batch.found(PEER_LEADERS)
            community = after.get("community_id")
            bad = [
                i
                for i, uid in enumerate(after.get("attendee_ids") or [])
                if uid not in leaders or (community is not None and leaders[uid] != community)
            ]
            if bad:
                return {
                    "attendee_ids": [Message(BAD_TRAINEE, index=i, number=i + 1) for i in bad[:5]]
                }
        return {}


ENTITY = Training()
