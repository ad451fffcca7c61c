"""Fixtures shared by the whole suite.

``db`` gives each test a migrated database holding no rows: SQLite always, and PostgreSQL too when
``PEERLOG_TEST_POSTGRES_URL`` is set (a copy of a migrated file on SQLite; on PostgreSQL each test
process's own database, emptied before each test). ``database_url`` alone is an empty database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from litestar import Litestar

from server.app import create_app
from server.auth.session import SESSION_COOKIE
from server.settings import Settings
from sync import db as sync_db
from sync import engine as sync_engine

POSTGRES_URL = os.environ.get("PEERLOG_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# Migrating takes about a second on PostgreSQL, and creating a database half a second. Each test
# process migrates once per backend; a test that wants a migrated database gets, on SQLite, a copy
# of that file, and on PostgreSQL that process's database emptied (one TRUNCATE of every table)
# and given back the rows the migrations wrote (the built-in instruments, the change counter
# that numbered them), so both hold what a freshly migrated database holds.
# Tests of the migrations themselves ask for an empty database (``database_url`` without ``db``)
# and run them for real.
_migrated: dict[str, str] = {}
_tables: list[str] = []
_seeded: dict[str, list[Any]] = {}


async def _migrated_sqlite(path: Path) -> None:
    if "sqlite" not in _migrated:
        folder = Path(tempfile.mkdtemp(prefix="peerlog-template-"))
        await sync_db.migrate(f"sqlite://{folder / 'template.sqlite3'}")
        _migrated["sqlite"] = str(folder / "template.sqlite3")
    shutil.copyfile(_migrated["sqlite"], path)


async def _emptied_postgres() -> str:
    import asyncpg

    if "postgres" not in _migrated:
        name = f"peerlog_w_{uuid.uuid4().hex[:12]}"
        await _pg_admin(f'CREATE DATABASE "{name}"')
        await sync_db.migrate(_with_database(POSTGRES_URL, name))
        _migrated["postgres"] = name
    url = _with_database(POSTGRES_URL, _migrated["postgres"])
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        if not _tables:
            rows = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'tortoise_migrations'"
            )
            for r in rows:
                _tables.append(f'"{r["tablename"]}"')
                seeded = await conn.fetch(f'SELECT * FROM "{r["tablename"]}"')
                if seeded:
                    _seeded[r["tablename"]] = seeded
        await conn.execute(f"TRUNCATE {', '.join(_tables)} RESTART IDENTITY CASCADE")
        for table, seeded in _seeded.items():
            await conn.copy_records_to_table(
                table, records=[tuple(r.values()) for r in seeded], columns=list(seeded[0].keys())
            )
    finally:
        await conn.close()
    return url


def pytest_sessionfinish(session: pytest.Session) -> None:
    name = _migrated.pop("postgres", None)
    if name:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if "sqlite" in _migrated:
        shutil.rmtree(Path(_migrated.pop("sqlite")).parent, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of each configured backend: empty, or already migrated (and holding no rows)
    when the test also uses ``db``."""
    migrated = "db" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        if migrated:
            await _migrated_sqlite(path)
        yield f"sqlite://{path}"
        return
    if migrated:
        yield await _emptied_postgres()
        return
    async with empty_database(POSTGRES_URL, tmp_path) as url:
        yield url


@contextlib.asynccontextmanager
async def empty_database(like: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database of the same backend as the URL ``like`` (dropped afterwards on
    PostgreSQL; a file in ``tmp_path`` on SQLite)."""
    if like.startswith("sqlite"):
        yield f"sqlite://{tmp_path / f'empty-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    name = f"peerlog_t_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_URL, name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """A migrated database holding no rows, with the ORM connected; yields its URL."""
    await sync_db.init(database_url)
    try:
        yield database_url
    finally:
        await sync_db.close()
        sync_engine.configure()  # a test's time zone must not reach the next test


@pytest.fixture
def settings(db: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The test's settings. The program's time zone is Settings' default unless the module or
    test states one (``@pytest.mark.timezone("UTC")``) or a test is run in several
    (``@pytest.mark.parametrize("settings", ["UTC", "Asia/Shanghai"], indirect=True)``)."""
    marker = request.node.get_closest_marker("timezone")
    zone = getattr(request, "param", None) or (marker.args[0] if marker else None)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db,
        secret_key="test-secret",
        **({"timezone": zone} if zone else {}),
    )
    # As the app and the command line do: the engine counts days in the program's zone.
    sync_engine.configure(timezone=settings.timezone)
    return settings


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings, manage_database=False)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in this event loop (Litestar's AsyncTestClient runs the app
    on another thread's loop, where an asyncpg pool made here would hang)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ROOT = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def peerlog_serve(
    port: int, env: dict[str, str], output: Any = asyncio.subprocess.DEVNULL, session: str = ""
) -> AsyncIterator[httpx.AsyncClient]:
    """``peerlog serve`` as a child process (this process's ``PEERLOG_*`` left out, ``env`` added),
    and a client for it once ``/healthz`` answers: with ``session``'s cookie and the CSRF token a
    browser would hold. ``output`` takes the server's stdout and stderr."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PEERLOG_")}
    environ.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "serve",
        "--port",
        str(port),
        cwd=ROOT,
        env=environ,
        stdout=output,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://localhost:{port}", timeout=20) as client:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            if session:
                client.cookies.set(SESSION_COOKIE, session)
                await client.get("/healthz")
            client.headers["x-csrftoken"] = client.cookies.get("csrftoken") or ""
            yield client
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)


class LiveServer:
    """A real uvicorn server on localhost, in the test's event loop, over the test's database."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.url = f"http://localhost:{port}"
        self._server: object | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        import uvicorn

        app = create_app(self.settings, manage_database=False)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            access_log=False,
            **self.settings.uvicorn_proxy_options(),
        )
        server = uvicorn.Server(config)
        self._server = server
        self._task = asyncio.create_task(server.serve())
        for _ in range(200):
            if server.started:
                return
            await asyncio.sleep(0.02)
        raise RuntimeError("live server did not start")

    async def stop(self) -> None:
        import uvicorn

        server = self._server
        if isinstance(server, uvicorn.Server) and self._task is not None:
            server.should_exit = True
            await self._task
        self._server = self._task = None


@pytest.fixture
async def live_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A served app on SQLite (browser tests run on one backend; the engine is tested on both)."""
    url = f"sqlite://{tmp_path / 'live.sqlite3'}"
    await sync_db.migrate(url)
    await sync_db.init(url)
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        secret_key="test-secret",
        origin=f"http://localhost:{port}",
    )
    server = LiveServer(settings, port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        await sync_db.close()
