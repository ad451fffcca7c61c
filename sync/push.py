"""The push engine: one batch of mutations from one device, in one transaction.

Shape of a batch (each step a constant number of statements, whatever the batch size):

1. validate every mutation's fields (pure, before the transaction);
2. lock the device row (the first statement writes, so SQLite takes its write lock at once and
   PostgreSQL holds the row lock: two copies of one batch run one after the other, and the second
   finds the first's mutations in the log);
3. answer mutations at or below the device's last from the log, refuse a gap with 409;
4. read every record the batch touches, one query per entity, the records they refer to (one
   query per kind of reference, ``sync.entities.base.Lookup``) and the history of stale ones;
5. decide each mutation in memory with the pure merge, in order (a batch may create then edit);
6. write: one change-sequence allocation, ``executemany`` inserts and updates per table, the
   mutation log (which is also the version history and each mutation's audit event: actor,
   device, status, record, time, request id) and conflicts (``sync.log``), the device row.

What differs between entities (rules, rights, references, what a change does to other records)
is asked of the entity's module (``sync.entities``) at fixed points; nothing here names one.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from sync import db, merge, restore, sequence, store, validate
from sync import log as mutation_log
from sync import outbox as outbox_columns
from sync.entities import INSERT_ORDER, PHONE_ENTITIES, REGISTRY
from sync.entities.base import Entity, Hook, Lookup
from sync.outbox import OutboxReport
from sync.scope import Actor
from sync.wire import Message, MutationIn, MutationResult, PushResponse, template

log = logging.getLogger("peerlog.sync")
T = TypeVar("T")

# Messages of rejected mutations (``sync.wire.Message``: rendered in the reader's language).
NOT_OPTION = validate.NOT_OPTION
NOT_NEGATIVE = template("must be 0 or more")
NEVER_RECEIVED = template("already used on this device, never received")

# The columns every synced row has that the batch sets on each new version; a record read only in
# part (``Batch.keep`` with columns) is written back with these and the columns its hooks changed.
VERSION_COLUMNS = ("version", "seq", "updated_at")


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


# The program's time zone, where its days start and end: ``engine.configure`` sets it from the
# server's settings (``PEERLOG_TIMEZONE``) when the app or a command starts. Hooks read it as
# ``batch.zone`` (a contact's reported value is dated by the contact's day there).
DEFAULT_TIMEZONE = "Asia/Shanghai"
zone = ZoneInfo(DEFAULT_TIMEZONE)

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
    entities: tuple[str, ...] = PHONE_ENTITIES,
    outbox: OutboxReport | None = None,
) -> PushResponse:
    """Apply one batch. ``assign_ids`` numbers the mutations after the device's last (server-side
    writers); ``current_base`` treats a negative ``base_version`` as "the current version";
    ``entities``: what this writer may send (phones: ``PHONE_ENTITIES``; server-side writers
    every entity of ``sync.entities``); ``outbox``: the phone's report of its queue as it sent
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
        logged = await mutation_log.logged_results(conn, dialect, device_id, duplicates)
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
    m: MutationIn, now: datetime, entities: tuple[str, ...] = PHONE_ENTITIES
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    if m.entity not in entities:
        return {}, {"entity": [Message(NOT_OPTION, options=entities)]}
    errors: dict[str, list[str]] = {}
    if m.base_version < 0:
        errors["base_version"] = [Message(NOT_NEGATIVE)]
    clean, field_errors = REGISTRY[m.entity].check(m.fields, now)
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


Key = tuple[str, str]  # (entity, id)
# A mutation to apply, with its record id as text (made once: ``str(UUID)`` is not free), its
# valid fields in canonical form and the messages of the invalid ones.
Fresh = tuple[MutationIn, str, dict[str, Any], dict[str, list[str]]]


class _Batch:
    """The in-memory state of one batch: records as they will be, and what to write. What an
    entity's hooks may use of it is ``sync.entities.base.Batch``."""

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
        self.zone = zone
        self.request_id = request_id
        self.current_base = current_base
        self.records: dict[Key, dict[str, Any]] = {}
        self.existing: set[Key] = set()  # in the database before this batch
        # Read with only some columns → the columns hooks changed (``put``): written back alone, so
        # a concurrent change to the others is not overwritten with what was read.
        self.partial: dict[Key, set[str]] = {}
        self.dirty: dict[Key, None] = {}  # insertion-ordered set
        # Per record: (version, {field: [old, new]}, device that wrote it).
        self.history: dict[Key, list[tuple[int, dict[str, Any], str]]] = {}
        self._needed: dict[Lookup, set[str]] = {}
        self._found: dict[Lookup, dict[str, Any]] = {}
        self._shared: dict[object, Any] = {}
        self._before_write: dict[Hook, None] = {}
        self._after_write: dict[Hook, None] = {}

    # --- what entity hooks use (``sync.entities.base.Batch``) ----------------------------------

    def need(self, lookup: Lookup, ids: Iterable[str]) -> None:
        self._needed.setdefault(lookup, set()).update(ids)

    def found(self, lookup: Lookup) -> dict[str, Any]:
        return self._found.setdefault(lookup, {})

    def shared(self, key: object, make: Callable[[], T]) -> T:
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def keep(self, entity: str, row: dict[str, Any], columns: tuple[str, ...] = ()) -> None:
        key = (entity, row["id"])
        self.records[key] = row
        self.existing.add(key)
        if columns:
            self.partial[key] = set()

    def put(self, entity: str, record: dict[str, Any], columns: tuple[str, ...] = ()) -> None:
        key = (entity, record["id"])
        if key in self.partial:
            if not columns:
                raise ValueError(f"{entity} {key[1]} was read in part: put it with its columns")
            self.partial[key].update(columns)
        self.records[key] = record
        self.dirty[key] = None

    def blank(self, entity: str) -> dict[str, Any]:
        return store.blank(entity)

    async def fetch(
        self, table: str, ids: Iterable[str], columns: list[str] | None = None, key: str = "id"
    ) -> list[dict[str, Any]]:
        return await store.fetch_by_ids(self.conn, self.dialect, table, ids, columns, key=key)

    def before_write(self, hook: Hook) -> None:
        self._before_write[hook] = None

    def after_write(self, hook: Hook) -> None:
        self._after_write[hook] = None

    # --- loading --------------------------------------------------------------------------------

    async def load(self, fresh: list[Fresh]) -> None:
        wanted: dict[str, set[str]] = {}
        for m, rid, _clean, _errors in fresh:
            wanted.setdefault(m.entity, set()).add(rid)
        # One query per entity, in the registry's order.
        for name in REGISTRY:
            if name in wanted:
                table = REGISTRY[name].table
                for row in await self.fetch(table, wanted[name]):
                    self.keep(name, row)
        # Records the mutations refer to (participants of contacts and attendees, groups, …):
        # one query per kind, whatever the entities that asked.
        for m, rid, clean, _errors in fresh:
            entity = REGISTRY.get(m.entity)
            if entity is None:  # rejected already (``_precheck``)
                continue
            current = self.records.get((m.entity, rid))
            entity.refer(self, rid, current, {**(current or {}), **clean}, clean)
        for lookup, ids in self._needed.items():
            if ids:
                self._found[lookup] = await lookup.load(self, sorted(ids))
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
        # A creation (version 1, no ``changes``) is never history: a base is at least 1. The
        # literal ``NOT changes IS NULL`` (the index's condition in the same words, which
        # SQLite needs) lets both planners use the partial index that leaves creations out
        # (``idx_mutation_record_edits``, migration 0011), so a push of new records does not
        # write to it. Placeholders in text order (SQLite).
        rows = await self.conn.execute_query_dict(
            "SELECT entity, record_id, version, changes, device_id FROM mutation "
            f"WHERE version > {dialect.marks(1)[0]} AND {kinds} AND {ids} "
            "AND version IS NOT NULL AND NOT changes IS NULL",
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
        for hook in self._before_write:
            await hook(self)
        await self.write(outcomes)
        for hook in self._after_write:
            await hook(self)
        return outcomes

    def decide(
        self, m: MutationIn, rid: str, clean: dict[str, Any], errors: dict[str, list[str]]
    ) -> Outcome:
        if errors:
            return Outcome(m, rid, "rejected", errors=errors, base_version=m.base_version)
        entity: Entity = REGISTRY[m.entity]
        key = (m.entity, rid)
        current = self.records.get(key)
        current_version = current["version"] if current else 0
        base_version = m.base_version
        if self.current_base:
            base_version = current_version
        errors = entity.write_errors(self.actor, current, clean)
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
            changed = dict.fromkeys(entity.rules)
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
        before = current or store.blank(m.entity)
        after = {**before, **decision.write}
        after["id"] = rid
        errors = entity.record_errors(after, creating=current is None)
        errors.update(entity.reference_errors(self, after, decision.write))
        if errors:
            return Outcome(m, rid, "rejected", errors=errors, base_version=base_version)
        entity.accepted(self, before, after, decision.write)
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
            entity.after_change(self, before if current else None, after)
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

    # --- writing --------------------------------------------------------------------------------

    async def write(self, outcomes: list[Outcome]) -> None:
        conn, dialect, now = self.conn, self.dialect, self.now
        if self.dirty:
            # Allocated last, so the counter row is held for as short a time as possible.
            first = await sequence.allocate(conn, len(self.dirty))
            inserts: dict[str, list[dict[str, Any]]] = {}
            updates: dict[str, list[dict[str, Any]]] = {}
            derived: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
            for offset, key in enumerate(self.dirty):
                record = self.records[key]
                record["seq"] = first + offset
                if key in self.partial:
                    changed = (*sorted(self.partial[key]), *VERSION_COLUMNS)
                    derived.setdefault((key[0], changed), []).append(record)
                    continue
                target = updates if key in self.existing else inserts
                target.setdefault(key[0], []).append(record)
            # Parents first: foreign keys are checked per statement (a contact may refer to a
            # participant or, expanded from a meeting, a meeting made in this same batch).
            for name in INSERT_ORDER:
                rows = inserts.get(name, [])
                await store.insert_many(conn, dialect, REGISTRY[name].table, rows, now)
            for name, rows in updates.items():
                await store.update_many(conn, dialect, REGISTRY[name].table, rows)
            for (name, columns), rows in derived.items():
                await store.update_many(conn, dialect, REGISTRY[name].table, rows, columns)
        await mutation_log.write_log(
            conn,
            dialect,
            outcomes,
            device_id=self.device_id,
            user_id=self.actor.user_id,
            request_id=self.request_id,
            now=now,
        )
        await mutation_log.write_conflicts(
            conn,
            dialect,
            outcomes,
            self.records,
            device_id=self.device_id,
            user_id=self.actor.user_id,
            now=now,
        )


def connection() -> BaseDBAsyncClient:
    return connections.get("default")
