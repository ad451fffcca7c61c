"""The global change sequence.

``allocate`` must run inside the transaction that writes the rows it numbers. The counter row
stays locked until that transaction commits (PostgreSQL row lock, SQLite's single writer), so
numbers become visible in the order they were handed out: a pull cursor at ``n`` can never
later find a committed row with ``seq <= n`` that it did not see.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

COUNTER = "global"


async def allocate(conn: BaseDBAsyncClient, count: int = 1) -> int:
    """Reserve ``count`` consecutive sequence numbers and return the first."""
    if count < 1:
        raise ValueError("count must be at least 1")
    # One statement (one round trip): creates the counter on first use, else bumps it.
    rows = await conn.execute_query_dict(
        f"INSERT INTO change_counter (name, value) VALUES ('global', {int(count)}) "
        f"ON CONFLICT (name) DO UPDATE SET value = change_counter.value + {int(count)} "
        "RETURNING value"
    )
    last = int(rows[0]["value"])
    return last - count + 1


async def current(conn: BaseDBAsyncClient) -> int:
    """The highest sequence number handed out so far (0 before any write)."""
    rows = await conn.execute_query_dict("SELECT value FROM change_counter WHERE name = 'global'")
    return int(rows[0]["value"]) if rows else 0
