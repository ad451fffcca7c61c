"""A peer-support group of one community (table ``peer_group``): written by staff through the
engine (``sync.engine.write_group``), pulled read-only by the phones of its leaders, who need it
for a meeting's attendance checklist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sync import models
from sync import validate as v
from sync.entities.base import Batch, Entity, Errors, Lookup, Mark, Record, Rules
from sync.entities.lookups import COMMITTEES, PEER_LEADERS, scope_losers
from sync.models import Role
from sync.scope import Actor
from sync.wire import Message, template

ONLY_STAFF_GROUPS = template("only coordinators and administrators change groups")
GROUP_STAYS = template("a group cannot move to another community")
OUTSIDE_COMMUNITY_GROUP = template("this group is outside your community")
NO_COMMUNITY = template("no such community")
COMMITTEE_ELSEWHERE = template("must be a committee of the group's community")
LEADER_ELSEWHERE = template("must be a peer leader of the group's community")

LEADERS = ("leader_id", "co_leader_id")


async def _communities(batch: Batch, ids: list[str]) -> dict[str, Any]:
    return {str(r["id"]): True for r in await batch.fetch("community", ids, ["id"])}


# Community id → True, for the communities named by group writes that exist.
COMMUNITIES = Lookup("communities", _communities)


class Group(Entity):
    name = "group"
    model = models.Group
    rules: ClassVar[Rules] = {
        "name": v.text(120, required=True),
        "community_id": v.ident(required=True),
        "committee_id": v.ident(),
        "leader_id": v.ident(),
        "co_leader_id": v.ident(),
    }
    required = ("name", "community_id")
    # Phones receive every field, and may set none.
    server_set = ("name", "community_id", "committee_id", "leader_id", "co_leader_id")
    phone_writes = False

    def own_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        groups = sorted(actor.group_ids)
        if not groups:
            return None
        return f"id IN ({', '.join(mark(len(groups)))})", groups

    def write_errors(
        self, actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Errors:
        """Groups are written by administrators, and by coordinators in their own community;
        a group never moves to another community (its meetings and members stay there)."""
        if actor.role not in (Role.ADMIN, Role.COORDINATOR):
            return {"id": [Message(ONLY_STAFF_GROUPS)]}
        community = fields.get("community_id")
        if current is not None:
            if community is not None and community != current.get("community_id"):
                return {"community_id": [Message(GROUP_STAYS)]}
            community = current.get("community_id")
        if actor.role is Role.COORDINATOR and community != actor.community_id:
            return {"id": [Message(OUTSIDE_COMMUNITY_GROUP)]}
        return {}

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        if clean.get("committee_id"):
            batch.need(COMMITTEES, [clean["committee_id"]])
        if clean.get("community_id"):
            batch.need(COMMUNITIES, [clean["community_id"]])
        batch.need(PEER_LEADERS, [clean[n] for n in LEADERS if clean.get(n)])

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        errors: Errors = {}
        community = after.get("community_id")
        if "community_id" in written and community not in batch.found(COMMUNITIES):
            errors["community_id"] = [Message(NO_COMMUNITY)]
        committee = written.get("committee_id")
        if committee and batch.found(COMMITTEES).get(committee) != community:
            errors["committee_id"] = [Message(COMMITTEE_ELSEWHERE)]
        leaders = batch.found(PEER_LEADERS)
        for name in LEADERS:
            leader = written.get(name)
            if leader and leaders.get(leader, "") != community:
                errors[name] = [Message(LEADER_ELSEWHERE)]
        return errors

    def after_change(self, batch: Batch, before: Record | None, after: Record) -> None:
        # Whoever starts or stops leading the group has a new scope: resync them, in the same
        # transaction as the write.
        was = {before.get(n) for n in LEADERS} if before is not None else set()
        will = {after.get(n) for n in LEADERS}
        changed = {u for u in was ^ will if u}
        if changed:
            scope_losers(batch)["users"].update(changed)


ENTITY = Group()
