"""What the outbox report (SPEC 3, ``x-peerlog-outbox``) costs a push: prints figures, asserts
nothing about speed.

    .venv/bin/python bench/bench_outbox.py                     # SQLite
    .venv/bin/python bench/bench_outbox.py --postgres postgres://postgres@127.0.0.1:5432/postgres

Against one uvicorn server process (as ``bench_sync.py``), one device pushes batches of 500 new
contacts, one at a time, alternating a batch *with* the header and a batch *without* it (in pairs
whose order alternates), so both see the same machine load and the same table sizes; the medians
of each are compared. The header
adds three columns to the ``UPDATE device`` the push already runs, and its parse.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_sync import (
    SECRET,
    LeanClient,
    Server,
    backend_parser,
    client_for,
    contact_push,
    seed_leader,
)
from scratch import scratch_postgres

from server.settings import Settings
from sync import db

REPORT = {"x-peerlog-outbox": "waiting=500; oldest=2026-11-20T01:41:12.000Z"}


async def bench_backend(url: str, label: str, pairs: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="peerlog-bench-"))
    settings = Settings(data_dir=data_dir, database_url=url, secret_key=SECRET, log_level="WARNING")
    await db.migrate(url)
    await db.init(url)
    server = Server(url, data_dir)
    try:
        leader, people = await seed_leader(50, "Bench")
        await server.wait()
        c = await client_for(server, leader, settings)
        device = uuid.uuid4()
        bodies = [contact_push(device, people, b) for b in range(2 * pairs + 2)]
        base = {
            "content-type": "application/json",
            "accept-encoding": "gzip",
            "x-csrftoken": c.headers["x-csrftoken"],
            "cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items()),
        }
        plain, reporting = (
            LeanClient(server.base, base),
            LeanClient(server.base, {**base, **REPORT}),
        )
        times: dict[str, list[float]] = {"without": [], "with": []}
        try:
            for n, body in enumerate(bodies):
                # Which of a pair goes first alternates too: no order effect favours either.
                with_header = (n % 2 == 1) != ((n // 2) % 2 == 1)
                client = reporting if with_header else plain
                start = time.perf_counter()
                status, answer = await client.post("/api/sync/push", body)
                elapsed = time.perf_counter() - start
                assert status == 200, answer[:300]
                if n >= 2:  # the first pair warms up
                    times["with" if with_header else "without"].append(elapsed)
        finally:
            await plain.close()
            await reporting.close()
            await c.aclose()
        without, with_ = (statistics.median(times[k]) * 1000 for k in ("without", "with"))
        print(
            f"[{label}] push of 500 contacts, {pairs} alternating pairs: median "
            f"{without:.1f} ms without the header, {with_:.1f} ms with it "
            f"(with ÷ without {with_ / without:.3f}); "
            f"quartiles without {_quartiles(times['without'])}, with {_quartiles(times['with'])}"
        )
    finally:
        server.stop()
        await db.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def _quartiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4)
    return f"{q[0] * 1000:.1f}–{q[2] * 1000:.1f} ms"


async def main() -> None:
    parser = backend_parser(__doc__, sqlite=False)
    parser.add_argument("--pairs", type=int, default=40, help="batches with and without (40)")
    args = parser.parse_args()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="peerlog-bench-db-"))
    try:
        await bench_backend(f"sqlite://{folder / 'bench.sqlite3'}", "sqlite", args.pairs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.postgres and not args.no_postgres:
        async with scratch_postgres(args.postgres, "peerlog_bench") as url:
            await bench_backend(url, "postgres", args.pairs)


if __name__ == "__main__":
    asyncio.run(main())
