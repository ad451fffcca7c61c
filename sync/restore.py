"""Restores: nothing acknowledged is lost when the database goes back to an earlier copy (SPEC 3,
"Acknowledged means durable, also across a restore").

A restored copy has forgotten two things phones still rely on:

* the changes numbered after the copy was made. The change sequence goes back and numbers new
  changes again, so a phone's pull cursor from before the restore would skip them. Each restore
  starts a new database *generation* (``start_generation``); the pull cursor carries it, and a
  cursor from another generation, or ahead of the highest sequence number, answers a resync.
* the mutations it acknowledged after the copy was made. A device's ``last_mutation_id`` goes
  back; the phone sees it below its own acknowledged mark and sends its sent log above the
  server's mark again, flagged ``resend``. A re-sent creation of a record the server still has
  with the same values is ``applied`` once (``same_values``); a lost one is created again.
  ``audit_resend`` writes one ``sync.resend`` event per push that carried re-sent mutations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from sync import store
from sync.models import AuditEvent, DatabaseGeneration

# The generation of a database never restored (no row yet); also what cursors made before
# generations existed carry.
FIRST = ""


async def position(
    conn: BaseDBAsyncClient, probes: Sequence[str] = (), params: Sequence[Any] = ()
) -> tuple[int, str, list[bool]]:
    """The highest sequence number handed out so far and the database's generation, in one
    round trip; with them, in the same snapshot, whether each of ``probes`` holds (SQL
    conditions whose placeholders, numbered from the first, take ``params``)."""
    asked = "".join(f", {probe} AS probe_{n}" for n, probe in enumerate(probes))
    rows = await conn.execute_query_dict(
        "SELECT (SELECT value FROM change_counter WHERE name = 'global') AS high, "
        f"(SELECT generation FROM database_generation ORDER BY id DESC LIMIT 1) AS generation{asked}",
        list(params),
    )
    row = rows[0] if rows else {}
    held = [bool(row.get(f"probe_{n}")) for n in range(len(probes))]
    return int(row.get("high") or 0), str(row.get("generation") or FIRST), held


async def start_generation(reason: str) -> str:
    """Start a new database generation (after the database was restored from a copy) and
    audit it; returns the generation. Every phone's next pull then answers a resync."""
    generation = str(uuid.uuid4())
    async with in_transaction():
        await DatabaseGeneration.create(generation=generation, reason=reason)
        await AuditEvent.create(
            action="database.restored",
            detail={"generation": generation, "reason": reason},
        )
    return generation


def same_values(current: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> bool:
    """A re-sent creation finds the record with every value it sets: it was already applied."""
    return current is not None and all(current.get(k) == v for k, v in fields.items())


async def audit_resend(
    conn: BaseDBAsyncClient,
    dialect: store.Dialect,
    *,
    actor_id: str,
    device_id: str,
    request_id: str | None,
    now: datetime | None,
    resent: Iterable[tuple[int, str, bool]],
) -> None:
    """One ``sync.resend`` audit event for a push carrying re-sent mutations: how many, the
    mutation ids they took, how many records had to be created again, and the statuses. Ids and
    counts only, never a value. ``resent``: (mutation id, status, created) of each re-sent
    mutation processed now (one answered from the log as a duplicate is not counted again)."""
    rows = sorted(resent)
    if not rows:
        return
    ids = [mid for mid, _status, _created in rows]
    statuses: dict[str, int] = {}
    for _mid, status, _created in rows:
        statuses[status] = statuses.get(status, 0) + 1
    recreated = sum(created for _mid, _status, created in rows)
    detail = {
        "count": len(ids),
        "first_mutation_id": ids[0],
        "last_mutation_id": ids[-1],
        "recreated": recreated,
        "statuses": statuses,
    }
    marks = dialect.marks(6)
    await conn.execute_query(
        "INSERT INTO audit_event (at, actor_id, device_id, action, request_id, detail, entity) "
        f"VALUES ({', '.join(marks)}, NULL)",
        [
            now or datetime.now(UTC),
            actor_id,
            device_id,
            "sync.resend",
            request_id,
            store.encode_json(detail),
        ],
    )
