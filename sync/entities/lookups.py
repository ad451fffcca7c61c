"""What several entities' mutations refer to, read once per batch (``base.Lookup``), and the
scope-token bump that follows a change of who sees what."""

from __future__ import annotations

from typing import Any

from sync import scope
from sync.entities.base import Batch, Lookup, Record
from sync.models import Role
from sync.outcomes import PARTICIPANT_DERIVED

# What a contact or a meeting needs of the participants it refers to (scope, community) and
# what it may change on them: far less to read and write than the whole profile.
PARTICIPANT_REF_COLUMNS = (
    "id",
    "enrolled_on",
    # Kept in step with the participant's measurements (``sync.entities.measurement``).
    *PARTICIPANT_DERIVED,
    "community_id",
    "committee_id",
    "group_id",
    "peer_leader_id",
    "last_contact_at",
    "next_follow_up_on",
    "version",
)


async def _participants(batch: Batch, ids: list[str]) -> dict[str, Any]:
    ids = [i for i in ids if ("participant", i) not in batch.records]
    for row in await batch.fetch("participant", ids, list(PARTICIPANT_REF_COLUMNS)):
        batch.keep("participant", row, PARTICIPANT_REF_COLUMNS)
    return {}


async def _committees(batch: Batch, ids: list[str]) -> dict[str, Any]:
    rows = await batch.fetch("committee", ids, ["id", "community_id"])
    return {str(r["id"]): str(r["community_id"]) for r in rows}


async def _groups(batch: Batch, ids: list[str]) -> dict[str, Any]:
    return {r["id"]: r for r in await batch.fetch("peer_group", ids)}


async def _peer_leaders(batch: Batch, ids: list[str]) -> dict[str, Any]:
    dialect = batch.dialect
    where, params = dialect.one_of("id", "uuid", sorted(ids), start=2)
    rows = await batch.conn.execute_query_dict(
        f"SELECT id, community_id FROM users WHERE role = {dialect.marks(1)[0]} AND {where}",
        [Role.PEER_LEADER.value, *params],
    )
    return {str(r["id"]): str(r["community_id"]) if r["community_id"] else None for r in rows}


# Participants referred to (as ``records``, partial: ``PARTICIPANT_REF_COLUMNS``); found: nothing.
PARTICIPANTS = Lookup("participants", _participants)
# Committee id → its community id.


def need_participant(batch: Batch, merged: Record) -> None:
    """``refer`` for a record of one participant: the batch reads them."""
    if merged.get("participant_id"):
        batch.need(PARTICIPANTS, [merged["participant_id"]])


def participant_of(batch: Batch, after: Record, author_field: str) -> Record | None:
    """The record's participant (read by ``need_participant``) when the writer may see them,
    else None. The record then takes their community, and the writer as its author (in
    ``author_field``) when it names none."""
    participant = batch.records.get(("participant", after.get("participant_id") or ""))
    if participant is None or not scope.participant_visible(batch.actor, participant):
        return None
    after["community_id"] = participant["community_id"]
    if not after.get(author_field):
        after[author_field] = batch.actor.user_id
    return participant


COMMITTEES = Lookup("committees", _committees)
# Group id → the group's row.
GROUPS = Lookup("groups", _groups)
# Peer leader's user id → their community id (users of another role are not found).
PEER_LEADERS = Lookup("peer_leaders", _peer_leaders)


# --- scope tokens ---------------------------------------------------------------------------------
#
# Whoever gains or loses a record by a change (a participant moving, a group changing leaders)
# resyncs, in the same transaction as the write: their ``scope_token`` goes up.


def _losers() -> dict[str, set[str]]:
    return {"users": set(), "groups": set(), "committees": set(), "communities": set()}


def scope_losers(batch: Batch) -> dict[str, set[str]]:
    """The batch's users, groups (their leaders), committees (their volunteers) and communities
    (their coordinators) whose scope changes; the bump is queued after the writes."""
    batch.after_write(_bump_scope_tokens)
    return batch.shared(_losers, _losers)


async def _bump_scope_tokens(batch: Batch) -> None:
    losers = batch.shared(_losers, _losers)
    if not any(losers.values()):
        return
    clauses: list[str] = []
    params: list[Any] = []
    counter = batch.dialect.counter()

    def add(column: str, ids: set[str], extra: str = "") -> None:
        if not ids:
            return
        marks = counter.take(len(ids))
        clauses.append(f"({column} IN ({', '.join(marks)}){extra})")
        params.extend(sorted(ids))

    add("id", losers["users"])
    add("committee_id", losers["committees"], " AND role = 'volunteer'")
    add("community_id", losers["communities"], " AND role = 'coordinator'")
    if losers["groups"]:
        groups = sorted(losers["groups"])
        first = ", ".join(counter.take(len(groups)))
        second = ", ".join(counter.take(len(groups)))
        clauses.append(
            f"(id IN (SELECT leader_id FROM peer_group WHERE id IN ({first})) OR "
            f"id IN (SELECT co_leader_id FROM peer_group WHERE id IN ({second})))"
        )
        params.extend(groups + groups)
    await batch.conn.execute_query(
        f"UPDATE users SET scope_token = scope_token + 1 WHERE {' OR '.join(clauses)}", params
    )
