"""The CPU a push costs, in-process: prints figures, asserts nothing about speed.

    .venv/bin/python bench/bench_push_cpu.py [--batches 20] [--rounds 3] [--no-readings]

On a shared machine a push's wall time moves by 2-5x with whatever else runs, which hides a
change of 10 % (BENCHMARKS.md). The CPU time the process spends on a batch (``time.process_time``:
the engine's Python and SQLite's work in its thread, not the waits) moves far less. Over a fresh
SQLite database (``synchronous=FULL``), one peer leader with 50 participants pushes batches of
500 new contacts through ``sync.engine.push`` (bodies decoded by ``sync.wire.decode_push``, as the
API does; no HTTP); the median CPU and wall time per batch of each round are printed.

It uses only what older commits of the benchmark have too (``seed_people``, ``contact_fields``),
so it can be copied into a worktree of an earlier commit to compare (``--no-readings`` needs
``READINGS`` in that tree's ``bench_sync.py``; without it the contacts carry a glucose).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench_sync  # noqa: E402 (beside this script)

from sync import db, engine  # noqa: E402
from sync.models import Committee, Community, Role, User  # noqa: E402
from sync.wire import decode_push  # noqa: E402

BATCH = 500


async def one_round(batches: int) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix="peerlog-cpu-"))
    url = f"sqlite://{folder / 'cpu.sqlite3'}"
    try:
        await db.migrate(url)
        await db.init(url)
        community = await Community.create(name="CPU", code=f"CC{uuid.uuid4().hex[:6]}")
        committee = await Committee.create(
            name="CPU RC", code=f"CR{uuid.uuid4().hex[:6]}", community=community
        )
        leader = await User.create(
            username=f"cpu{uuid.uuid4().hex[:6]}",
            display_name="CPU",
            role=Role.PEER_LEADER,
            community=community,
        )
        people = await bench_sync.seed_people(leader, committee, 50)
        device = str(uuid.uuid4())
        bodies = [
            bench_sync.encode(
                {
                    "device_id": device,
                    "schema_version": 1,
                    "mutations": [
                        {
                            "mutation_id": b * BATCH + i + 1,
                            "entity": "contact",
                            "id": str(uuid.uuid4()),
                            "base_version": 0,
                            "fields": bench_sync.contact_fields(
                                people[i % len(people)], b * BATCH + i
                            ),
                        }
                        for i in range(BATCH)
                    ],
                }
            )
            for b in range(batches + 1)
        ]
        await engine.push(leader, decode_push(bodies[0]))  # warm-up, untimed
        cpu, wall = [], []
        for body in bodies[1:]:
            request = decode_push(body)
            c, w = time.process_time(), time.perf_counter()
            await engine.push(leader, request)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
        return statistics.median(cpu) * 1000, statistics.median(wall) * 1000
    finally:
        await db.close()
        shutil.rmtree(folder, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-readings", action="store_true")
    args = parser.parse_args()
    if args.no_readings:
        getattr(bench_sync, "READINGS", {}).clear()
    import logging

    logging.getLogger("peerlog.sync").setLevel(logging.WARNING)
    readings = "with" if getattr(bench_sync, "READINGS", True) else "without"
    for _ in range(args.rounds):
        cpu, wall = await one_round(args.batches)
        print(
            f"push of {BATCH} new contacts ({readings} a reported glucose), in-process, SQLite: "
            f"CPU {cpu:.1f} ms a batch, wall {wall:.1f} ms (medians of {args.batches})",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
