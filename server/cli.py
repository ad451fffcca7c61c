"""The ``peerlog`` command line. A user mistake prints one clear line and exits non-zero."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from server.auth.accounts import AccountRefused, create_user
from server.console import (
    UserError,
    migrate_database,
    with_db,
)
from server.settings import Settings, SettingsError
from sync.models import Role, User


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peerlog", description="Peerlog: contact log for diabetes peer support."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="migrate the database and serve the app")
    serve.add_argument("--host", help="address to listen on (PEERLOG_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (PEERLOG_PORT)")
    serve.add_argument("--workers", type=int, help="server processes (PEERLOG_WORKERS)")

    sub.add_parser("migrate", help="apply pending database migrations")

    demo = sub.add_parser("demo", help="fill a realistic synthetic program and print demo invites")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (same seed, same data)")
    demo.add_argument(
        "--if-empty", action="store_true", help="do nothing when the database has users"
    )

    user = sub.add_parser("create-user", help="create a user")
    user.add_argument("name", help="user name (unique handle, used by `peerlog invite`)")
    user.add_argument("--role", required=True, help="peer_leader, volunteer, coordinator or admin")
    user.add_argument("--display-name", help="name shown in the app (default: the user name)")
    user.add_argument("--community", help="community code (required except for admins)")
    user.add_argument("--committee", help="residential committee code (volunteers)")

    invite = sub.add_parser("invite", help="make a one-time enrolment link for a user")
    invite.add_argument("name", help="user name")

    export = sub.add_parser(
        "export", help="write a CSV export (or the research export's zip) to standard output"
    )
    export.add_argument(
        "kind",
        choices=[
            "contacts",
            "participants",
            "meetings",
            "peer_leaders",
            "groups",
            "places",
            "research",
        ],
    )
    export.add_argument("--community", help="community code")
    export.add_argument(
        "--since", "--from", dest="since", help="first day, YYYY-MM-DD, in PEERLOG_TIMEZONE"
    )
    export.add_argument(
        "--until", "--to", dest="until", help="last day, YYYY-MM-DD, in PEERLOG_TIMEZONE"
    )
    export.add_argument("--output", "-o", help="file to write (default: standard output)")

    instrument = sub.add_parser(
        "instrument", help="add a questionnaire of the program's own (phones pull it)"
    )
    instrument_sub = instrument.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = instrument_sub.add_parser(
        "add",
        help="add the questionnaire a JSON file defines: id, title, items, scale, scoring "
        "(wording in zh-CN and en; the shape is in sync/instruments.py)",
    )
    add.add_argument("file", help="the JSON file")

    backup = sub.add_parser(
        "backup", help="copy the SQLite database to a file, safely while the server runs"
    )
    backup.add_argument("path", help="the new file (it must not exist yet)")

    restore = sub.add_parser(
        "restore",
        help="put a `peerlog backup` file back as the SQLite database; phones resend what it lacks",
    )
    restore.add_argument("path", help="the backup file")
    sub.add_parser(
        "after-restore",
        help="after restoring the database by other means (pg_restore): start a new generation",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return _run(args, settings)
    except (UserError, SettingsError, AccountRefused) as exc:
        print(f"peerlog: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other command-line tools do
        # (and point stdout at /dev/null so the interpreter's final flush does not complain).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the data folder {settings.data_dir} (PEERLOG_DATA_DIR): {exc.strerror}"
        ) from None
    if args.command == "serve":
        return _serve(args, settings)
    if args.command == "migrate":
        asyncio.run(migrate_database(settings))
        print("database is up to date")
        return 0
    if args.command == "create-user":

        async def _create() -> None:
            user = await create_user(
                args.name,
                args.role,
                display_name=args.display_name,
                community=args.community,
                committee=args.committee,
            )
            print(f"created {user.role} {user.username}")

        asyncio.run(with_db(settings, _create))
        return 0
    if args.command == "invite":
        from server.auth.invites import create_invite, invite_link

        async def _invite() -> None:
            user = await User.get_or_none(username=args.name)
            if user is None:
                raise UserError(
                    f"no user named {args.name!r}: create one with `peerlog create-user`"
                )
            invite = await create_invite(user, settings)
            print(
                f"{invite_link(settings, invite.code)}  (code {invite.code}, valid {settings.invite_days} days)"
            )

        asyncio.run(with_db(settings, _invite))
        return 0
    if args.command == "instrument":
        return _add_instrument(settings, Path(args.file))
    if args.command == "backup":
        return _backup(settings, Path(args.path))
    if args.command in ("restore", "after-restore"):
        from server import restores

        if args.command == "restore":
            return restores.restore_sqlite(settings, Path(args.path))
        return restores.after_restore(settings)
    if args.command == "demo":
        from server import demo

        asyncio.run(
            with_db(settings, lambda: demo.run(settings, seed=args.seed, if_empty=args.if_empty))
        )
        return 0
    if args.command == "export":
        from server import exports, research

        export = research.cli_export if args.kind == "research" else exports.cli_export
        asyncio.run(with_db(settings, lambda: export(args, settings.zone)))
        return 0
    raise UserError(f"unknown command {args.command!r}")


def _add_instrument(settings: Settings, path: Path) -> int:
    """``peerlog instrument add FILE``: one line per field that cannot be used, or the id."""
    import json

    from sync import engine

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not JSON (UTF-8): {exc}") from None
    slug, errors = asyncio.run(with_db(settings, lambda: engine.add_instrument(None, data)))
    if errors:
        print(f"peerlog: {path} cannot be added:", file=sys.stderr)
        for name, messages in errors.items():
            for message in messages:
                print(f"  {name}: {message}", file=sys.stderr)
        return 2
    print(f"added questionnaire {slug}: peer leaders' phones receive it at their next sync")
    return 0


def _backup(settings: Settings, target: Path) -> int:
    """SQLite's online backup: a consistent copy, page by page, while the server goes on
    writing (WAL). PostgreSQL has its own tools."""
    if not settings.is_sqlite:
        raise UserError(
            "backup copies the SQLite database; for PostgreSQL use pg_dump "
            "(e.g. pg_dump --format=custom --file=peerlog.dump DATABASE)"
        )
    source = Path(settings.database_url[len("sqlite://") :])
    if not source.is_file():
        raise UserError(f"there is no database at {source} yet: nothing to back up")
    if target.exists():
        raise UserError(f"{target} exists already: name a new file")
    if not target.parent.is_dir():
        raise UserError(f"{target.parent} is not a folder")
    import sqlite3

    partial = target.with_name(target.name + ".partial")
    with (
        contextlib.closing(sqlite3.connect(source)) as db,
        contextlib.closing(sqlite3.connect(partial)) as copy,
    ):
        db.backup(copy)
    partial.rename(target)  # a file under the name given is always a whole backup
    print(f"backed up {source} to {target} ({target.stat().st_size:,} bytes)")
    return 0


# What `serve` says on a database with no administrator yet (SPEC 7: a new program starts empty).
FIRST_ADMIN_HINT = """No administrator yet. Make the first one, then open the link it prints on this machine:
  peerlog create-user NAME --role admin
  peerlog invite NAME
Everything else (places, users, participants) is done from the pages after that."""


async def _has_admin() -> bool:
    return await User.filter(role=Role.ADMIN, is_active=True).exists()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if workers > 1 and settings.is_sqlite:
        raise UserError(
            "several workers need PostgreSQL (PEERLOG_DATABASE_URL=postgres://…): SQLite is one process"
        )

    # Migrates first, as serving would.
    if not asyncio.run(with_db(settings, _has_admin)):
        print(FIRST_ADMIN_HINT)
    os.environ["PEERLOG_DATA_DIR"] = str(settings.data_dir)
    print(f"Peerlog on http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}")
    uvicorn.run(
        "server.asgi:app",
        host=host,
        port=port,
        workers=workers,
        **settings.uvicorn_proxy_options(),
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
