"""An implementation rating: a coordinator's quarterly rating of one peer leader or of one
community (RECORDS.md): each key function, use of the residential committee and linkage to
community resources, 1–5 or not rated. Staff only.

The subject is the peer leader when ``peer_leader_id`` is set, else the community; the row's
``community_id`` is always set (the peer leader's community), so a coordinator's pull is one
scan. A second rating of the same subject and period is accepted (it merges and conflicts like
any edit when it is the same record; a new record is a new rating).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from sync import models
from sync.entities.base import Batch, Errors, Record, Rules, Values
from sync.entities.evaluation import StaffRecord, in_community
from sync.entities.group import COMMUNITIES
from sync.entities.lookups import PEER_LEADERS
from sync.validate import boolean, ident, number, text
from sync.wire import Message, template

PEER_LEADER_OR_COMMUNITY = template("give a peer leader or a community (one of the two)")
NOT_A_PEER_LEADER = template("must be a peer leader of your community")
NOT_YOUR_COMMUNITY = template("must be your community")
NOT_A_QUARTER = template("must be a quarter written YYYY-Qn, e.g. 2026-Q4")
QUARTER_AHEAD = template("must not be a quarter still to come")

RATED = (
    "being_there",
    "daily_management",
    "social_emotional",
    "linkage_to_care",
    "ongoing_support",
    "committee_use",
    "resource_linkage",
)
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")


class ImplementationRating(StaffRecord):
    name = "implementation_rating"
    author_field = "rated_by_id"
    model = models.ImplementationRating
    defaults: ClassVar[Values] = {"voided": False}
    rules: ClassVar[Rules] = {
        "peer_leader_id": ident(),
        "community_id": ident(),
        "period": text(7, required=True),
        **{name: number(1, 5, "", whole=True) for name in RATED},
        "comment": text(500),
        "voided": boolean,
        "void_reason": text(200),
    }
    required = ("period",)
    server_set = ("rated_by_id",)

    def check(self, fields: Mapping[str, Any], now: datetime) -> tuple[Record, Errors]:
        clean, errors = super().check(fields, now)
        period = clean.get("period")
        if period is not None:
            match = _QUARTER.fullmatch(period)
            if match is None:
                errors["period"] = [Message(NOT_A_QUARTER)]
                del clean["period"]
            elif (int(match[1]), int(match[2])) > (now.year, (now.month - 1) // 3 + 1):
                errors["period"] = [Message(QUARTER_AHEAD)]
                del clean["period"]
        return clean, errors

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        if clean.get("peer_leader_id"):
            batch.need(PEER_LEADERS, [clean["peer_leader_id"]])
        if clean.get("community_id"):
            batch.need(COMMUNITIES, [clean["community_id"]])

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        actor = batch.actor
        if written.get("peer_leader_id") and written.get("community_id"):
            return {"peer_leader_id": [Message(PEER_LEADER_OR_COMMUNITY)]}
        if written.get("peer_leader_id"):
            community = batch.found(PEER_LEADERS).get(after["peer_leader_id"])
            if community is None or not in_community(actor, community):
                return {"peer_leader_id": [Message(NOT_A_PEER_LEADER)]}
            after["community_id"] = community
        elif written.get("community_id"):
            if after.get("peer_leader_id"):
                return {"community_id": [Message(PEER_LEADER_OR_COMMUNITY)]}
            community = after["community_id"]
            if community not in batch.found(COMMUNITIES) or not in_community(actor, community):
                return {"community_id": [Message(NOT_YOUR_COMMUNITY)]}
        if not after.get("community_id"):
            return {"peer_leader_id": [Message(PEER_LEADER_OR_COMMUNITY)]}
        self.set_author(batch, after)
        return {}


ENTITY = ImplementationRating()
