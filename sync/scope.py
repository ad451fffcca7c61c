"""Who may read and write which records and fields, by role. Pure: records in, answers out.

Read scope (what a pull sends):

* ``admin`` — what a peer leader would have: participants assigned to them or in a group they
  lead or co-lead, the contacts they wrote, those groups and their meetings. An administrator
  works on the staff pages, online; a phone of theirs never downloads the whole program.
* ``coordinator`` — every participant, contact, meeting and group of their community: one
  community, never the program.
* ``peer_leader`` — participants assigned to them or in a group they lead or co-lead (full
  profile); the contacts they wrote themselves; meetings of the groups they lead or co-lead and
  meetings they logged; the groups they lead or co-lead.
* ``volunteer`` — participants of their residential committee, roster fields only; no contacts,
  meetings or groups.

Write rules (SPEC 3): peer leaders create and edit their own contacts and their groups' meetings,
and edit phone/address/notes/needs_visit* of participants in scope; volunteers edit
phone/address/needs_visit* of participants in their committee; coordinators (their community) and
admins write every field and create participants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.models import Role
from sync.wire import READABLE, ROSTER_FIELDS, ROSTER_REVISION, Message, template

PEER_LEADER_PARTICIPANT_FIELDS = frozenset(
    {"phone", "address", "notes", "needs_visit", "needs_visit_reason"}
)
VOLUNTEER_PARTICIPANT_FIELDS = frozenset({"phone", "address", "needs_visit", "needs_visit_reason"})

Errors = dict[str, list[str]]

# Messages of the write rules (``sync.wire.Message``: rendered in the reader's language).
OUTSIDE_COMMUNITY_PARTICIPANT = template("this participant is outside your community")
ONLY_STAFF_ENROL = template("only coordinators and administrators can enrol participants")
OUTSIDE_SCOPE_PARTICIPANT = template("this participant is outside your scope")
# English names the role by its code (``role``); a translation may use ``role_name``.
ROLE_MAY_NOT_CHANGE = template("your role (%(role)s) may not change this field", "role_name")
ROLE_NAMES = {
    Role.PEER_LEADER: template("peer leader"),
    Role.VOLUNTEER: template("volunteer"),
    Role.COORDINATOR: template("coordinator"),
    Role.ADMIN: template("administrator"),
}
VOLUNTEER_NO_CONTACTS = template("volunteers do not record contacts")
CONTACT_FROM_MEETING = template("this contact comes from a group meeting: edit the meeting instead")
ONLY_AUTHOR = template("only the author can change a contact")
OUTSIDE_COMMUNITY_CONTACT = template("this contact is outside your community")
VOLUNTEER_NO_MEETINGS = template("volunteers do not record group meetings")
NOT_YOUR_GROUP = template("this meeting belongs to a group you do not lead")
OUTSIDE_COMMUNITY_MEETING = template("this meeting is outside your community")
ONLY_STAFF_GROUPS = template("only coordinators and administrators change groups")
GROUP_STAYS = template("a group cannot move to another community")
OUTSIDE_COMMUNITY_GROUP = template("this group is outside your community")


@dataclass(frozen=True)
class Actor:
    """The signed-in user as far as scope is concerned."""

    user_id: str
    role: Role
    community_id: str | None = None
    committee_id: str | None = None
    # Groups the user leads or co-leads.
    group_ids: frozenset[str] = field(default_factory=frozenset)
    scope_token: int = 1

    @property
    def descriptor(self) -> str:
        """What the user's scope depends on; a cursor made under another descriptor is stale.
        An administrator's says ``admin-own`` since their scope was bounded: a phone that had
        pulled the whole program resyncs and drops it."""
        kind = "admin-own" if self.role is Role.ADMIN else self.role.value
        scope = f"{kind}:{self.community_id or '-'}:{self.committee_id or '-'}"
        # A volunteer's records also depend on which fields a roster carries.
        return f"{scope}:roster{ROSTER_REVISION}" if self.role is Role.VOLUNTEER else scope


# --- reading ------------------------------------------------------------------------------------


def readable_fields(actor: Actor, entity: str) -> tuple[str, ...]:
    if actor.role is Role.VOLUNTEER:
        return ROSTER_FIELDS if entity == "participant" else ()
    return READABLE[entity]


def read_filter(
    actor: Actor, entity: str, mark: Callable[[int], list[str]]
) -> tuple[str, list[Any]] | None:
    """SQL condition and parameters restricting ``entity`` to the actor's scope, or None when the
    role sees none of it. ``mark(n)`` gives the next ``n`` placeholders."""
    role = actor.role
    if role is Role.COORDINATOR:
        if actor.community_id is None:
            return None
        return f"community_id = {mark(1)[0]}", [actor.community_id]
    if role is Role.VOLUNTEER:
        if entity != "participant" or actor.committee_id is None:
            return None
        return f"committee_id = {mark(1)[0]}", [actor.committee_id]
    # Peer leader, and an administrator's bounded offline scope. Placeholders are taken in the
    # order they appear in the text (SQLite's "?").
    groups = sorted(actor.group_ids)
    if entity in ("participant", "group_meeting"):
        cond = f"peer_leader_id = {mark(1)[0]}"
        if not groups:
            return cond, [actor.user_id]
        in_groups = f"group_id IN ({', '.join(mark(len(groups)))})"
        return f"({cond} OR {in_groups})", [actor.user_id, *groups]
    if entity == "contact":
        return f"peer_leader_id = {mark(1)[0]}", [actor.user_id]
    if entity == "group" and groups:
        return f"id IN ({', '.join(mark(len(groups)))})", groups
    return None


def participant_visible(actor: Actor, participant: Mapping[str, Any]) -> bool:
    role = actor.role
    if role is Role.ADMIN:
        return True
    if role is Role.COORDINATOR:
        return (
            actor.community_id is not None and participant.get("community_id") == actor.community_id
        )
    if role is Role.VOLUNTEER:
        return (
            actor.committee_id is not None and participant.get("committee_id") == actor.committee_id
        )
    return (
        participant.get("peer_leader_id") == actor.user_id
        or participant.get("group_id") in actor.group_ids
    )


def group_writable(actor: Actor, group: Mapping[str, Any]) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.COORDINATOR:
        return group.get("community_id") == actor.community_id
    if actor.role is Role.PEER_LEADER:
        return group.get("id") in actor.group_ids
    return False


# --- writing ------------------------------------------------------------------------------------


def participant_write_errors(
    actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
) -> Errors:
    """Role rules for a participant mutation (references are checked by the engine)."""
    role = actor.role
    if role in (Role.ADMIN, Role.COORDINATOR):
        if current is not None and not participant_visible(actor, current):
            return {"id": [Message(OUTSIDE_COMMUNITY_PARTICIPANT)]}
        return {}
    if current is None:
        return {"id": [Message(ONLY_STAFF_ENROL)]}
    if not participant_visible(actor, current):
        return {"id": [Message(OUTSIDE_SCOPE_PARTICIPANT)]}
    allowed = (
        PEER_LEADER_PARTICIPANT_FIELDS if role is Role.PEER_LEADER else VOLUNTEER_PARTICIPANT_FIELDS
    )
    refused = [name for name in fields if name not in allowed]
    if not refused:
        return {}
    role_name = Message(ROLE_NAMES[role])
    return {
        name: [Message(ROLE_MAY_NOT_CHANGE, role=role.value, role_name=role_name)]
        for name in refused
    }


def contact_write_errors(actor: Actor, current: Mapping[str, Any] | None) -> Errors:
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


def meeting_write_errors(actor: Actor, current: Mapping[str, Any] | None) -> Errors:
    if actor.role is Role.VOLUNTEER:
        return {"id": [Message(VOLUNTEER_NO_MEETINGS)]}
    if current is None:
        return {}
    if actor.role is Role.PEER_LEADER and not (
        current.get("group_id") in actor.group_ids or current.get("peer_leader_id") == actor.user_id
    ):
        return {"id": [Message(NOT_YOUR_GROUP)]}
    if actor.role is Role.COORDINATOR and current.get("community_id") != actor.community_id:
        return {"id": [Message(OUTSIDE_COMMUNITY_MEETING)]}
    return {}


def group_write_errors(
    actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
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
