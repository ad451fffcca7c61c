"""A participant: the person a peer leader supports (SPEC 1, 3).

Staff enrol and edit every field; a peer leader edits contact details and the "needs visit"
mark of participants in scope, a volunteer those of their committee's roster (read with
``ROSTER_FIELDS`` only). ``last_contact_at`` / ``next_follow_up_on`` are the latest contact's,
kept in step by ``sync.entities.contact``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sync import models, scope
from sync import validate as v
from sync.entities import measurement
from sync.entities.base import Batch, Entity, Errors, Lookup, Mark, Messages, Record, Rules, Values
from sync.entities.lookups import COMMITTEES, GROUPS, PEER_LEADERS, scope_losers
from sync.models import ParticipantStatus, Role, Sex
from sync.scope import Actor
from sync.wire import ROSTER_FIELDS, Message, template

OUTSIDE_COMMUNITY_PARTICIPANT = template("this participant is outside your community")
ONLY_STAFF_ENROL = template("only coordinators and administrators can enrol participants")
OUTSIDE_SCOPE_PARTICIPANT = template("this participant is outside your scope")
CONSENT_TO_ENROL = template("is required to enrol (set enrolled_on)")
LATEST_BEFORE_BASELINE = template(
    "must not be before the baseline HbA1c's date (hba1c_baseline_on)"
)
NO_COMMITTEE = template("no such residential committee")
NOT_YOUR_COMMITTEE = template("must be a committee of your community")
NO_GROUP = template("no such group")
GROUP_ELSEWHERE = template("must be a group of the participant's community")
NOT_PEER_LEADER = template("must be a peer leader's user id")
CODE_TAKEN = template("is already used by another participant")
LEADER_OF_OTHER_COMMUNITY = template("must be a peer leader of the participant's community")

PEER_LEADER_FIELDS = frozenset({"phone", "address", "notes", "needs_visit", "needs_visit_reason"})
VOLUNTEER_FIELDS = frozenset({"phone", "address", "needs_visit", "needs_visit_reason"})


async def _codes(batch: Batch, codes: list[str]) -> dict[str, Any]:
    rows = await batch.fetch("participant", codes, ["id", "code"], key="code")
    return {row["code"]: str(row["id"]) for row in rows}


# Participant code → id, for the codes this batch writes (the column is unique: a clash must
# reject one mutation, not fail the whole batch's transaction).
CODES = Lookup("participant codes", _codes)


class Participant(Entity):
    name = "participant"
    model = models.Participant
    defaults: ClassVar[Values] = {"status": "active", "conditions": [], "needs_visit": False}
    rules: ClassVar[Rules] = {
        "code": v.text(32, required=True),
        "full_name": v.text(120, required=True),
        "sex": v.enum(v.values_of(Sex)),
        "birth_year": v.number(1900, 2100, "", whole=True),
        "phone": v.text(32),
        "address": v.text(200),
        "committee_id": v.ident(required=True),
        "group_id": v.ident(),
        "peer_leader_id": v.ident(),
        "enrolled_on": v.calendar_date(),
        "consent_on": v.calendar_date(),
        "status": v.enum(v.values_of(ParticipantStatus), required=True),
        "conditions": v.list_of(v.word, "conditions"),
        "hba1c_baseline": v.number(3, 20, "%"),
        "hba1c_baseline_on": v.calendar_date(),
        "hba1c": v.number(3, 20, "%"),
        "hba1c_on": v.calendar_date(),
        "bp_systolic": v.number(60, 260, "mmHg", whole=True),
        "bp_diastolic": v.number(30, 160, "mmHg", whole=True),
        "bp_on": v.calendar_date(),
        "weight_kg": v.number(20, 300, "kg"),
        "weight_on": v.calendar_date(),
        "needs_visit": v.boolean,
        "needs_visit_reason": v.text(200),
        "notes": v.text(v.NOTE),
    }
    required = ("code", "full_name", "committee_id")
    server_set = ("community_id", "last_contact_at", "next_follow_up_on")
    refers_to = ("group",)
    unique: ClassVar[Messages] = {"code": CODE_TAKEN}

    def fields_for(self, actor: Actor) -> tuple[str, ...]:
        return ROSTER_FIELDS if actor.role is Role.VOLUNTEER else self.readable

    def read_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        if actor.role is Role.VOLUNTEER:
            if actor.committee_id is None:
                return None
            return f"committee_id = {mark(1)[0]}", [actor.committee_id]
        return super().read_filter(actor, mark)

    def own_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        return scope.led_filter(actor, mark)

    def write_errors(
        self, actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Errors:
        """Staff write every field (their community's participants, for a coordinator); peer
        leaders and volunteers only their role's fields of a participant in scope
        (references are checked by ``reference_errors``)."""
        role = actor.role
        if role in (Role.ADMIN, Role.COORDINATOR):
            if current is not None and not scope.participant_visible(actor, current):
                return {"id": [Message(OUTSIDE_COMMUNITY_PARTICIPANT)]}
            return {}
        if current is None:
            return {"id": [Message(ONLY_STAFF_ENROL)]}
        if not scope.participant_visible(actor, current):
            return {"id": [Message(OUTSIDE_SCOPE_PARTICIPANT)]}
        allowed = PEER_LEADER_FIELDS if role is Role.PEER_LEADER else VOLUNTEER_FIELDS
        return scope.refused_fields(actor, fields, allowed)

    def record_errors(self, record: Mapping[str, Any], creating: bool) -> Errors:
        errors = super().record_errors(record, creating)
        if record.get("enrolled_on") and not record.get("consent_on"):
            errors.setdefault("consent_on", []).append(Message(CONSENT_TO_ENROL))
        # A follow-up HbA1c dated before the baseline is refused (SPEC 2): counted as "latest",
        # such a value once moved a community's HbA1c change from -0.26 to -0.18.
        latest_on, baseline_on = record.get("hba1c_on"), record.get("hba1c_baseline_on")
        if latest_on and baseline_on and str(latest_on) < str(baseline_on):
            errors.setdefault("hba1c_on", []).append(Message(LATEST_BEFORE_BASELINE))
        return errors

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        for name, lookup in (
            ("committee_id", COMMITTEES),
            ("group_id", GROUPS),
            ("peer_leader_id", PEER_LEADERS),
        ):
            if clean.get(name):
                batch.need(lookup, [clean[name]])
        if clean.get("committee_id") and merged.get("peer_leader_id"):
            # Still a peer leader of the community it moves to?
            batch.need(PEER_LEADERS, [merged["peer_leader_id"]])
        if clean.get("code"):
            batch.need(CODES, [clean["code"]])

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        actor = batch.actor
        errors: Errors = {}
        if "committee_id" in written:
            community = batch.found(COMMITTEES).get(after["committee_id"])
            if community is None:
                errors["committee_id"] = [Message(NO_COMMITTEE)]
            elif actor.role is Role.COORDINATOR and community != actor.community_id:
                errors["committee_id"] = [Message(NOT_YOUR_COMMITTEE)]
            else:
                after["community_id"] = community
        if written.get("group_id"):
            group = batch.found(GROUPS).get(after["group_id"])
            if group is None:
                errors["group_id"] = [Message(NO_GROUP)]
            elif group["community_id"] != after.get("community_id"):
                errors["group_id"] = [Message(GROUP_ELSEWHERE)]
        leaders = batch.found(PEER_LEADERS)
        leader = after.get("peer_leader_id")
        if written.get("peer_leader_id") and leader not in leaders:
            errors["peer_leader_id"] = [Message(NOT_PEER_LEADER)]
        elif (
            leader
            and ("peer_leader_id" in written or "committee_id" in written)
            and leaders.get(leader) != after.get("community_id")
        ):
            # The assigned peer leader pulls the whole profile: only one of the participant's
            # own community, also after a move to another community.
            errors["peer_leader_id"] = [Message(LEADER_OF_OTHER_COMMUNITY)]
        if "code" in written:
            holder = batch.found(CODES).get(after["code"])
            if holder is not None and holder != after["id"]:
                errors["code"] = [Message(CODE_TAKEN)]
        return errors

    def accepted(self, batch: Batch, before: Record, after: Record, written: Record) -> None:
        if "code" in written:
            # Claimed now, so a later mutation in this batch cannot take it too.
            codes = batch.found(CODES)
            if before.get("code") and codes.get(before["code"]) == after["id"]:
                del codes[before["code"]]
            codes[after["code"]] = after["id"]

    def after_change(self, batch: Batch, before: Record | None, after: Record) -> None:
        # Clinical values written on the profile become measurement rows (the columns are
        # derived from those).
        measurement.participant_changed(batch, before, after)
        if before is None:
            return
        # Whoever loses the participant from their scope resyncs, in the same transaction.
        was = before.get
        if not any(
            was(n) != after.get(n)
            for n in ("peer_leader_id", "group_id", "committee_id", "community_id")
        ):
            return
        losers = scope_losers(batch)
        if was("peer_leader_id") and was("peer_leader_id") != after.get("peer_leader_id"):
            losers["users"].add(before["peer_leader_id"])
        if was("group_id") and was("group_id") != after.get("group_id"):
            losers["groups"].add(before["group_id"])
        if was("committee_id") != after.get("committee_id"):
            losers["committees"].add(before["committee_id"])
        if was("community_id") != after.get("community_id"):
            losers["communities"].add(before["community_id"])


ENTITY = Participant()
