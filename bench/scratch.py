"""What the benchmarks share: a scratch PostgreSQL database beside the one they are given, and a
served app over a fresh SQLite database."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from server.settings import Settings
from sync import db as sync_db
from tests.conftest import LiveServer, free_port


@contextlib.asynccontextmanager
async def scratch_postgres(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A new database on the server of ``server_url`` (its URL, in Tortoise's form), dropped
    afterwards whatever happened."""
    import asyncpg

    admin = server_url.replace("postgres://", "postgresql://", 1)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    parts = urlsplit(server_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def start_scratch_sqlite(
    prefix: str, prepare: Callable[[Settings], Awaitable[Any]] | None = None
) -> LiveServer:
    """A real uvicorn server on a free port over a new, migrated SQLite database in a temporary
    folder; ``prepare`` fills it before the server starts. Stop it with ``stop_scratch``."""
    tmp = Path(tempfile.mkdtemp(prefix=f"peerlog-{prefix}-"))
    url = f"sqlite://{tmp / f'{prefix}.sqlite3'}"
    await sync_db.migrate(url)
    await sync_db.init(url)
    port = free_port()
    settings = Settings(
        data_dir=tmp / "data",
        database_url=url,
        secret_key=prefix,
        origin=f"http://localhost:{port}",
        log_level="WARNING",
    )
    if prepare is not None:
        await prepare(settings)
    server = LiveServer(settings, port)
    await server.start()
    return server


async def stop_scratch(server: LiveServer) -> None:
    await server.stop()
    await sync_db.close()
