"""Import benchmark: prints figures, asserts nothing.

    .venv/bin/python bench/bench_import.py                       # N = 500, 2,000, 8,000
    .venv/bin/python bench/bench_import.py --batch 8000          # each N in one transaction
    .venv/bin/python bench/bench_import.py --postgres postgres://postgres@127.0.0.1:5432/postgres

Enrols N participants with clinical values (baseline and latest HbA1c, blood pressure, weight,
each dated) through ``engine.write_many`` as an administrator: what the CSV import's confirm
step and an old phone's staff write do. Each participant makes five ``clinic`` measurement
rows and has its derived columns computed again, so the figure to watch is the cost per
participant: it must stay flat as N grows. ``--batch`` sets ``engine.WRITE_BATCH`` (500 by
default): with ``--batch 8000`` each N is one engine batch, where work that grows with the
batch (the derivation used to walk the whole batch once per column written) shows at once.
Each N runs on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_postgres  # noqa: E402 (beside this script)

from sync import db, engine  # noqa: E402
from sync.models import Measurement, Participant, Role  # noqa: E402
from tests import factories  # noqa: E402


def person(i: int, committee_id: str) -> dict[str, Any]:
    return {
        "code": f"IMP-{i:05d}",
        "full_name": f"导入 {i}",
        "committee_id": committee_id,
        "enrolled_on": "2026-03-01",
        "consent_on": "2026-03-01",
        "status": "active",
        "hba1c_baseline": round(7 + (i % 40) / 10, 1),
        "hba1c_baseline_on": "2026-02-20",
        "hba1c": round(6.8 + (i % 30) / 10, 1),
        "hba1c_on": "2026-08-20",
        "bp_systolic": 120 + i % 40,
        "bp_diastolic": 70 + i % 20,
        "bp_on": "2026-08-20",
        "weight_kg": round(55 + (i % 300) / 10, 1),
        "weight_on": "2026-08-20",
    }


async def one(database_url: str, n: int) -> tuple[float, int, int, int]:
    await db.migrate(database_url)
    await db.init(database_url)
    try:
        community = await factories.community()
        committee = await factories.committee(community)
        admin = await factories.user(Role.ADMIN)
        items = [(uuid.uuid4(), person(i, str(committee.id))) for i in range(n)]
        started = time.perf_counter()
        results = await engine.write_many(admin, "participant", items)
        seconds = time.perf_counter() - started
        applied = sum(r.status == "applied" for r in results)
        rows = await Measurement.all().count()
        derived = await Participant.filter(hba1c__not_isnull=True).count()
        return seconds, applied, rows, derived
    finally:
        await db.close()


async def run(make_url: Any, sizes: list[int], label: str) -> None:
    print(f"\n## {label}: engine.write_many, {engine.WRITE_BATCH} records per transaction")
    print(
        f"{'N':>6} {'seconds':>8} {'ms / participant':>17} {'applied':>8} {'rows':>7} {'derived':>8}"
    )
    for n in sizes:
        async with make_url(n) as url:
            seconds, applied, rows, derived = await one(url, n)
        print(
            f"{n:>6} {seconds:>8.2f} {seconds * 1000 / n:>17.2f} {applied:>8} {rows:>7} {derived:>8}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="500,2000,8000", help="comma-separated N")
    parser.add_argument("--batch", type=int, default=engine.WRITE_BATCH)
    parser.add_argument("--postgres", default=os.environ.get("PEERLOG_TEST_POSTGRES_URL", ""))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engine.WRITE_BATCH = args.batch

    import contextlib

    @contextlib.asynccontextmanager
    async def sqlite(n: int) -> Any:
        tmp = Path(tempfile.mkdtemp(prefix="peerlog-bench-import-"))
        yield f"sqlite://{tmp / f'import-{n}.sqlite3'}"

    await run(sqlite, sizes, "SQLite")
    if args.postgres and not args.no_postgres:

        def postgres(n: int) -> Any:
            return scratch_postgres(args.postgres, "peerlog_bench_import")

        await run(postgres, sizes, "PostgreSQL")


if __name__ == "__main__":
    asyncio.run(main())
