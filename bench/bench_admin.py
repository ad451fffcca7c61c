"""Staff pages benchmark: prints figures, asserts nothing.

    .venv/bin/python bench/bench_admin.py                      # SQLite
    .venv/bin/python bench/bench_admin.py --postgres postgres://postgres@127.0.0.1:5432/postgres
    (PEERLOG_TEST_POSTGRES_URL is used when --postgres is not given; --no-postgres skips it)

For each backend: fill a fresh database with ``peerlog demo`` (seed 2026: ~1,300 participants,
~25k contacts), then call every staff page in-process (httpx over ASGI, no network) as an admin
and as a coordinator, and print the median and worst of ``--runs`` calls — that is the server's
time, template rendering included. Then import a 10,000-row participant CSV (check + confirm,
through the sync engine), stream the contacts export and download the research export (zip).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import re
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_postgres  # noqa: E402 (beside this script)

from server import demo  # noqa: E402
from server.app import create_app  # noqa: E402
from server.auth.session import SESSION_COOKIE, create_session  # noqa: E402
from server.settings import Settings  # noqa: E402
from sync import db  # noqa: E402
from sync.models import Committee, Contact, Participant, Role, User  # noqa: E402


async def client_for(app: Any, user: User, settings: Settings) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000"
    )
    client.cookies.set(SESSION_COOKIE, await create_session(user, settings))
    await client.get("/healthz")
    client.headers["x-csrftoken"] = client.cookies.get("csrftoken") or ""
    return client


async def timed(client: httpx.AsyncClient, path: str, runs: int) -> tuple[float, float, int]:
    times = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        size = len(response.content)
    return statistics.median(times), max(times), size


def import_csv(rows: int, committee_codes: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "code",
            "full_name",
            "committee_code",
            "consent_on",
            "sex",
            "birth_year",
            "phone",
            "address",
            "hba1c_baseline",
        ]
    )
    for i in range(rows):
        bad = i % 50 == 49  # 2 % bad rows: an unknown committee
        writer.writerow(
            [
                f"IMP-{i:05d}",
                f"导入 {i}",
                "NOPE" if bad else committee_codes[i % len(committee_codes)],
                "2026-06-01",
                "female" if i % 2 else "male",
                1940 + i % 30,
                f"18{i:09d}",
                f"{i % 20 + 1}号楼 {i % 6 + 1}0{i % 4 + 1}",
                round(7 + (i % 40) / 10, 1),
            ]
        )
    return buffer.getvalue().encode("utf-8")


async def run(database_url: str, runs: int, label: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="peerlog-bench-admin-"))
    settings = Settings(data_dir=tmp, database_url=database_url, secret_key="bench")
    await db.migrate(database_url)
    await db.init(database_url)
    try:
        started = time.perf_counter()
        await demo.run(settings, echo=lambda _: None)
        print(
            f"\n## {label}: demo data in {time.perf_counter() - started:.1f} s — "
            f"{await Participant.all().count()} participants, {await Contact.all().count()} contacts"
        )
        app = create_app(settings, manage_database=False)
        admin = await User.filter(role=Role.ADMIN).first()
        coordinator = await User.filter(role=Role.COORDINATOR).first()
        volunteer = await User.filter(role=Role.VOLUNTEER).first()
        assert admin and coordinator and volunteer
        committee = await Committee.filter(community_id=coordinator.community_id).first()  # type: ignore[attr-defined]
        assert committee
        clients = {
            "admin": await client_for(app, admin, settings),
            "coordinator": await client_for(app, coordinator, settings),
            "volunteer": await client_for(app, volunteer, settings),
        }
        pages = [
            ("admin", "/admin"),
            ("admin", "/admin/dashboard"),
            ("coordinator", "/admin/dashboard"),
            ("coordinator", f"/admin/dashboard?committee={committee.id}"),
            ("admin", "/admin/roster"),
            ("coordinator", f"/admin/roster?committee={committee.id}"),
            ("volunteer", "/admin/roster"),
            ("admin", "/admin/conflicts?status=all"),
            ("admin", "/admin/participants"),
            ("admin", "/admin/participants?q=13"),
            ("admin", "/admin/places"),
            ("admin", "/admin/audit"),
            ("admin", "/admin/exports"),
        ]
        print(f"{'page':<52} {'as':<12} {'median ms':>10} {'max ms':>8} {'KiB':>6}")
        for who, path in pages:
            median, worst, size = await timed(clients[who], path, runs)
            print(f"{path:<52} {who:<12} {median:>10.1f} {worst:>8.1f} {size / 1024:>6.0f}")

        started = time.perf_counter()
        response = await clients["admin"].get("/admin/exports/contacts.csv")
        lines = response.content.count(b"\r\n") - 1
        print(
            f"contacts export (all, streamed): {lines} rows in {time.perf_counter() - started:.2f} s, "
            f"{len(response.content) / 1024 / 1024:.1f} MiB"
        )

        started = time.perf_counter()
        response = await clients["admin"].get("/admin/exports/research.zip")
        with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
            rows = {
                n.removesuffix(".csv"): zf.read(n).count(b"\r\n") - 1
                for n in zf.namelist()
                if n.endswith(".csv")
            }
        print(
            f"research export (all, zip): {rows['contacts']} contacts, {rows['participants']} "
            f"participants, {sum(rows.values())} rows in {len(rows)} tables in "
            f"{time.perf_counter() - started:.2f} s, {len(response.content) / 1024 / 1024:.1f} MiB"
        )

        codes = [c for c in await Committee.all().values_list("code", flat=True)]
        body = import_csv(10_000, [str(c) for c in codes])
        admin_client = clients["admin"]
        started = time.perf_counter()
        preview = await admin_client.post(
            "/admin/participants/import", files={"file": ("people.csv", body, "text/csv")}
        )
        checked = time.perf_counter() - started
        token = re.search(r"/admin/participants/import/([\w-]+)/confirm", preview.text)
        assert token, preview.text[:500]
        started = time.perf_counter()
        done = await admin_client.post(f"/admin/participants/import/{token.group(1)}/confirm")
        confirmed = time.perf_counter() - started
        summary = re.search(r'id="import-summary">([^<]*)<', done.text)
        imported = await Participant.filter(code__startswith="IMP-").count()
        print(
            f"import 10,000 rows: check {checked:.2f} s, confirm (engine writes) {confirmed:.2f} s, "
            f"total {checked + confirmed:.2f} s; {imported} imported; page says: {summary.group(1) if summary else '?'}"
        )
        for c in clients.values():
            await c.aclose()
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", default=os.environ.get("PEERLOG_TEST_POSTGRES_URL", ""))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="peerlog-bench-admin-db-"))
    await run(f"sqlite://{tmp / 'bench.sqlite3'}", args.runs, "SQLite")
    if args.postgres and not args.no_postgres:
        async with scratch_postgres(args.postgres, "peerlog_bench_admin") as url:
            await run(url, args.runs, "PostgreSQL")


if __name__ == "__main__":
    asyncio.run(main())
