"""A 200 to a push means the data is on stable storage (SPEC 3, "Acknowledged means durable")."""

from __future__ import annotations

import pytest
from tortoise import connections

from sync import db as sync_db


async def test_sqlite_flushes_every_commit_to_disk(db: str) -> None:
    """In WAL mode ``synchronous=NORMAL`` syncs only at checkpoints, so a push answered 200 could
    roll back on power loss; ``FULL`` (2) syncs the log at every commit. Read on the connection
    the server's queries use."""
    if sync_db.dialect() != "sqlite":
        pytest.skip("PostgreSQL's defaults (fsync, synchronous_commit) already flush each commit")
    conn = connections.get("default")
    [row] = await conn.execute_query_dict("PRAGMA synchronous")
    assert row["synchronous"] == 2, "synchronous must be FULL (2)"
    [row] = await conn.execute_query_dict("PRAGMA journal_mode")
    assert row["journal_mode"] == "wal"


async def test_postgres_commits_wait_for_the_disk(db: str) -> None:
    if sync_db.dialect() != "postgres":
        pytest.skip("SQLite is checked above")
    conn = connections.get("default")
    for setting in ("fsync", "synchronous_commit"):
        [row] = await conn.execute_query_dict(f"SHOW {setting}")
        assert row[setting] == "on", setting
