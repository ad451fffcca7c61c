"""``peerlog restore FILE`` and ``peerlog after-restore``: put an earlier copy of the database
back without losing what phones were told was saved since (SPEC 3).

Both start a new database generation (``sync.restore``): every phone's next pull fetches its
scope again, and a phone whose acknowledged mutations the copy is missing sends them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from server.console import UserError, sqlite_folder, with_db
from server.settings import Settings
from sync import db, restore


def restore_sqlite(settings: Settings, source: Path) -> int:
    """Replace the SQLite database with the backup ``source`` (made by ``peerlog backup``).

    The copy is checked, migrated and given its new generation on the side, then written over
    the database in one step with SQLite's backup API: a server still running waits for it
    (its requests see the old database or the restored one, never a mix) and carries on."""
    if not settings.is_sqlite:
        raise UserError(
            "restore FILE puts back a SQLite backup; for PostgreSQL restore the dump with its "
            "own tools (e.g. pg_restore --clean --dbname=DATABASE peerlog.dump), then run "
            "`peerlog after-restore`"
        )
    if not source.is_file():
        raise UserError(f"there is no file at {source}")
    _check_backup(source)
    sqlite_folder(settings)
    target = Path(settings.database_url[len("sqlite://") :])
    side = target.with_name(target.name + ".restoring")
    for leftover in _files(side):
        leftover.unlink(missing_ok=True)
    try:
        _copy(source, side)
        side_url = f"sqlite://{side}"

        async def prepare() -> str:
            await db.migrate(side_url)  # a backup from an older version of Peerlog
            await db.init(side_url)
            try:
                return await restore.start_generation("restore")
            finally:
                await db.close()

        generation = asyncio.run(prepare())
        _copy(side, target)
    finally:
        for leftover in _files(side):
            leftover.unlink(missing_ok=True)
    print(
        f"restored {source} into {target}; new database generation {generation}: phones fetch "
        "their data again and send what the copy is missing"
    )
    return 0


def after_restore(settings: Settings) -> int:
    """After the database was restored by other means (pg_restore, a file copied into place):
    migrate it and start a new generation."""

    async def start() -> str:
        return await restore.start_generation("after-restore")

    generation = asyncio.run(with_db(settings, start))  # migrates first
    print(
        f"new database generation {generation}: phones fetch their data again and send what "
        "the restored copy is missing"
    )
    return 0


def _files(path: Path) -> list[Path]:
    return [path.with_name(path.name + end) for end in ("", "-wal", "-shm", ".migrate-lock")]


def _check_backup(source: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as conn:
            ok = conn.execute("PRAGMA quick_check").fetchone()
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
    except sqlite3.DatabaseError:
        raise UserError(f"{source} is not a SQLite database (a `peerlog backup` file)") from None
    if not {"tortoise_migrations", "device", "mutation"} <= tables:
        raise UserError(f"{source} is a SQLite database, but not a Peerlog one")
    if not ok or ok[0] != "ok":
        raise UserError(f"{source} is damaged (SQLite's quick_check fails): use another backup")


def _copy(source: Path, target: Path) -> None:
    # The backup API, not a file copy: it writes through SQLite's locks and journal, so the
    # target is never half-written and a server reading it waits rather than seeing a mix.
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(target, timeout=30)) as dst,
    ):
        src.backup(dst)
