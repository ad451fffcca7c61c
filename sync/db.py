"""Database set-up shared by the server, the command line, the tests and the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate as tortoise_migrate

MODELS_MODULE = "sync.models"
MIGRATIONS_MODULE = "sync.migrations"

# A 200 to a push promises the data is on disk (SPEC 3). In WAL mode NORMAL syncs only at
# checkpoints: a committed push can roll back on power loss or an OS crash. FULL syncs the WAL at
# every commit. Module-level only so that ``bench/bench_sync.py --synchronous-cost`` can measure
# what it costs; there is no setting to turn it down.
SQLITE_SYNCHRONOUS = "FULL"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """Tortoise's config for one database URL (``sqlite://…`` or ``postgres://…``)."""
    if database_url.startswith("postgresql://"):
        database_url = "postgres://" + database_url[len("postgresql://") :]
    connection: str | dict[str, Any] = database_url
    if database_url.startswith("sqlite://"):
        path = database_url[len("sqlite://") :]
        connection = {
            "engine": "tortoise.backends.sqlite",
            "credentials": {
                "file_path": path,
                # WAL lets readers (pull, pages) go on while a push commits.
                "journal_mode": "WAL",
                # A 500-contact push dirties ~1,500 pages of a big table (its UUID keys land on
                # as many index pages). With SQLite's defaults (checkpoint at 1,000 WAL pages,
                # a 2 MiB cache, the WAL cut back to 16 KiB) every such commit also ran a
                # checkpoint and regrew the file, and the push's cost grew with the table
                # (bench/bench_growth.py): checkpoint every ~40 MiB, keep the WAL file's
                # space, cache 64 MiB.
                "wal_autocheckpoint": 10000,
                "journal_size_limit": 64 * 1024 * 1024,
                "cache_size": -64 * 1024,
                "foreign_keys": "ON",
                "busy_timeout": 10000,
                "synchronous": SQLITE_SYNCHRONOUS,
            },
        }
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


class MigrationRefused(RuntimeError):
    """A migration found data it cannot carry over without a person's decision; the message says
    what and what to do, and the database is left as it was."""


# pg_advisory_lock key held while migrating ("PEERLOG" in ASCII, as a bigint).
MIGRATION_LOCK = 0x50454552_4C4F47


async def migrate(database_url: str) -> None:
    """Apply every pending versioned migration, then close the connections it opened.

    One migrator at a time per database: processes started together on several hosts (or
    ``peerlog migrate`` beside ``peerlog serve``) would otherwise create the same tables at once
    and all but one fail. The others wait, then find nothing left to apply."""
    async with _migration_lock(database_url):
        _forget_statements()  # migration 0010 writes rows through the ORM
        try:
            await tortoise_migrate(config=tortoise_config(database_url))
        finally:
            await Tortoise.close_connections()


@contextlib.asynccontextmanager
async def _migration_lock(database_url: str) -> AsyncIterator[None]:
    scheme, _, rest = database_url.partition("://")
    if scheme in ("postgres", "postgresql"):
        import asyncpg

        # A session of its own: closing it releases the lock whatever happened.
        conn = await asyncpg.connect("postgresql://" + rest.split("?", 1)[0])
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            yield
        finally:
            await conn.close()
    elif scheme == "sqlite" and rest not in ("", ":memory:"):
        with open(f"{rest}.migrate-lock", "a") as lock:  # noqa: ASYNC230 - a file of no content
            await asyncio.to_thread(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
            yield  # the lock goes with the file's closing
    else:
        yield


async def init(database_url: str) -> None:
    """Connect the ORM for queries. The context is global so request handlers see it."""
    _forget_statements()
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


def _forget_statements() -> None:
    # Tortoise caches each model's INSERT statement by connection name, placeholders included:
    # a process that moves from SQLite to PostgreSQL (the test suite) must start afresh.
    from tortoise.backends.base import executor

    executor.EXECUTOR_CACHE.clear()


async def close() -> None:
    await Tortoise.close_connections()


def dialect() -> str:
    """``sqlite`` or ``postgres``: the few statements that differ check this."""
    from tortoise import connections

    name = type(connections.get("default")).__module__
    return "postgres" if "asyncpg" in name or "psycopg" in name else "sqlite"


# For Tortoise's own command line (`tortoise makemigrations`, see `make migrations`).
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
