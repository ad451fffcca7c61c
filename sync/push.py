"""The push engine: one batch of mutations from one device, in one transaction.

Shape of a batch (each step a constant number of statements, whatever the batch size):

1. validate every mutation's fields (pure, before the transaction);
2. lock the device row (the first statement writes, so SQLite takes its write lock at once and
   PostgreSQL holds the row lock: two copies of one batch run one after the other, and the second
   finds the first's mutations in the log);
3. answer mutations at or below the device's last from the log, refuse a gap with 409;
4. read every record the batch touches, one query per entity, and the history of stale ones;
5. decide each mutation in memory with the pure merge, in order (a batch may create then edit);
6. write: one change-sequence allocation, ``executemany`` inserts and updates per table, the
   mutation log (which is also the version history and each mutation's audit event: actor,
   device, status, record, time, request id), conflicts, the device row.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from sync import db, merge, restore, scope, sequence, store, validate
from sync import outbox as outbox_columns
from sync.models import Role
from sync.outbox import OutboxReport
from sync.scope import Actor
from sync.wire import (
    ENTITIES,
    Message,
    MutationIn,
    MutationResult,
    PushResponse,
    errors_from_json,
    errors_json,
    plain_errors,
    template,
)

log = logging.getLogger("peerlog.sync")

# Contacts expanded from a meeting get ids derived from (meeting, participant): replaying or
# editing the meeting finds the same contacts instead of making new ones.
MEETING_CONTACT_NS = uuid.UUID("5b0f3c52-0a43-4a3e-9d5e-3f5a1f0c7e21")

REMOVED_FROM_MEETING = "removed from the meeting's attendance"
MEETING_VOIDED = "the group meeting was voided"

# Messages of rejected mutations (``sync.wire.Message``: rendered in the reader's language).
NOT_OPTION = validate.NOT_OPTION
NOT_NEGATIVE = template("must be 0 or more")
NEVER_RECEIVED = template("already used on this device, never received")
NO_COMMITTEE = template("no such residential committee")
NOT_YOUR_COMMITTEE = template("must be a committee of your community")
NO_GROUP = template("no such group")
GROUP_ELSEWHERE = template("must be a group of the participant's community")
NOT_PEER_LEADER = template("must be a peer leader's user id")
CODE_TAKEN = template("is already used by another participant")
NO_PARTICIPANT = template("no such participant in your scope")
NO_MEETING_GROUP = template("no such group among the groups you may record for")
# ``index`` is the wire's (0-based); ``number`` counts from 1, for people.
BAD_ATTENDEE = template(
    "item %(index)s is not a participant of this community in your scope", "number"
)
NO_COMMUNITY = template("no such community")
COMMITTEE_ELSEWHERE = template("must be a committee of the group's community")
LEADER_ELSEWHERE = template("must be a peer leader of the group's community")
LEADER_OF_OTHER_COMMUNITY = template("must be a peer leader of the participant's community")


# What a contact or a meeting needs of the participants it refers to (scope, community) and
# what it may change on them: far less to read and write than the whole profile.
PARTICIPANT_REF_COLUMNS = (
    "id",
    "community_id",
    "committee_id",
    "group_id",
    "peer_leader_id",
    "last_contact_at",
    "next_follow_up_on",
    "version",
)
INSERT_ORDER = ("peer_group", "participant", "group_meeting", "contact")
LOG_COLUMNS = (
    "device_id",
    "mutation_id",
    "user_id",
    "entity",
    "record_id",
    "base_version",
    "version",
    "status",
    "changes",
    "result",
    "received_at",
    "request_id",
)
DERIVED_COLUMNS = ("last_contact_at", "next_follow_up_on", "version", "seq", "updated_at")


class DeviceForbidden(PermissionError):
    """The device is revoked or belongs to another user (HTTP 403)."""


class MutationGap(ValueError):
    """A mutation id skips ahead of the device's last + 1 (HTTP 409)."""

    def __init__(self, last: int, got: int) -> None:
        super().__init__(
            f"mutation_id {got} skips ahead: the last one processed for this device is {last}; "
            f"resend from {last + 1}"
        )
        self.last = last
        self.got = got


@dataclass
class Outcome:
    """What one mutation did, before it becomes a log row and a result."""

    mutation: MutationIn
    rid: str  # str(mutation.id)
    status: str
    version: int | None = None
    errors: dict[str, list[str]] | None = None
    changes: dict[str, list[Any]] = field(default_factory=dict)
    conflict_id: str | None = None
    conflicts: dict[str, merge.FieldConflict] = field(default_factory=dict)
    base_version: int = 0
    server_version: int = 0
    created: bool = False  # a new record: its log row keeps no changes (they are the record)

    def result(self) -> MutationResult:
        return MutationResult(
            mutation_id=self.mutation.mutation_id,
            id=self.rid,
            status=self.status,
            version=self.version,
            conflict_id=self.conflict_id,
            errors=self.errors,
        )


# Hook run inside the push transaction after the writes (conflict resolution marks its conflict).
AfterWrite = Callable[[BaseDBAsyncClient, list[Outcome]], Awaitable[None]]


async def push(
    actor: Actor,
    device_id: uuid.UUID,
    mutations: list[MutationIn],
    *,
    request_id: str | None = None,
    device_label: str | None = None,
    assign_ids: bool = False,
    current_base: bool = False,
    force_version: bool = False,
    after_write: AfterWrite | None = None,
    now: datetime | None = None,
    entities: tuple[str, ...] = ENTITIES,
    outbox: OutboxReport | None = None,
) -> PushResponse:
    """Apply one batch. ``assign_ids`` numbers the mutations after the device's last (server-side
    writers); ``current_base`` treats a negative ``base_version`` as "the current version";
    ``entities``: what this writer may send (phones: ``ENTITIES``; server-side writers add the
    read-only-on-the-wire ``group``); ``outbox``: the phone's report of its queue as it sent
    the batch (``sync.outbox``), kept on the device row by the batch's own last statement."""
    now = now or datetime.now(UTC)
    with _gc_paused():
        return await _push(
            actor,
            device_id,
            mutations,
            request_id,
            device_label,
            assign_ids,
            current_base,
            force_version,
            after_write,
            now,
            entities,
            outbox,
        )


_gc_frozen = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """A batch makes tens of thousands of short-lived objects, so Python's cyclic collector runs
    several times per batch, and each full collection walked the whole heap (app, ORM, templates)
    for nothing. Freezing what exists at the first push (``gc.freeze``) takes those long-lived
    objects out of every later collection; the collector keeps running for what is new."""
    global _gc_frozen
    if not _gc_frozen:
        _gc_frozen = True
        gc.collect()
        gc.freeze()
    yield


async def _push(
    actor: Actor,
    device_id: uuid.UUID,
    mutations: list[MutationIn],
    request_id: str | None,
    device_label: str | None,
    assign_ids: bool,
    current_base: bool,
    force_version: bool,
    after_write: AfterWrite | None,
    now: datetime,
    entities: tuple[str, ...],
    outbox: OutboxReport | None = None,
) -> PushResponse:
    prechecked = [_precheck(m, now, entities) for m in mutations]
    dialect = store.Dialect(db.dialect())
    async with in_transaction() as conn:
        last = await _lock_device(conn, dialect, actor, device_id, device_label, now)
        if assign_ids:
            for offset, m in enumerate(mutations, start=1):
                m.mutation_id = last + offset
        duplicates = [m.mutation_id for m in mutations if m.mutation_id <= last]
        logged = await _logged_results(conn, dialect, device_id, duplicates)
        expected = last + 1
        fresh: list[Fresh] = []
        for m, (clean, errors) in zip(mutations, prechecked, strict=True):
            if m.mutation_id < expected:
                continue
            if m.mutation_id > expected:
                raise MutationGap(expected - 1, m.mutation_id)
            fresh.append((m, str(m.id), clean, errors))
            expected += 1
        batch = _Batch(
            conn, dialect, actor, device_id, now, request_id, current_base, force_version
        )
        outcomes = await batch.run(fresh) if fresh else []
        await restore.audit_resend(
            conn,
            dialect,
            actor_id=actor.user_id,
            device_id=str(device_id),
            request_id=request_id,
            now=now,
            resent=[
                (o.mutation.mutation_id, o.status, o.created) for o in outcomes if o.mutation.resend
            ],
        )
        if after_write is not None:
            await after_write(conn, outcomes)
        new_last = max(last, expected - 1)
        sets, params = ["last_mutation_id", "last_sync_at"], [new_last, now]
        if outbox is not None:
            # Every mutation of the batch leaves the phone's queue with this answer.
            sets += outbox_columns.COLUMNS
            params += outbox_columns.values(outbox.after_push(len(mutations)), now)
        marks = dialect.marks(len(sets) + 1)
        assignments = ", ".join(f"{name} = {mark}" for name, mark in zip(sets, marks, strict=False))
        await conn.execute_query(
            f"UPDATE device SET {assignments} WHERE id = {marks[-1]}", [*params, str(device_id)]
        )
    fresh_results = {o.mutation.mutation_id: o.result() for o in outcomes}
    results: list[MutationResult] = []
    answered: set[int] = set()
    for m in mutations:
        mid = m.mutation_id
        if mid in fresh_results and mid not in answered:
            results.append(fresh_results[mid])
        elif mid in fresh_results:  # the same id twice in one batch: the second is a replay
            results.append(msgspec.structs.replace(fresh_results[mid], duplicate=True))
        elif mid in logged:
            results.append(_from_log(logged[mid]))
        else:
            # At or below the last id but not in the log: the device counted from an id the
            # server never saw (an app reinstalled with an old device id). Not applied here.
            results.append(
                MutationResult(
                    mutation_id=mid,
                    id=str(m.id),
                    status="rejected",
                    errors={"mutation_id": [Message(NEVER_RECEIVED)]},
                    duplicate=True,
                )
            )
        answered.add(mid)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    log.info(
        "push device=%s mutations=%d new=%d duplicates=%d %s",
        device_id,
        len(mutations),
        len(outcomes),
        len(mutations) - len(outcomes),
        " ".join(f"{k}={v}" for k, v in sorted(counts.items())),
    )
    return PushResponse(last_mutation_id=new_last, results=results)


def _from_log(original: Mapping[str, Any]) -> MutationResult:
    return MutationResult(
        mutation_id=int(original["mutation_id"]),
        id=str(original["id"]),
        status=str(original["status"]),
        version=original.get("version"),
        conflict_id=original.get("conflict_id"),
        errors=original.get("errors"),
        duplicate=True,
    )


def _precheck(
    m: MutationIn, now: datetime, entities: tuple[str, ...] = ENTITIES
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    if m.entity not in entities:
        return {}, {"entity": [Message(NOT_OPTION, options=entities)]}
    errors: dict[str, list[str]] = {}
    if m.base_version < 0:
        errors["base_version"] = [Message(NOT_NEGATIVE)]
    clean, field_errors = validate.check(m.entity, m.fields, now)
    errors.update(field_errors)
    return clean, errors


async def _lock_device(
    conn: BaseDBAsyncClient,
    dialect: store.Dialect,
    actor: Actor,
    device_id: uuid.UUID,
    label: str | None,
    now: datetime,
) -> int:
    """Take the device's row lock (creating the row on first push) and return its last id."""
    m = dialect.marks(3)
    touch = f"UPDATE device SET last_seen_at = {m[0]} WHERE id = {m[1]} RETURNING user_id, revoked_at, last_mutation_id"
    rows = await conn.execute_query_dict(touch, [now, str(device_id)])
    if not rows:
        m = dialect.marks(5)
        await conn.execute_query(
            f"INSERT INTO device (id, user_id, label, created_at, last_mutation_id) "
            f"VALUES ({m[0]}, {m[1]}, {m[2]}, {m[3]}, 0) ON CONFLICT (id) DO NOTHING",
            [str(device_id), actor.user_id, label, now],
        )
        rows = await conn.execute_query_dict(touch, [now, str(device_id)])
    row = rows[0]
    if str(row["user_id"]) != actor.user_id:
        raise DeviceForbidden("This device is registered to another user.")
    if row["revoked_at"] is not None:
        raise DeviceForbidden(
            "This device has been signed out by an administrator. Its local data must be wiped."
        )
    return int(row["last_mutation_id"])


async def _logged_results(
    conn: BaseDBAsyncClient, dialect: store.Dialect, device_id: uuid.UUID, ids: list[int]
) -> dict[int, dict[str, Any]]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    for chunk in dialect.chunks(ids):
        where, params = dialect.one_of("mutation_id", "int", chunk, start=2)
        rows = await conn.execute_query_dict(
            "SELECT mutation_id, record_id, status, version, result FROM mutation "
            f"WHERE device_id = {dialect.marks(1)[0]} AND {where}",
            [str(device_id), *params],
        )
        for row in rows:
            out[int(row["mutation_id"])] = logged_result(row)
    return out


def logged_result(row: Mapping[str, Any]) -> dict[str, Any]:
    """The result first sent for a logged mutation: the row's columns, plus what ``result``
    keeps (errors, conflict id) when there was more to say. Errors come back as messages
    (``sync.wire.Message``) when the log kept their templates (rows written before it did keep
    their English text, which the edge still translates when it has no parameters)."""
    out: dict[str, Any] = {
        "mutation_id": int(row["mutation_id"]),
        "id": str(row["record_id"]),
        "status": row["status"],
    }
    if row["version"] is not None:
        out["version"] = int(row["version"])
    out.update(store.decode_json(row["result"]) or {})
    templates = out.pop("templates", None)
    if templates:
        out["errors"] = errors_from_json(templates)
    return out


Key = tuple[str, str]  # (entity, id)
# A mutation to apply, with its record id as text (made once: ``str(UUID)`` is not free), its
# valid fields in canonical form and the messages of the invalid ones.
Fresh = tuple[MutationIn, str, dict[str, Any], dict[str, list[str]]]


class _Batch:
    """The in-memory state of one batch: records as they will be, and what to write."""

    def __init__(
        self,
        conn: BaseDBAsyncClient,
        dialect: store.Dialect,
        actor: Actor,
        device_id: uuid.UUID,
        now: datetime,
        request_id: str | None,
        current_base: bool,
        force_version: bool = False,
    ) -> None:
        self.force_version = force_version
        self.conn = conn
        self.dialect = dialect
        self.actor = actor
        self.device_id = str(device_id)
        self.now = now
        self.now_text = validate.canonical_instant(now)
        self.request_id = request_id
        self.current_base = current_base
        self.records: dict[Key, dict[str, Any]] = {}
        self.existing: set[Key] = set()  # in the database before this batch
        self.partial: set[Key] = set()  # read with PARTICIPANT_REF_COLUMNS only
        self.dirty: dict[Key, None] = {}  # insertion-ordered set
        # Per record: (version, {field: [old, new]}, device that wrote it).
        self.history: dict[Key, list[tuple[int, dict[str, Any], str]]] = {}
        self.committees: dict[str, str] = {}  # id → community_id
        self.groups: dict[str, dict[str, Any]] = {}
        self.peer_leaders: dict[str, str | None] = {}  # peer leader id → community_id
        self.communities: set[str] = set()  # communities named by group writes that exist
        # Participant code → id, for the codes this batch writes (the column is unique: a
        # clash must reject one mutation, not fail the whole batch's transaction).
        self.codes: dict[str, str] = {}
        self.contact_touched: set[str] = set()  # participants whose contacts changed
        self.contact_recompute: set[str] = set()  # … by an edit, not only a new contact
        # Contacts in the database that this batch changes → their participant there.
        self.contact_was: dict[str, str] = {}
        self.scope_losers: dict[str, set[str]] = {
            "users": set(),
            "groups": set(),
            "committees": set(),
            "communities": set(),
        }

    # --- loading --------------------------------------------------------------------------------

    async def _load(self, entity: str, ids: set[str], columns: tuple[str, ...] = ()) -> None:
        """Read records by id. With ``columns``, only those: the record is then *partial* and
        may only be written through the narrow derived-fields update."""
        ids = {i for i in ids if (entity, i) not in self.records}
        if not ids:
            return
        table = store.TABLE[entity]
        for row in await store.fetch_by_ids(self.conn, self.dialect, table, ids, columns or None):
            key = (entity, row["id"])
            self.records[key] = row
            self.existing.add(key)
            if columns:
                self.partial.add(key)

    async def load(self, fresh: list[Fresh]) -> None:
        wanted: dict[str, set[str]] = {e: set() for e in (*ENTITIES, "group")}
        for m, rid, _clean, _errors in fresh:
            if m.entity in wanted:
                wanted[m.entity].add(rid)
        for entity, ids in wanted.items():
            await self._load(entity, ids)
        # Records the mutations refer to: participants of contacts and attendees, groups, …
        participants: set[str] = set()
        committees: set[str] = set()
        groups: set[str] = set()
        users: set[str] = set()
        codes: set[str] = set()
        meetings: set[str] = set()
        communities: set[str] = set()
        for m, rid, clean, _errors in fresh:
            current = self.records.get((m.entity, rid))
            merged = {**(current or {}), **clean}
            if m.entity == "contact" and merged.get("participant_id"):
                participants.add(merged["participant_id"])
            elif m.entity == "group_meeting":
                participants.update(merged.get("attendee_ids") or [])
                if current is not None:
                    participants.update(current.get("attendee_ids") or [])
                if merged.get("group_id"):
                    groups.add(merged["group_id"])
                meetings.add(rid)
            elif m.entity == "participant":
                for name, into in (
                    ("committee_id", committees),
                    ("group_id", groups),
                    ("peer_leader_id", users),
                ):
                    if clean.get(name):
                        into.add(clean[name])
                if clean.get("committee_id") and merged.get("peer_leader_id"):
                    users.add(merged["peer_leader_id"])  # still of the community it moves to?
                if clean.get("code"):
                    codes.add(clean["code"])
            elif m.entity == "group":
                if clean.get("committee_id"):
                    committees.add(clean["committee_id"])
                if clean.get("community_id"):
                    communities.add(clean["community_id"])
                for name in ("leader_id", "co_leader_id"):
                    if clean.get(name):
                        users.add(clean[name])
        await self._load("participant", participants, PARTICIPANT_REF_COLUMNS)
        if codes:
            for row in await store.fetch_by_ids(
                self.conn, self.dialect, "participant", codes, ["id", "code"], key="code"
            ):
                self.codes[row["code"]] = str(row["id"])
        if meetings:
            existing_meetings = [i for i in meetings if ("group_meeting", i) in self.existing]
            for row in await store.fetch_by_ids(
                self.conn, self.dialect, "contact", existing_meetings, key="meeting_id"
            ):
                key = ("contact", row["id"])
                if key not in self.records:
                    self.records[key] = row
                    self.existing.add(key)
        if committees:
            for row in await store.fetch_by_ids(
                self.conn, self.dialect, "committee", committees, ["id", "community_id"]
            ):
                self.committees[str(row["id"])] = str(row["community_id"])
        if groups:
            for row in await store.fetch_by_ids(self.conn, self.dialect, "peer_group", groups):
                self.groups[row["id"]] = row
        if users:
            where, params = self.dialect.one_of("id", "uuid", sorted(users), start=2)
            rows = await self.conn.execute_query_dict(
                f"SELECT id, community_id FROM users WHERE role = {self.dialect.marks(1)[0]} "
                f"AND {where}",
                [Role.PEER_LEADER.value, *params],
            )
            self.peer_leaders = {
                str(r["id"]): str(r["community_id"]) if r["community_id"] else None for r in rows
            }
        if communities:
            rows = await store.fetch_by_ids(
                self.conn, self.dialect, "community", communities, ["id"]
            )
            self.communities = {str(r["id"]) for r in rows}
        await self._load_history(fresh)

    async def _load_history(self, fresh: list[Fresh]) -> None:
        stale: dict[str, int] = {}
        entities: set[str] = set()
        for m, rid, _clean, errors in fresh:
            current = self.records.get((m.entity, rid))
            if current is None or errors or m.base_version <= 0:
                continue
            if m.base_version < current["version"]:
                stale[rid] = min(stale.get(rid, m.base_version), m.base_version)
                entities.add(m.entity)
        if not stale:
            return
        floor = min(stale.values())
        dialect = self.dialect
        kinds, entity_params = dialect.one_of("entity", "text", sorted(entities), start=2)
        ids, id_params = dialect.one_of(
            "record_id", "uuid", sorted(stale), start=2 + len(entity_params)
        )
        # Uses the (entity, record_id, version) index. Placeholders in text order (SQLite).
        rows = await self.conn.execute_query_dict(
            "SELECT entity, record_id, version, changes, device_id FROM mutation "
            f"WHERE version > {dialect.marks(1)[0]} AND {kinds} AND {ids} "
            "AND version IS NOT NULL",
            [floor, *entity_params, *id_params],
        )
        for row in rows:
            key = (row["entity"], str(row["record_id"]))
            changes = store.decode_json(row["changes"]) or {}
            self.history.setdefault(key, []).append(
                (int(row["version"]), changes, str(row["device_id"]))
            )

    # --- deciding -------------------------------------------------------------------------------

    async def run(self, fresh: list[Fresh]) -> list[Outcome]:
        await self.load(fresh)
        outcomes = [self.decide(m, rid, clean, errors) for m, rid, clean, errors in fresh]
        await self.derive_participant_contact_fields()
        await self.write(outcomes)
        return outcomes

    def decide(
        self, m: MutationIn, rid: str, clean: dict[str, Any], errors: dict[str, list[str]]
    ) -> Outcome:
        if errors:
            return Outcome(m, rid, "rejected", errors=errors, base_version=m.base_version)
        entity = m.entity
        key = (entity, rid)
        current = self.records.get(key)
        current_version = current["version"] if current else 0
        base_version = m.base_version
        if self.current_base:
            base_version = current_version
        if entity == "participant":
            errors = scope.participant_write_errors(self.actor, current, clean)
        elif entity == "contact":
            errors = scope.contact_write_errors(self.actor, current)
        elif entity == "group":
            errors = scope.group_write_errors(self.actor, current, clean)
        else:
            errors = scope.meeting_write_errors(self.actor, current)
        if errors:
            return Outcome(m, rid, "rejected", errors=errors, base_version=base_version)
        if m.resend and m.base_version == 0 and restore.same_values(current, clean):
            # A creation the server acknowledged, lost in a restore and sent again, that finds
            # its record as it was sent (restored, or re-sent twice): applied once, no new version.
            return Outcome(m, rid, "applied", version=current_version, base_version=0)

        if current is None:
            changed: dict[str, Any] = {}
        elif base_version == 0:
            # The device believes it created the record, which exists already (a second device
            # made the same id, or the log was lost): every field counts as written since.
            changed = dict.fromkeys(validate.rules(entity))
        else:
            # A device's own earlier writes are not news to it: a queue of edits made offline all
            # carry the same base and must not conflict with each other.
            changed = merge.changed_since(
                [
                    (version, changes)
                    for version, changes, device in self.history.get(key, [])
                    if device != self.device_id
                ],
                base_version,
            )
        decision = merge.merge(
            base_version=base_version,
            current_version=current_version,
            current=current,
            proposed=clean,
            changed_since_base=changed,
        )
        before = current or store.blank(entity)
        after = {**before, **decision.write}
        after["id"] = rid
        errors = validate.check_record(entity, after, creating=current is None)
        errors.update(self.reference_errors(entity, before, after, decision.write))
        if errors:
            return Outcome(m, rid, "rejected", errors=errors, base_version=base_version)

        if entity == "participant" and "code" in decision.write:
            # Claimed now, so a later mutation in this batch cannot take it too.
            if before.get("code") and self.codes.get(before["code"]) == rid:
                del self.codes[before["code"]]
            self.codes[after["code"]] = rid
        # A creation's changes are the record itself: neither logged nor needed by a merge
        # (a later mutation's base is at least version 1).
        changes = (
            {}
            if current is None
            else {
                name: [before.get(name), value]
                for name, value in decision.write.items()
                if before.get(name) != value
            }
        )
        version = current_version
        # A conflict also makes a new version: the device that sent it then pulls the values
        # that stand. A resolution always does, so every device receives it.
        if changes or current is None or decision.conflicts or self.force_version:
            version = current_version + 1
            after["version"] = version
            after["updated_at"] = self.now_text
            self.records[key] = after
            self.dirty[key] = None
            self.history.setdefault(key, []).append((version, changes, self.device_id))
            self.after_change(entity, before if current else None, after)
        outcome = Outcome(
            m,
            rid,
            decision.status,
            version=version,
            changes=changes,
            conflicts=decision.conflicts,
            base_version=base_version,
            server_version=current_version,
            created=current is None,
        )
        if decision.conflicts:
            outcome.conflict_id = str(uuid.uuid4())
        return outcome

    def reference_errors(
        self, entity: str, before: dict[str, Any], after: dict[str, Any], written: dict[str, Any]
    ) -> dict[str, list[str]]:
        """Referenced records exist and are in the writer's scope; fills server-set fields."""
        actor = self.actor
        errors: dict[str, list[str]] = {}
        if entity == "participant":
            if "committee_id" in written:
                community = self.committees.get(after["committee_id"])
                if community is None:
                    errors["committee_id"] = [Message(NO_COMMITTEE)]
                elif actor.role is Role.COORDINATOR and community != actor.community_id:
                    errors["committee_id"] = [Message(NOT_YOUR_COMMITTEE)]
                else:
                    after["community_id"] = community
            if written.get("group_id"):
                group = self.groups.get(after["group_id"])
                if group is None:
                    errors["group_id"] = [Message(NO_GROUP)]
                elif group["community_id"] != after.get("community_id"):
                    errors["group_id"] = [Message(GROUP_ELSEWHERE)]
            leader = after.get("peer_leader_id")
            if written.get("peer_leader_id") and leader not in self.peer_leaders:
                errors["peer_leader_id"] = [Message(NOT_PEER_LEADER)]
            elif (
                leader
                and ("peer_leader_id" in written or "committee_id" in written)
                and self.peer_leaders.get(leader) != after.get("community_id")
            ):
                # The assigned peer leader pulls the whole profile: only one of the
                # participant's own community, also after a move to another community.
                errors["peer_leader_id"] = [Message(LEADER_OF_OTHER_COMMUNITY)]
            if "code" in written:
                holder = self.codes.get(after["code"])
                if holder is not None and holder != after["id"]:
                    errors["code"] = [Message(CODE_TAKEN)]
        elif entity == "contact":
            participant = self.records.get(("participant", after.get("participant_id") or ""))
            if participant is None or not scope.participant_visible(actor, participant):
                errors["participant_id"] = [Message(NO_PARTICIPANT)]
            else:
                after["community_id"] = participant["community_id"]
                if not after.get("peer_leader_id"):
                    after["peer_leader_id"] = actor.user_id
        elif entity == "group_meeting":
            group = self.groups.get(after.get("group_id") or "")
            if group is None or not scope.group_writable(actor, group):
                errors["group_id"] = [Message(NO_MEETING_GROUP)]
            else:
                after["community_id"] = group["community_id"]
                if not after.get("peer_leader_id"):
                    after["peer_leader_id"] = actor.user_id
                bad = [
                    i
                    for i, pid in enumerate(after.get("attendee_ids") or [])
                    if not self._attendee_ok(pid, group)
                ]
                if bad:
                    errors["attendee_ids"] = [
                        Message(BAD_ATTENDEE, index=i, number=i + 1) for i in bad[:5]
                    ]
        elif entity == "group":
            community = after.get("community_id")
            if "community_id" in written and community not in self.communities:
                errors["community_id"] = [Message(NO_COMMUNITY)]
            committee = written.get("committee_id")
            if committee and self.committees.get(committee) != community:
                errors["committee_id"] = [Message(COMMITTEE_ELSEWHERE)]
            for name in ("leader_id", "co_leader_id"):
                leader = written.get(name)
                if leader and self.peer_leaders.get(leader, "") != community:
                    errors[name] = [Message(LEADER_ELSEWHERE)]
        return errors

    def _attendee_ok(self, participant_id: str, group: dict[str, Any]) -> bool:
        participant = self.records.get(("participant", participant_id))
        return (
            participant is not None
            and participant["community_id"] == group["community_id"]
            and scope.participant_visible(self.actor, participant)
        )

    def after_change(
        self, entity: str, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> None:
        if entity == "contact":
            self.contact_touched.add(after["participant_id"])
            if before is not None:
                self.contact_recompute.add(after["participant_id"])
                self.contact_was.setdefault(after["id"], before["participant_id"])
                if before["participant_id"] != after["participant_id"]:
                    self.contact_touched.add(before["participant_id"])
                    self.contact_recompute.add(before["participant_id"])
        elif entity == "group_meeting":
            self.expand_meeting(before, after)
        elif entity == "group":
            # Whoever starts or stops leading the group has a new scope: resync them, in
            # the same transaction as the write.
            leaders = ("leader_id", "co_leader_id")
            was = {before.get(n) for n in leaders} if before is not None else set()
            will = {after.get(n) for n in leaders}
            self.scope_losers["users"].update(u for u in was ^ will if u)
        elif entity == "participant" and before is not None:
            if before.get("peer_leader_id") and before["peer_leader_id"] != after.get(
                "peer_leader_id"
            ):
                self.scope_losers["users"].add(before["peer_leader_id"])
            if before.get("group_id") and before["group_id"] != after.get("group_id"):
                self.scope_losers["groups"].add(before["group_id"])
            if before.get("committee_id") != after.get("committee_id"):
                self.scope_losers["committees"].add(before["committee_id"])
            if before.get("community_id") != after.get("community_id"):
                self.scope_losers["communities"].add(before["community_id"])

    def expand_meeting(self, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        """Keep one ``group_meeting`` contact per attendee in step with the meeting."""
        attendees = set(after.get("attendee_ids") or [])
        previous = set((before or {}).get("attendee_ids") or [])
        meeting_id = after["id"]
        for pid in attendees | previous:
            cid = str(uuid.uuid5(MEETING_CONTACT_NS, f"{meeting_id}:{pid}"))
            key = ("contact", cid)
            existing = self.records.get(key)
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
                record = {**store.blank("contact"), **wanted, "id": cid, "version": 0}
            else:
                if all(existing.get(k) == v for k, v in wanted.items()):
                    continue
                record = {**existing, **wanted}
            record["version"] = record["version"] + 1
            record["updated_at"] = self.now_text
            self.records[key] = record
            self.dirty[key] = None
            self.contact_touched.add(pid)
            if existing is not None:
                self.contact_recompute.add(pid)
                self.contact_was.setdefault(cid, pid)

    async def derive_participant_contact_fields(self) -> None:
        """``last_contact_at`` / ``next_follow_up_on``: the latest non-voided contact's."""
        if not self.contact_touched:
            return
        latest: dict[str, tuple[str, str | None]] = {}
        if self.contact_recompute:
            # The latest of what the database holds (less the contacts changed here), then
            # the batch's own contacts as they now stand.
            for r in await self._latest_stored_contacts():
                latest[r["participant_id"]] = (r["occurred_at"], r["follow_up_on"])
            for (entity, _cid), r in self.records.items():
                if entity != "contact" or r["voided"]:
                    continue
                pid = r["participant_id"]
                if pid not in self.contact_recompute:
                    continue
                best = latest.get(pid)
                if best is None or r["occurred_at"] > best[0]:
                    latest[pid] = (r["occurred_at"], r["follow_up_on"])
        # Participants with only new contacts: the newest of those against what they have.
        newest: dict[str, tuple[str, str | None]] = {}
        for key in self.dirty:
            if key[0] != "contact":
                continue
            c = self.records[key]
            pid = c["participant_id"]
            if c["voided"] or pid in self.contact_recompute:
                continue
            best = newest.get(pid)
            if best is None or c["occurred_at"] > best[0]:
                newest[pid] = (c["occurred_at"], c["follow_up_on"])
        for pid in self.contact_touched:
            participant = self.records.get(("participant", pid))
            if participant is None:
                continue
            if pid in self.contact_recompute:
                at, follow_up = latest.get(pid, (None, None))
            else:
                at, follow_up = (
                    participant.get("last_contact_at"),
                    participant.get("next_follow_up_on"),
                )
                candidate = newest.get(pid)
                if candidate is not None and (at is None or candidate[0] > at):
                    at, follow_up = candidate
            if (at, follow_up) != (
                participant.get("last_contact_at"),
                participant.get("next_follow_up_on"),
            ):
                key = ("participant", pid)
                participant = {
                    **participant,
                    "last_contact_at": at,
                    "next_follow_up_on": follow_up,
                    "version": participant["version"] + 1,
                    "updated_at": self.now_text,
                }
                self.records[key] = participant
                self.dirty[key] = None

    async def _latest_stored_contacts(self) -> list[dict[str, Any]]:
        """Per participant whose contacts were edited, the latest non-voided contact in the
        database, leaving out the contacts this batch changed: one row each through the
        (participant_id, occurred_at) index, however many contacts a participant has. (Reading
        all of their contacts made a push's cost grow with the table: BENCHMARKS.md.)"""
        dialect = self.dialect
        recompute = sorted(self.contact_recompute)
        columns = "participant_id, occurred_at, follow_up_on"
        if dialect.postgres:
            # One statement whatever the counts (one prepared plan, see ``Dialect.one_of``).
            raw = await self.conn.execute_query_dict(
                f"SELECT c.{columns.replace(', ', ', c.')} FROM unnest($1::uuid[]) AS p(id) "
                f"CROSS JOIN LATERAL (SELECT {columns} FROM contact WHERE participant_id = p.id "
                "AND NOT voided AND id <> ALL($2::uuid[]) ORDER BY occurred_at DESC LIMIT 1) c",
                [recompute, sorted(self.contact_was)],
            )
            return [dialect.row("contact", r) for r in raw]
        # SQLite: one indexed subquery per participant, as many to a statement as its
        # parameter limit allows. A participant's changed contacts are at most one per mutation.
        changed: dict[str, list[str]] = {}
        for cid, pid in self.contact_was.items():
            changed.setdefault(pid, []).append(cid)
        parts: list[tuple[str, list[Any]]] = []
        for pid in recompute:
            skip = changed.get(pid, [])
            unchanged = f" AND id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
            parts.append(
                (
                    f"SELECT * FROM (SELECT {columns} FROM contact WHERE participant_id = ? "
                    f"AND voided = 0{unchanged} ORDER BY occurred_at DESC LIMIT 1)",
                    [pid, *skip],
                )
            )
        out: list[dict[str, Any]] = []
        while parts:
            sql: list[str] = []
            params: list[Any] = []
            while parts and (not sql or len(params) + len(parts[0][1]) <= 900):
                part, values = parts.pop(0)
                sql.append(part)
                params.extend(values)
            raw = await self.conn.execute_query_dict(" UNION ALL ".join(sql), params)
            out.extend(dialect.row("contact", r) for r in raw)
        return out

    # --- writing --------------------------------------------------------------------------------

    async def write(self, outcomes: list[Outcome]) -> None:
        conn, dialect, now = self.conn, self.dialect, self.now
        if self.dirty:
            # Allocated last, so the counter row is held for as short a time as possible.
            first = await sequence.allocate(conn, len(self.dirty))
            inserts: dict[str, list[dict[str, Any]]] = {}
            updates: dict[str, list[dict[str, Any]]] = {}
            derived: list[dict[str, Any]] = []
            for offset, key in enumerate(self.dirty):
                record = self.records[key]
                record["seq"] = first + offset
                if key in self.partial:
                    derived.append(record)
                    continue
                target = updates if key in self.existing else inserts
                target.setdefault(store.TABLE[key[0]], []).append(record)
            # Parents first: a contact may refer to a participant or (expanded from a meeting)
            # a meeting made in this same batch, and foreign keys are checked per statement.
            for table in INSERT_ORDER:
                await store.insert_many(conn, dialect, table, inserts.get(table, []), now)
            for table, rows in updates.items():
                await store.update_many(conn, dialect, table, rows)
            await store.update_many(conn, dialect, "participant", derived, DERIVED_COLUMNS)
        await self._write_log(outcomes)
        await self._write_conflicts(outcomes)
        await self._bump_scope_tokens()

    async def _write_log(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        conn, dialect, now = self.conn, self.dialect, self.now
        device, user, request = self.device_id, self.actor.user_id, self.request_id
        encode = store.encode_json
        rows: list[list[Any]] = []
        for o in outcomes:
            rejected = o.status == "rejected"
            extra: dict[str, Any] = {}
            if o.errors:
                # English text for whoever reads the log, and the templates so that a replay
                # (``duplicate``) is rendered in the language of the device that asks again.
                extra["errors"] = plain_errors(o.errors)
                extra["templates"] = errors_json(o.errors)
            if o.conflict_id is not None:
                extra["conflict_id"] = o.conflict_id
            rows.append(
                [
                    device,
                    o.mutation.mutation_id,
                    user,
                    validate.printable(o.mutation.entity)[:16],
                    o.rid,
                    o.base_version,
                    None if rejected else o.version,
                    o.status,
                    None if o.created or not o.changes else encode(o.changes),
                    encode(extra) if extra else None,
                    now,
                    request,
                ]
            )
        await store.bulk_insert(conn, dialect, "mutation", LOG_COLUMNS, rows)

    async def _write_conflicts(self, outcomes: list[Outcome]) -> None:
        rows = [o for o in outcomes if o.conflict_id]
        if not rows:
            return
        await self.conn.execute_many(
            "INSERT INTO conflict (id, entity, record_id, base_version, server_version, "
            "fields_json, user_id, device_id, community_id, mutation_id, status, created_at) "
            f"VALUES ({', '.join(self.dialect.marks(12))})",
            [
                [
                    o.conflict_id,
                    o.mutation.entity,
                    o.rid,
                    o.base_version,
                    o.server_version,
                    store.encode_json(
                        {
                            name: {"base": c.base, "server": c.server, "device": c.device}
                            for name, c in o.conflicts.items()
                        }
                    ),
                    self.actor.user_id,
                    self.device_id,
                    self.records[(o.mutation.entity, o.rid)].get("community_id"),
                    o.mutation.mutation_id,
                    "open",
                    self.now,
                ]
                for o in rows
            ],
        )

    async def _bump_scope_tokens(self) -> None:
        losers = self.scope_losers
        if not any(losers.values()):
            return
        clauses: list[str] = []
        params: list[Any] = []
        counter = self.dialect.counter()

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
        await self.conn.execute_query(
            f"UPDATE users SET scope_token = scope_token + 1 WHERE {' OR '.join(clauses)}", params
        )


def connection() -> BaseDBAsyncClient:
    return connections.get("default")
