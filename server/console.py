"""What every ``peerlog`` command shares (``server.cli`` and the modules that carry out its
commands: demo, exports, restores): the user's mistake, and opening the database."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from server.settings import Settings
from sync import db, engine


class UserError(Exception):
    """A mistake the person at the keyboard can fix; its message is printed as is."""


async def with_db(settings: Settings, work: Callable[[], Awaitable[Any]]) -> Any:
    await migrate_database(settings)
    engine.configure(timezone=settings.timezone)
    try:
        await db.init(settings.database_url)
    except Exception as exc:
        raise database_error(settings, exc) from None
    try:
        return await work()
    finally:
        await db.close()


async def migrate_database(settings: Settings) -> None:
    if settings.is_sqlite:
        sqlite_folder(settings)
    try:
        await db.migrate(settings.database_url)
    except Exception as exc:
        raise database_error(settings, exc) from None


def sqlite_folder(settings: Settings) -> None:
    # aiosqlite never answers (the command hangs) when the file's folder is missing or
    # unwritable, so make sure of it here.
    path = Path(settings.database_url[len("sqlite://") :])
    if str(path) == ":memory:":
        return
    if path.parent.exists() and not path.parent.is_dir():
        raise UserError(
            f"cannot open the database at {settings.database_url}: {path.parent} is not a folder"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot open the database at {settings.database_url}: cannot create its folder ({exc.strerror})"
        ) from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"cannot open the database at {settings.database_url}: permission denied")


def database_error(settings: Settings, exc: Exception) -> Exception:
    """A failure to reach or open the database becomes one clear line; anything else (a bug)
    keeps its traceback."""
    if isinstance(exc, db.MigrationRefused):
        return UserError(f"cannot migrate the database at {redacted(settings.database_url)}: {exc}")
    kind = f"{type(exc).__module__}.{type(exc).__name__}"
    if isinstance(exc, OSError | ConnectionError | TimeoutError) or any(
        name in kind for name in ("asyncpg", "sqlite3", "tortoise.exceptions")
    ):
        # The driver's message says what went wrong (refused, no such database, password);
        # the URL is shown without its credentials.
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return UserError(f"cannot open the database at {redacted(settings.database_url)}: {detail}")
    return exc


def redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url
