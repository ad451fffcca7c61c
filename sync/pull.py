"""The pull engine: one page of changes in the user's scope, after a cursor.

A page is at most one range scan on ``seq`` per entity, bounded above by the highest
*committed* sequence number read first. Sequence numbers are allocated under the counter row's
lock, held until commit, so every row at or below that mark is visible to the scans that follow,
whichever statement (or snapshot) they run in: a page never shows ``seq = n + 1`` while ``n`` is
still invisible, and a cursor never skips a change.

What a page costs (``bench/bench_pull_cpu.py``): the mark is read with one index probe per entity
(is there a change in scope after the cursor?) in the same statement; only entities that have
one are scanned, and once a page's end is known the tables read after stop there. The count of
what is left (``total_estimate``) is what was read, unless a scan stopped short; then one
statement counts every table's range. An everyday sync of a few new contacts reads with two
statements (the mark with its probes, one scan) whatever the number of entities.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from sync import cursor as cursors
from sync import db, directory, restore, store
from sync import outbox as outbox_columns
from sync.entities import REGISTRY
from sync.entities.base import Entity
from sync.outbox import OutboxReport
from sync.scope import Actor
from sync.wire import Change, PullResponse, ResyncResponse

log = logging.getLogger("peerlog.sync")

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000


async def pull(
    actor: Actor,
    cursor_text: str | None,
    limit: int = DEFAULT_LIMIT,
    *,
    device_id: str | None = None,
    request_id: str | None = None,
    outbox: OutboxReport | None = None,
) -> PullResponse | ResyncResponse:
    """One page. No cursor = from the beginning (a full resync). Raises ``cursor.BadCursor``.
    The device's row gets its last sync time and ``outbox`` (the phone's report of its queue,
    ``sync.outbox``) in the transaction that audits the pull."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    after = cursors.START
    parsed = cursors.decode(cursor_text) if cursor_text else None
    if parsed is not None:
        if parsed.scope != actor.descriptor or parsed.token != actor.scope_token:
            return await _resync(actor, device_id, request_id, "scope", outbox)
        after = parsed.seq
    dialect = store.Dialect(db.dialect())
    scans = [
        _Scan(entity, kind, fields)
        for entity, kind in REGISTRY.items()
        if (fields := kind.fields_for(actor)) and kind.read_filter(actor, dialect.marks)
    ]
    # Read before the page's transaction: every change at or below ``high`` has committed, so
    # the scans (whose snapshot starts later) see all of them. In the same round trip and
    # snapshot: which tables hold a change after the cursor (an index probe each); only those
    # are read. (A page's empty scans cost more than the rows of an incremental sync.)
    take = dialect.counter().take
    probes: list[str] = []
    probed: list[Any] = []
    for scan in scans:
        where, params = scan.scope(actor, take, upto=False)
        probes.append(f"EXISTS (SELECT 1 FROM {scan.kind.table} WHERE {where})")
        probed += [after, *params]
    high, generation, changed = await restore.position(connections.get("default"), probes, probed)
    if parsed is not None and (parsed.generation != generation or parsed.seq > high):
        # A cursor from before a restore: it would skip the changes numbered again since.
        return await _resync(actor, device_id, request_id, "restore", outbox)
    scans = [scan for scan, held in zip(scans, changed, strict=True) if held]
    async with in_transaction() as conn:
        # Each table's next rows in sequence order, merged. Once more than ``limit`` rows are
        # in hand, a row numbered above the (limit + 1)-th cannot be on this page: the tables
        # read after that stop there (a table whose changes all come later reads none).
        candidates: list[tuple[int, str, dict[str, Any]]] = []
        bound, read, cut = high, 0, False
        for scan in scans:
            where, params = scan.scope(actor, dialect.counter().take)
            rows = await conn.execute_query_dict(
                f"SELECT {scan.columns} FROM {scan.kind.table} WHERE {where} "
                f"ORDER BY seq LIMIT {limit + 1}",
                [after, bound, *params],
            )
            read += len(rows)
            cut = cut or bound < high or len(rows) > limit
            candidates.extend((int(raw["seq"]), scan.entity, raw) for raw in rows)
            if len(candidates) > limit:
                candidates.sort(key=_by_seq)
                del candidates[limit + 1 :]
                bound = candidates[limit][0]
        candidates.sort(key=_by_seq)
        page = candidates[:limit]
        has_more = len(candidates) > limit
        if has_more and candidates[limit][0] == page[-1][0]:
            # Rows sharing one sequence number (written outside the engine, e.g. seq 0 from
            # before the counter) must not straddle two pages: the cursor is a number, so the
            # page ends after all of them, even if that makes it longer than ``limit``.
            tie = page[-1][0]
            page = [c for c in candidates if c[0] < tie]
            for scan in scans:
                # The scan's range (tie - 1, tie]: exactly the rows numbered ``tie``.
                where, params = scan.scope(actor, dialect.counter().take)
                rows = await conn.execute_query_dict(
                    f"SELECT {scan.columns} FROM {scan.kind.table} WHERE {where}",
                    [tie - 1, tie, *params],
                )
                page.extend((tie, scan.entity, raw) for raw in rows)
        # Every change in scope after the cursor: what was read, unless a table stopped short.
        total = await _count(conn, dialect, scans, actor, after, high) if cut else read
        # With the last page, in the same snapshot: the names the coordinator's forms pick from.
        leaders = None if has_more else await directory.peer_leaders(conn, dialect, actor)
    next_seq = page[-1][0] if has_more else max(high, after)
    changes = []
    for _seq, entity, raw in page:
        # The row becomes the change's fields: no copy of each row (and only the page's rows
        # are converted).
        row = dialect.row(REGISTRY[entity].table, raw)
        del row["seq"]
        changes.append(
            Change(entity=entity, id=row.pop("id"), version=row.pop("version"), fields=row)
        )
    await _audit(actor, device_id, request_id, len(changes), resync=False, outbox=outbox)
    log.info("pull user=%s changes=%d has_more=%s", actor.user_id, len(changes), has_more)
    return PullResponse(
        changes=changes,
        cursor=cursors.encode(
            cursors.Cursor(
                seq=next_seq,
                scope=actor.descriptor,
                token=actor.scope_token,
                generation=generation,
            )
        ),
        has_more=has_more,
        total_estimate=total,
        peer_leaders=leaders,
    )


def _by_seq(candidate: tuple[int, str, dict[str, Any]]) -> int:
    return candidate[0]


class _Scan:
    """One entity the actor reads: its columns, and its rows in the actor's scope."""

    __slots__ = ("columns", "entity", "kind")

    def __init__(self, entity: str, kind: Entity, fields: tuple[str, ...]) -> None:
        self.entity = entity
        self.kind = kind
        self.columns = ", ".join(["id", "version", "seq", "updated_at", *fields])

    def scope(
        self, actor: Actor, take: Callable[[int], list[str]], *, upto: bool = True
    ) -> tuple[str, list[Any]]:
        """The condition for rows in scope numbered after the first parameter and (``upto``)
        at most the second; the scope's own parameters follow those."""
        after = take(1)[0]
        below = f" AND seq <= {take(1)[0]}" if upto else ""
        # (Never None: a _Scan is made only for an entity the actor reads.)
        where, params = self.kind.read_filter(actor, take) or ("FALSE", [])
        return f"seq > {after}{below} AND {where}", params


async def _count(
    conn: Any, dialect: store.Dialect, scans: list[_Scan], actor: Actor, after: int, high: int
) -> int:
    """The changes in scope after ``after``: every table's index range count in one
    statement."""
    take = dialect.counter().take
    parts: list[str] = []
    params: list[Any] = []
    for scan in scans:
        where, values = scan.scope(actor, take)
        parts.append(f"(SELECT COUNT(*) FROM {scan.kind.table} WHERE {where})")
        params += [after, high, *values]
    rows = await conn.execute_query_dict(f"SELECT {' + '.join(parts)} AS n", params)
    return int(rows[0]["n"])


async def _resync(
    actor: Actor,
    device_id: str | None,
    request_id: str | None,
    reason: str,
    outbox: OutboxReport | None = None,
) -> ResyncResponse:
    await _audit(actor, device_id, request_id, 0, resync=True, reason=reason, outbox=outbox)
    log.info("pull user=%s resync reason=%s", actor.user_id, reason)
    return ResyncResponse()


async def _audit(
    actor: Actor,
    device_id: str | None,
    request_id: str | None,
    count: int,
    *,
    resync: bool,
    reason: str | None = None,
    outbox: OutboxReport | None = None,
) -> None:
    dialect = store.Dialect(db.dialect())
    marks = dialect.marks(7)
    async with in_transaction() as conn:
        await conn.execute_query(
            "INSERT INTO audit_event (at, actor_id, device_id, action, request_id, detail, entity) "
            f"VALUES ({', '.join(marks[:6])}, NULL)",
            [
                datetime.now(UTC),
                actor.user_id,
                device_id,
                "sync.pull",
                request_id,
                store.encode_json(
                    {"count": count, "resync": resync, **({"reason": reason} if reason else {})}
                ),
            ],
        )
        if device_id is not None:
            # One more statement in the same commit: no extra flush to disk per pull.
            now = datetime.now(UTC)
            sets: list[str] = ["last_sync_at"]
            params: list[object] = [now]
            if outbox is not None:
                sets += outbox_columns.COLUMNS
                params += outbox_columns.values(outbox, now)
            m = dialect.marks(len(sets) + 2)
            assignments = ", ".join(f"{name} = {mark}" for name, mark in zip(sets, m, strict=False))
            await conn.execute_query(
                f"UPDATE device SET {assignments} WHERE id = {m[-2]} AND user_id = {m[-1]} "
                "AND revoked_at IS NULL",
                [*params, device_id, actor.user_id],
            )
