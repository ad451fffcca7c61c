"""The CPU a pull costs, in-process: prints figures, asserts nothing about speed.

    .venv/bin/python bench/bench_pull_cpu.py [--scopes 2500,10000,40000] [--rounds 5]
        [--postgres postgres://postgres@127.0.0.1:5432/postgres]

Over a fresh SQLite database per scope size (``synchronous=FULL``; with ``--postgres``, a scratch
PostgreSQL database on that server instead, where the server's own work is in the wall time,
not the CPU), one peer leader holds a
fifth of the scope as participants and the rest as contacts (``bench_sync``'s seeding; a
second peer leader's records of the same size lie beside it, out of scope). Through
``sync.engine.pull`` (no HTTP) it prints, per scope size:

- a full pull in pages of 1,000 (a new phone, or a resync): CPU and wall time, per record and
  in all, and the statements a page ran;
- an everyday pull: 5 new contacts since the phone's cursor, on the same database: CPU and wall
  time and statements, medians of 40.

Every pull also writes its audit event (a commit: on SQLite a sync to disk), in both.

``÷ first`` shows how a record's cost (CPU on SQLite, wall on PostgreSQL) grows with the scope. Medians of ``--rounds``. It uses
only what older commits have too (``bench_sync.seed_people``, ``raw_contacts``,
``engine.pull``), so it can be copied into a worktree of an earlier commit and run there to
compare.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench_sync  # noqa: E402 (beside this script)

from sync import db, engine  # noqa: E402
from sync.models import Committee, Community, Role, User  # noqa: E402

PAGE = 1000
EVERYDAY = 5


class Statements:
    """Counts the statements the database connection runs (``execute_query*``)."""

    def __init__(self) -> None:
        self.count = 0

    def install(self) -> None:
        from tortoise import connections

        client = type(connections.get("default"))
        for name in ("execute_query", "execute_query_dict"):
            original = getattr(client, name)

            def counted(*args: Any, _original: Any = original, **kw: Any) -> Awaitable[Any]:
                self.count += 1
                return _original(*args, **kw)

            setattr(client, name, counted)


async def timed(run: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    pages = await run()
    return time.process_time() - cpu, time.perf_counter() - wall, pages


async def one_scope(records: int, rounds: int, postgres: str) -> dict[str, float]:
    if postgres:
        from scratch import scratch_postgres

        async with scratch_postgres(postgres, "peerlog_pull") as url:
            return await on_database(url, records, rounds)
    folder = Path(tempfile.mkdtemp(prefix="peerlog-pull-"))
    try:
        return await on_database(f"sqlite://{folder / 'pull.sqlite3'}", records, rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def on_database(url: str, records: int, rounds: int) -> dict[str, float]:
    try:
        await db.migrate(url)
        await db.init(url)
        statements = Statements()
        statements.install()
        community = await Community.create(name="Pull", code=f"PC{uuid.uuid4().hex[:6]}")
        committee = await Committee.create(
            name="Pull RC", code=f"PR{uuid.uuid4().hex[:6]}", community=community
        )
        leaders = []
        people = records // 5
        for name in ("reader", "beside"):
            leader = await User.create(
                username=f"{name}{uuid.uuid4().hex[:6]}",
                display_name=name,
                role=Role.PEER_LEADER,
                community=community,
            )
            ids = await bench_sync.seed_people(leader, committee, people)
            leaders.append((leader, ids))
        # Contacts of the two peer leaders interleaved by sequence number, 500 at a time.
        for _ in range(0, records - people, bench_sync.BATCH):
            for leader, ids in leaders:
                await bench_sync.raw_contacts(leader, str(community.id), ids, bench_sync.BATCH)
        reader, ids = leaders[0]
        # The newest changes are the reader's (the everyday pull's).
        await bench_sync.raw_contacts(reader, str(community.id), ids, bench_sync.BATCH)

        async def full() -> int:
            cursor, pages, got = None, 0, 0
            while True:
                page = await engine.pull(reader, cursor, PAGE)
                assert isinstance(page, engine.PullResponse)
                bench_sync.encode(page)
                got += len(page.changes)
                pages += 1
                cursor = page.cursor
                if not page.has_more:
                    state["cursor"] = cursor
                    state["got"] = got
                    return pages

        state: dict[str, Any] = {}
        await full()  # warm-up
        fulls = []
        for _ in range(rounds):
            before = statements.count
            cpu, wall, pages = await timed(full)
            fulls.append((cpu, wall, (statements.count - before) / pages))
        everyday = []
        cursor = await _cursor_before(reader, EVERYDAY)

        async def once() -> int:
            page = await engine.pull(reader, cursor, PAGE)
            assert isinstance(page, engine.PullResponse)
            assert len(page.changes) == EVERYDAY, len(page.changes)
            bench_sync.encode(page)
            return 1

        for _ in range(40):
            before = statements.count
            cpu, wall, _ = await timed(once)
            everyday.append((cpu, wall, statements.count - before))
        got = state["got"]
        return {
            "records": got,
            "full_cpu": statistics.median(c for c, _, _ in fulls),
            "full_wall": statistics.median(w for _, w, _ in fulls),
            "full_statements": statistics.median(s for _, _, s in fulls),
            "day_cpu": statistics.median(c for c, _, _ in everyday),
            "day_wall": statistics.median(w for _, w, _ in everyday),
            "day_statements": statistics.median(s for _, _, s in everyday),
        }
    finally:
        await db.close()


async def _cursor_before(reader: User, count: int) -> str:
    """A cursor as a phone holds it after a sync: everything up to ``count`` changes before
    the newest (made by the server's own cursor encoding, whatever its version)."""
    from tortoise import connections

    from sync import cursor as cursors
    from sync import restore
    from sync.scope import Actor

    rows = await connections.get("default").execute_query_dict(
        "SELECT value FROM change_counter WHERE name = 'global'"
    )
    actor: Actor = await engine.actor_for(reader)
    position = await restore.position(connections.get("default"))
    return cursors.encode(
        cursors.Cursor(
            seq=int(rows[0]["value"]) - count,
            scope=actor.descriptor,
            token=actor.scope_token,
            generation=position[1],
        )
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scopes", default="2500,10000,40000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="", help="a PostgreSQL server instead of SQLite")
    args = parser.parse_args()
    logging.getLogger("peerlog.sync").setLevel(logging.WARNING)
    first = None
    for size in (int(s) for s in args.scopes.split(",")):
        out = await one_scope(size, args.rounds, args.postgres)
        # On PostgreSQL most of the work is the server's: per record by wall time there.
        per = out["full_wall" if args.postgres else "full_cpu"] / out["records"] * 1e6
        first = first or per
        print(
            f"[{'postgres' if args.postgres else 'sqlite'}] scope {out['records']:,} records: full pull CPU {out['full_cpu'] * 1000:.0f} ms "
            f"(wall {out['full_wall'] * 1000:.0f}), {per:.1f} µs a record (÷ first {per / first:.2f}), "
            f"{out['full_statements']:.1f} statements a page; everyday pull of {EVERYDAY} "
            f"changes CPU {out['day_cpu'] * 1000:.2f} ms (wall {out['day_wall'] * 1000:.2f}), "
            f"{out['day_statements']:.0f} statements",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
