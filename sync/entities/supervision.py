"""Supervision: a coordinator's contact with a peer leader (RECORDS.md). Staff only: peer
leaders neither write nor receive it."""

from __future__ import annotations

from typing import ClassVar

from sync import models
from sync.entities.base import Batch, Errors, Record, Rules, Values
from sync.entities.evaluation import StaffRecord, in_community
from sync.entities.lookups import PEER_LEADERS
from sync.models import SupervisionMode
from sync.validate import boolean, enum, ident, instant, list_of, text, values_of, word
from sync.wire import Message, template

NOT_A_PEER_LEADER = template("must be a peer leader of your community")


class Supervision(StaffRecord):
    name = "supervision"
    author_field = "supervisor_id"
    model = models.Supervision
    defaults: ClassVar[Values] = {"topics": [], "voided": False}
    rules: ClassVar[Rules] = {
        "peer_leader_id": ident(required=True),
        "occurred_at": instant,
        "mode": enum(values_of(SupervisionMode), required=True),
        "topics": list_of(word, "topics"),
        "concerns": text(500),
        "follow_up": text(500),
        "voided": boolean,
        "void_reason": text(200),
    }
    required = ("peer_leader_id", "occurred_at", "mode")
    server_set = ("supervisor_id", "community_id")

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        if merged.get("peer_leader_id"):
            batch.need(PEER_LEADERS, [merged["peer_leader_id"]])

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        leaders = batch.found(PEER_LEADERS)
        leader = after["peer_leader_id"]
        community = leaders.get(leader)
        if community is None or not in_community(batch.actor, community):
            return {"peer_leader_id": [Message(NOT_A_PEER_LEADER)]}
        after["community_id"] = community
        self.set_author(batch, after)
        return {}


ENTITY = Supervision()
