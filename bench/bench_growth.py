"""Push cost as the data grows: prints the curve, asserts nothing about speed.

    .venv/bin/python bench/bench_growth.py                      # SQLite, then PostgreSQL if
    .venv/bin/python bench/bench_growth.py --postgres postgres://postgres@127.0.0.1:5432/postgres
    (PEERLOG_TEST_POSTGRES_URL is used when --postgres is not given; --no-postgres skips it)

For each backend, one uvicorn server process (a subprocess) over a fresh database. A peer leader's
phone pushes batches of 500 mutations over HTTP from the lean client: 475 new contacts and 25
stale edits (5 %): edits of contacts that the leader's second phone changed since, so each is
merged through the record's version history and the participant's last contact is worked out
again. Between points, the database grows by bulk SQL (contacts spread over a 2,050-participant
program, 5 % of them edited by another device, and their mutation-log rows) up to 1,000,000
logged mutations. At each point: the median time of a batch, and of the same batch sent again
(a replay: the phone never heard the answer), and their ratio to the first point. SQLite runs
with ``synchronous=FULL`` (``sync/db.py``), so every batch waits for its commit to reach disk.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_sync import (  # noqa: E402 (beside this script)
    BATCH,
    SECRET,
    LeanClient,
    Server,
    backend_parser,
    client_for,
    contact_fields,
    encode,
    seed_people,
)
from scratch import scratch_postgres  # noqa: E402
from tortoise import connections  # noqa: E402
from tortoise.transactions import in_transaction  # noqa: E402

from server.settings import Settings  # noqa: E402
from sync import db, sequence  # noqa: E402
from sync.models import Committee, Community, Device, Role, User  # noqa: E402

STALE = 25  # of 500: 5 %
CASELOAD = 50
OTHER_LEADERS = 40  # each with CASELOAD participants: a 2,050-participant program
EDITED_EVERY = 20  # 1 seeded contact in 20 was edited by another device (5 %)

CONTACT_SEED_COLUMNS = (
    "id, participant_id, peer_leader_id, community_id, occurred_at, mode, duration_min, "
    "functions, topics, referral, note, voided, version, seq, created_at, updated_at"
)
LOG_SEED_COLUMNS = (
    "device_id, mutation_id, user_id, entity, record_id, base_version, version, status, "
    "changes, received_at"
)

# SQLite has no UUID function: a version-4 UUID from randomblob, in the text form the app writes.
SQLITE_UUID = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
    "substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || "
    "substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
)


async def grow(people: list[tuple[str, str]], community_id: str, mutations: int) -> None:
    """Add ``mutations`` rows to the mutation log with bulk SQL: contacts (one creation each, on
    ``people``' participants in turn, dated before the benchmark's own) and, for one in
    ``EDITED_EVERY``, an edit of its note by another device (version 2)."""
    contacts = round(mutations * EDITED_EVERY / (EDITED_EVERY + 1))
    now = datetime.now(UTC)
    postgres = db.dialect() == "postgres"
    # Devices of one of the other leaders: the log's (device, mutation id) is unique.
    owner = people[-1][1]
    creator, editor = uuid.uuid4(), uuid.uuid4()
    for device in (creator, editor):
        await Device.create(id=device, user_id=owner, label="seed")
    async with in_transaction() as conn:
        first = await sequence.allocate(conn, contacts)
        await conn.execute_script(
            "CREATE TEMP TABLE seed_people (n INTEGER PRIMARY KEY, id "
            f"{'uuid' if postgres else 'TEXT'}, leader {'uuid' if postgres else 'TEXT'})"
        )
        marks = "($1, $2, $3)" if postgres else "(?, ?, ?)"
        await conn.execute_many(
            f"INSERT INTO seed_people (n, id, leader) VALUES {marks}",
            [[n, pid, leader] for n, (pid, leader) in enumerate(people)],
        )
        count = len(people)
        if postgres:
            series = f"generate_series(0, {contacts - 1}) AS g(x)"
            new_id = "gen_random_uuid()"
            occurred = "timestamptz '2024-01-01 00:00+00' + (x % 900000) * interval '1 minute'"
            stamp, voided = "now()", "false"
            prefix = ""
        else:
            prefix = f"WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < {contacts - 1}) "
            series = "g"
            new_id = SQLITE_UUID
            occurred = "strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || (x % 900000) || ' minutes') || '+00:00'"
            stamp, voided = f"'{now.isoformat(' ')}'", "0"
        edited = f"x % {EDITED_EVERY} = 0"
        await conn.execute_script(
            f"INSERT INTO contact ({CONTACT_SEED_COLUMNS}) {prefix}"
            f"SELECT {new_id}, p.id, p.leader, '{community_id}', {occurred}, 'home_visit', 20, "
            f"""'["being_there"]', '["diet"]', 'none', CASE WHEN {edited} THEN 'seeded, edited' """
            f"ELSE 'seeded' END, {voided}, CASE WHEN {edited} THEN 2 ELSE 1 END, {first} + x, "
            f"{stamp}, {stamp} FROM {series} JOIN seed_people p ON p.n = x % {count}"
        )
        span = f"seq >= {first} AND seq < {first + contacts}"
        await conn.execute_script(
            f"INSERT INTO mutation ({LOG_SEED_COLUMNS}) SELECT '{creator}', seq - {first} + 1, "
            f"peer_leader_id, 'contact', id, 0, 1, 'applied', NULL, {stamp} FROM contact "
            f"WHERE {span};"
            f"INSERT INTO mutation ({LOG_SEED_COLUMNS}) SELECT '{editor}', seq - {first} + 1, "
            f"peer_leader_id, 'contact', id, 1, 2, 'applied', "
            f"""'{{"note": ["seeded", "seeded, edited"]}}', {stamp} FROM contact """
            f"WHERE {span} AND version = 2;"
            "DROP TABLE seed_people"
        )
    # What a running system has: PostgreSQL's autovacuum analyses a table that grew this much;
    # SQLite's WAL is checkpointed as it goes.
    default = connections.get("default")
    if postgres:
        await default.execute_script("ANALYZE contact; ANALYZE mutation")
    else:
        await default.execute_script("PRAGMA wal_checkpoint(TRUNCATE)")


def written(pid: int | None) -> int:
    """Bytes process ``pid`` has written so far (Linux ``/proc/PID/io``, ``wchar``; 0 elsewhere).
    The server writes nothing but its database (its log level is WARNING): per batch this is
    the WAL pages its commit wrote (and, every few batches, a checkpoint). Unlike a time, it
    does not move with whatever else the machine runs."""
    try:
        with open(f"/proc/{pid}/io") as io:
            for line in io:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Phones:
    """The peer leader's two phones: A pushes the timed batches; B edits, untimed, the contacts
    that A's next batch edits too (so A's edits are stale)."""

    def __init__(self, a: LeanClient, b: LeanClient, people: list[str]) -> None:
        self.a, self.b = a, b
        self.device_a, self.device_b = str(uuid.uuid4()), str(uuid.uuid4())
        self.next_a = self.next_b = 1
        self.people = people
        self.made = 0
        self.previous: list[str] = []  # contacts A made in its last batch (version 1)
        self.pid: int | None = None  # the server's process (``written``)

    async def _push(self, lean: LeanClient, body: dict[str, Any]) -> float:
        start = time.perf_counter()
        status, answer = await lean.post("/api/sync/push", encode(body))
        elapsed = time.perf_counter() - start
        assert status == 200, answer[:300]
        return elapsed

    async def batch(self) -> tuple[float, float]:
        """One batch of A (after B's edits): its time, and the time of sending it again."""
        return (await self.batch_written())[:2]

    async def batch_written(self) -> tuple[float, float, int]:
        """``batch``, and the bytes the server wrote for the batch (``written``)."""
        edited = self.previous[:STALE]
        if edited:
            mutations = [
                {
                    "mutation_id": self.next_b + i,
                    "entity": "contact",
                    "id": cid,
                    "base_version": 1,
                    "fields": {"note": "edited on the other phone"},
                }
                for i, cid in enumerate(edited)
            ]
            self.next_b += len(mutations)
            await self._push(self.b, {"device_id": self.device_b, "mutations": mutations})
        mutations = [
            {
                "mutation_id": self.next_a + i,
                "entity": "contact",
                "id": cid,
                "base_version": 1,  # what A last saw: B's edit is news to it
                "fields": {"duration_min": 45},
            }
            for i, cid in enumerate(edited)
        ]
        new = []
        for i in range(BATCH - len(mutations)):
            cid = str(uuid.uuid4())
            new.append(cid)
            mutations.append(
                {
                    "mutation_id": self.next_a + len(edited) + i,
                    "entity": "contact",
                    "id": cid,
                    "base_version": 0,
                    "fields": contact_fields(self.people[i % len(self.people)], self.made + i),
                }
            )
        self.made += len(new)
        self.next_a += len(mutations)
        self.previous = new
        body = {"device_id": self.device_a, "schema_version": 1, "mutations": mutations}
        before = written(self.pid)
        elapsed = await self._push(self.a, body)
        wrote = written(self.pid) - before
        return elapsed, await self._push(self.a, body), wrote


@dataclass
class Twin:
    """One of the two databases of a run, with its own server and the peer leader's phones."""

    url: str
    server: Server
    phones: Phones
    people: list[tuple[str, str]]  # (participant, peer leader), every leader's
    community_id: str
    client: httpx.AsyncClient

    async def logged(self) -> int:
        await db.init(self.url)
        try:
            rows = await connections.get("default").execute_query_dict(
                "SELECT count(*) AS n FROM mutation"
            )
            return int(rows[0]["n"])
        finally:
            await db.close()


async def twin(url: str, data_dir: Path) -> Twin:
    """A migrated database with the program, its server, and the peer leader's two phones."""
    settings = Settings(data_dir=data_dir, database_url=url, secret_key=SECRET, log_level="WARNING")
    await db.migrate(url)
    await db.init(url)
    try:
        community = await Community.create(name="Growth", code=f"GC{uuid.uuid4().hex[:6]}")
        committee = await Committee.create(
            name="Growth RC", code=f"GR{uuid.uuid4().hex[:6]}", community=community
        )
        people: list[tuple[str, str]] = []
        leader = None
        for i in range(OTHER_LEADERS + 1):
            user = await User.create(
                username=f"growth{i}-{uuid.uuid4().hex[:6]}",
                display_name=f"Growth {i}",
                role=Role.PEER_LEADER,
                community=community,
            )
            leader = leader or user
            ids = await seed_people(user, committee, CASELOAD)
            people.extend((pid, str(user.id)) for pid in ids)
        assert leader is not None
        server = Server(url, data_dir)
        await server.wait()
        c = await client_for(server, leader, settings)
    finally:
        await db.close()
    caseload = [pid for pid, who in people if who == str(leader.id)]
    phones = Phones(
        LeanClient.signed_in_as(server.base, c), LeanClient.signed_in_as(server.base, c), caseload
    )
    # On SQLite the server writes the database itself; PostgreSQL's writes are another
    # process's, so nothing is counted there.
    phones.pid = server.proc.pid if url.startswith("sqlite") else None
    return Twin(url, server, phones, people, str(community.id), c)


async def bench_backend(
    urls: tuple[str, str], label: str, target: int, steps: int, batches: int
) -> None:
    """Two databases, each with its own server: one stays at the start, the other grows. Their
    batches alternate (ABBA), so whatever else the machine does weighs on both alike and the
    ratio holds even where the times themselves move."""
    folders = [Path(tempfile.mkdtemp(prefix="peerlog-growth-")) for _ in urls]
    twins: list[Twin] = []
    try:
        for url, folder in zip(urls, folders, strict=True):
            twins.append(await twin(url, folder))
        start, grown = twins
        print(
            f"[{label}] batches of {BATCH} ({STALE} stale edits), median of {batches} per point, "
            "alternating with the same batches on a database left at the start"
        )
        print(
            f"[{label}] {'logged mutations':>17} {'batch ms':>9} {'at start':>9} {'ratio':>6} "
            f"{'replay ms':>10} {'at start':>9} {'ratio':>6} {'÷ first':>8} {'written':>8} "
            f"{'at start':>8}"
        )
        print(
            f"[{label}] (÷ first: the grown database's batch against its own first point; "
            "written: 4 KiB pages the server wrote for a batch, median; SQLite only)"
        )
        final: tuple[float, float] = (0.0, 0.0)
        first: tuple[float, float] | None = None
        for step in range(steps + 1):
            note = ""
            if step:
                began = time.perf_counter()
                await db.init(grown.url)
                try:
                    await grow(grown.people, grown.community_id, target // steps)
                finally:
                    await db.close()
                note = f"   (grown by bulk SQL in {time.perf_counter() - began:.0f} s)"
            for t in twins:  # warm-up: the first batch after a bulk load, B's first edits
                for _ in range(2):
                    await t.phones.batch()
            times: dict[int, list[tuple[float, float, int]]] = {0: [], 1: []}
            for i in range(batches):
                for k in (0, 1) if i % 2 == 0 else (1, 0):
                    times[k].append(await twins[k].phones.batch_written())
            push = [statistics.median(t for t, _, _ in times[k]) * 1000 for k in (0, 1)]
            replay = [statistics.median(r for _, r, _ in times[k]) * 1000 for k in (0, 1)]
            pages = [statistics.median(w for _, _, w in times[k]) / 4096 for k in (0, 1)]
            logged = await grown.logged()
            final = (push[1] / push[0], replay[1] / replay[0])
            first = first or (push[1], pages[1])
            print(
                f"[{label}] {logged:>17,} {push[1]:>9.1f} {push[0]:>9.1f} {final[0]:>6.2f} "
                f"{replay[1]:>10.1f} {replay[0]:>9.1f} {final[1]:>6.2f} "
                f"{push[1] / first[0]:>8.2f} {pages[1]:>8,.0f} {pages[0]:>8,.0f}{note}"
            )
        assert first is not None
        print(
            f"[{label}] at {logged:,} logged mutations a push takes {final[0]:.2f} × the time "
            f"at the start ({await start.logged():,} logged; target ≤ 1.3 ×), "
            f"{push[1] / first[0]:.2f} × its own first point's, and writes "
            f"{pages[1] / (first[1] or 1):.2f} × the pages; a replay {final[1]:.2f} ×"
        )
    finally:
        for t in twins:
            await t.client.aclose()
            for lean in (t.phones.a, t.phones.b):
                await lean.close()
            t.server.stop()
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


async def main() -> None:
    parser = backend_parser(__doc__)
    parser.add_argument("--target", type=int, default=1_000_000, help="logged mutations at the end")
    parser.add_argument("--steps", type=int, default=4, help="points after the start")
    parser.add_argument("--batches", type=int, default=10, help="timed batches per point")
    args = parser.parse_args()
    if not args.no_sqlite:
        folder = Path(tempfile.mkdtemp(prefix="peerlog-growth-db-"))
        try:
            urls = (f"sqlite://{folder / 'start.sqlite3'}", f"sqlite://{folder / 'grown.sqlite3'}")
            await bench_backend(urls, "sqlite", args.target, args.steps, args.batches)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.postgres and not args.no_postgres:
        async with (
            scratch_postgres(args.postgres, "peerlog_start") as first,
            scratch_postgres(args.postgres, "peerlog_grown") as second,
        ):
            await bench_backend((first, second), "postgres", args.target, args.steps, args.batches)


if __name__ == "__main__":
    asyncio.run(main())
