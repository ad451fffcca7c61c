"""The mutation log and the conflicts: what a push writes about its mutations, besides the records.

Each mutation's log row is also the record's version history (the merge reads it back) and the
mutation's audit event (actor, device, status, record, time, request id); a replayed mutation is
answered from it (``logged_results``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from sync import store, validate
from sync.wire import errors_from_json, errors_json, plain_errors

if TYPE_CHECKING:
    from sync.push import Outcome

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


async def logged_results(
    conn: BaseDBAsyncClient, dialect: store.Dialect, device_id: uuid.UUID, ids: list[int]
) -> dict[int, dict[str, Any]]:
    """The first results of the device's mutations ``ids`` that the log holds."""
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


_EMPTY = "{}"


async def write_log(
    conn: BaseDBAsyncClient,
    dialect: store.Dialect,
    outcomes: list[Outcome],
    *,
    device_id: str,
    user_id: str,
    request_id: str | None,
    now: datetime,
) -> None:
    """One log row per mutation decided (applied, conflict or rejected). ``changes`` is NULL
    for a creation (its values are the record's first version) and only for one: a rejection or
    an edit that changed nothing keeps ``{}``."""
    if not outcomes:
        return
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
                device_id,
                o.mutation.mutation_id,
                user_id,
                validate.printable(o.mutation.entity)[:32],
                o.rid,
                o.base_version,
                None if rejected else o.version,
                o.status,
                # NULL marks a creation, and only a creation: the history index
                # (``idx_mutation_record_edits``, migration 0011) holds every other row.
                None if o.created else _EMPTY if not o.changes else encode(o.changes),
                encode(extra) if extra else None,
                now,
                request_id,
            ]
        )
    await store.bulk_insert(conn, dialect, "mutation", LOG_COLUMNS, rows)


async def write_conflicts(
    conn: BaseDBAsyncClient,
    dialect: store.Dialect,
    outcomes: list[Outcome],
    records: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    device_id: str,
    user_id: str,
    now: datetime,
) -> None:
    """One open conflict per mutation that conflicted (``records``: as they now stand)."""
    rows = [o for o in outcomes if o.conflict_id]
    if not rows:
        return
    await conn.execute_many(
        "INSERT INTO conflict (id, entity, record_id, base_version, server_version, "
        "fields_json, user_id, device_id, community_id, mutation_id, status, created_at) "
        f"VALUES ({', '.join(dialect.marks(12))})",
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
                user_id,
                device_id,
                records[(o.mutation.entity, o.rid)].get("community_id"),
                o.mutation.mutation_id,
                "open",
                now,
            ]
            for o in rows
        ],
    )
