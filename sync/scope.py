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

Each entity's module (``sync/entities``) says how these apply to it (its ``read_filter``,
``fields_for`` and ``write_errors``); here are the actor and the predicates they share.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.models import Role
from sync.wire import ROSTER_REVISION, Message, template

Errors = dict[str, list[str]]

# English names the role by its code (``role``); a translation may use ``role_name``.
ROLE_MAY_NOT_CHANGE = template("your role (%(role)s) may not change this field", "role_name")
ROLE_NAMES = {
    Role.PEER_LEADER: template("peer leader"),
    Role.VOLUNTEER: template("volunteer"),
    Role.COORDINATOR: template("coordinator"),
    Role.ADMIN: template("administrator"),
}


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


def led_filter(
    actor: Actor, mark: Callable[[int], list[str]], of: str = ""
) -> tuple[str, list[Any]]:
    """SQL condition for rows a peer leader is assigned to or logged (``peer_leader_id``) or
    that belong to a group they lead or co-lead; ``of``: the table (or alias) whose columns
    these are, for a statement that reads two. Placeholders are taken in the order they appear
    in the text (SQLite's "?")."""
    at = f"{of}." if of else ""
    cond = f"{at}peer_leader_id = {mark(1)[0]}"
    groups = sorted(actor.group_ids)
    if not groups:
        return cond, [actor.user_id]
    in_groups = f"{at}group_id IN ({', '.join(mark(len(groups)))})"
    return f"({cond} OR {in_groups})", [actor.user_id, *groups]


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


def refused_fields(actor: Actor, fields: Mapping[str, Any], allowed: Container[str]) -> Errors:
    """A message for each field of ``fields`` the actor's role may not change."""
    refused = [name for name in fields if name not in allowed]
    if not refused:
        return {}
    role_name = Message(ROLE_NAMES[actor.role])
    return {
        name: [Message(ROLE_MAY_NOT_CHANGE, role=actor.role.value, role_name=role_name)]
        for name in refused
    }
