"""Sync engine benchmark: prints figures, asserts nothing about speed.

    .venv/bin/python bench/bench_sync.py                       # SQLite
    .venv/bin/python bench/bench_sync.py --postgres postgres://postgres@127.0.0.1:5432/postgres
    (--outbox-report: every request carries the x-peerlog-outbox header, as the app's do;
    --no-readings: contacts without a reported glucose, so no self-report measurement rows)
    (PEERLOG_TEST_POSTGRES_URL is used when --postgres is not given; --no-postgres skips it)

For each backend, against one uvicorn server process on 127.0.0.1 (a subprocess, so the client
does not share its CPU):

1. push ingest: batches of 500 new contacts over HTTP, one batch at a time (from a lean
   HTTP/1.1 client, then from two such clients at once, then again from httpx), vs a raw batched
   insert of the same kind of rows into the same database in the same run (``executemany`` on
   SQLite; on PostgreSQL ``COPY``, as the push itself uses, and ``executemany`` printed too);
2. pull of a 10,000-record scope (a peer leader's 2,000 participants and 8,000 contacts),
   pages of 1,000: total time over HTTP, the engine's own time in-process, gzipped bytes/record;
3. 200 devices at once, each pushing 20 contacts and pulling, 5 rounds: errors, lost rows,
   'database is locked', throughput and p95 latency.

What SQLite's ``synchronous=FULL`` (a 200 only once the commit is on disk, SPEC 3) costs:

    .venv/bin/python bench/bench_sync.py --synchronous-cost

runs only the push ingest on SQLite, against a server with FULL and one with NORMAL in turn
(each on a fresh database, alternating, ``--rounds`` times), and prints both rates and their
ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_postgres  # noqa: E402 (beside this script)

from server.auth.session import SESSION_COOKIE, create_session  # noqa: E402
from server.settings import Settings  # noqa: E402
from sync import db, engine, sequence, store  # noqa: E402
from sync.models import Committee, Community, Contact, Device, Role, User  # noqa: E402

SECRET = "bench-secret"
BATCH = 500
# ``--outbox-report``: every request carries the phone's queue report, as the app's do (SPEC 3).
REPORT: dict[str, str] = {}
# What each benchmark contact reports. Since issue 14 a reported value is also a ``self_report``
# measurement row (a second row per contact); ``--no-readings`` leaves it out, so that a push
# does the work it did before (contacts then carried a glucose and wrote nothing more for it).
READINGS: dict[str, Any] = {"glucose_mmol": 7.2}
encode = msgspec.json.Encoder().encode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str, data_dir: Path, synchronous: str = db.SQLITE_SYNCHRONOUS) -> None:
        self.port = free_port()
        self.base = f"http://localhost:{self.port}"
        self.log = data_dir / "server.log"
        env = {
            **os.environ,
            "PEERLOG_DATABASE_URL": url,
            "PEERLOG_DATA_DIR": str(data_dir),
            "PEERLOG_SECRET_KEY": SECRET,
            "PEERLOG_ORIGIN": self.base,
            "PEERLOG_LOG_LEVEL": "WARNING",
        }
        # The server's SQLite pragma is a module constant, not a setting (nobody should turn
        # durability down); only this benchmark changes it, in the server process it starts.
        run = (
            f"import sync.db, uvicorn; sync.db.SQLITE_SYNCHRONOUS = {synchronous!r}; "
            f"uvicorn.run('server.asgi:app', host='127.0.0.1', port={self.port}, "
            "log_level='warning', access_log=False)"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", run],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    async def wait(self) -> None:
        async with httpx.AsyncClient() as c:
            for _ in range(300):
                try:
                    if (await c.get(self.base + "/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("server did not start: " + self.log.read_text()[-2000:])

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self.log.read_text()


async def client_for(
    server: Server, user: User, settings: Settings, limit: int = 10
) -> httpx.AsyncClient:
    token = await create_session(user, settings)
    c = httpx.AsyncClient(
        base_url=server.base,
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        timeout=120,
    )
    c.cookies.set(SESSION_COOKIE, token)
    await c.get("/healthz")
    c.headers["x-csrftoken"] = c.cookies.get("csrftoken") or ""
    c.headers["content-type"] = "application/json"
    c.headers.update(REPORT)
    return c


class LeanClient:
    """HTTP/1.1 keep-alive POSTs over one asyncio connection, for the push-ingest figure.

    The pushes go one at a time, so whatever the client spends per request adds to the time
    measured. httpx spends ~8 ms of Python on a 150 KB request and its 47 KB gzipped answer,
    about a quarter of the server's time for the batch; a phone's browser spends next to
    nothing. This client writes the request in one call and reads the answer as bytes (it still
    checks the status and reads every byte), so the figure is the server's. The httpx figure is
    printed too."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.netloc = parts.netloc
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @classmethod
    def signed_in_as(cls, base: str, c: httpx.AsyncClient) -> LeanClient:
        """A lean client with the session and CSRF token of ``c`` (made by ``client_for``)."""
        return cls(
            base,
            {
                "content-type": "application/json",
                "accept-encoding": "gzip",
                "x-csrftoken": c.headers["x-csrftoken"],
                "cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items()),
            },
        )

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await self.request("POST", path, body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Status and body as sent (still gzipped when the server gzipped it)."""
        request = (
            f"{method} {path} HTTP/1.1\r\nhost: {self.netloc}\r\ncontent-length: {len(body)}\r\n"
            f"{self.head}\r\n".encode()
            + body
        )
        line = b""
        for _ in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            self.writer.write(request)
            line = await self.reader.readline()
            if line:
                break
            # The server closed the idle connection (uvicorn's keep-alive is 5 s): again, anew.
            await self.close()
        status = int(line.split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value:
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        data = b""
        while size := int((await self.reader.readline()).strip(), 16):
            data += await self.reader.readexactly(size)
            await self.reader.readline()
        await self.reader.readline()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None


async def push_rate(client: httpx.AsyncClient, bodies: list[bytes]) -> float:
    """Mutations a second, pushing ``bodies`` one after another from ``client``."""
    start = time.perf_counter()
    for body in bodies:
        r = await client.post("/api/sync/push", content=body)
        assert r.status_code == 200, r.text[:300]
    return len(bodies) * BATCH / (time.perf_counter() - start)


def as_new_device(bodies: list[bytes]) -> list[bytes]:
    """The same push bodies from another device, with new record ids and that device's
    mutation ids from 1 (made before timing)."""
    device = str(uuid.uuid4())
    out = []
    mutation_id = 0
    for body in bodies:
        decoded = msgspec.json.decode(body)
        decoded["device_id"] = device
        for m in decoded["mutations"]:
            mutation_id += 1
            m["id"] = str(uuid.uuid4())
            m["mutation_id"] = mutation_id
        out.append(encode(decoded))
    return out


def contact_fields(pid: str, n: int) -> dict[str, Any]:
    at = datetime(2026, 11, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=n % 20000)
    return {
        "participant_id": pid,
        "occurred_at": at.isoformat(),
        "mode": "home_visit",
        "duration_min": 20,
        "functions": ["being_there", "daily_management"],
        "topics": ["diet"],
        "referral": "none",
        **READINGS,
        "follow_up_on": "2026-12-20",
        "note": "talked about meals",
    }


def contact_push(device: uuid.UUID, people: list[str], b: int) -> bytes:
    """Push body ``b`` of one device: BATCH new contacts, mutation ids going on from batch
    ``b - 1``'s, spread over ``people``."""
    mutations = [
        {
            "mutation_id": b * BATCH + i + 1,
            "entity": "contact",
            "id": str(uuid.uuid4()),
            "base_version": 0,
            "fields": contact_fields(people[i % len(people)], b * BATCH + i),
        }
        for i in range(BATCH)
    ]
    return encode({"device_id": str(device), "schema_version": 1, "mutations": mutations})


async def seed_leader(count: int, name: str = "Bench") -> tuple[User, list[str]]:
    """A community, a committee and a peer leader with ``count`` participants of their own."""
    tag = name[0].upper()
    community = await Community.create(name=name, code=f"{tag}C{uuid.uuid4().hex[:6]}")
    committee = await Committee.create(
        name=f"{name} RC", code=f"{tag}R{uuid.uuid4().hex[:6]}", community=community
    )
    leader = await User.create(
        username=f"{name.lower()}{uuid.uuid4().hex[:6]}",
        display_name=name,
        role=Role.PEER_LEADER,
        community=community,
    )
    return leader, await seed_people(leader, committee, count)


async def seed_people(leader: User, committee: Committee, count: int) -> list[str]:
    """Participants straight into the table (with sequence numbers), for speed."""
    dialect = store.Dialect(db.dialect())
    now = datetime.now(UTC)
    from tortoise.transactions import in_transaction

    ids = [str(uuid.uuid4()) for _ in range(count)]
    async with in_transaction() as conn:
        first = await sequence.allocate(conn, count)
        rows = []
        for i, pid in enumerate(ids):
            row = store.blank("participant")
            row.update(
                id=pid,
                code=f"B{uuid.uuid4().hex[:10]}",
                full_name=f"Bench {i}",
                phone="13900000000",
                community_id=str(committee.community_id),
                committee_id=str(committee.id),  # type: ignore[attr-defined]
                peer_leader_id=str(leader.id),
                enrolled_on="2026-05-01",
                consent_on="2026-05-01",
                version=1,
                seq=first + i,
                updated_at=now.isoformat(),
            )
            rows.append(row)
        await store.insert_many(conn, dialect, "participant", rows, now)
    return ids


async def raw_contacts(
    leader: User, community_id: str, people: list[str], total: int, *, copy: bool = True
) -> float:
    """The baseline: the same kind of contact rows, one transaction per 500 (like one push),
    with sequence numbers, inserted as the push inserts them (``COPY`` on PostgreSQL,
    ``executemany`` on SQLite; ``copy=False``: ``executemany`` on both). Returns rows/second."""
    from tortoise.transactions import in_transaction

    dialect = store.Dialect(db.dialect())
    now = datetime.now(UTC)
    start = time.perf_counter()
    for b in range(total // BATCH):
        async with in_transaction() as conn:
            first = await sequence.allocate(conn, BATCH)
            rows = []
            for i in range(BATCH):
                n = b * BATCH + i
                row = store.blank("contact")
                fields = contact_fields(people[n % len(people)], n)
                fields["occurred_at"] = (
                    datetime.fromisoformat(fields["occurred_at"]).astimezone(UTC).isoformat()
                )
                row.update(fields)
                row.update(
                    id=str(uuid.uuid4()),
                    peer_leader_id=str(leader.id),
                    community_id=community_id,
                    version=1,
                    seq=first + i,
                    updated_at=now.isoformat(),
                )
                rows.append(row)
            await store.insert_many(conn, dialect, "contact", rows, now, copy=copy)
    return total / (time.perf_counter() - start)


async def bench_backend(
    url: str, label: str, batches: int, devices: int, rounds: int, caseload: int
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="peerlog-bench-"))
    settings = Settings(data_dir=data_dir, database_url=url, secret_key=SECRET, log_level="WARNING")
    await db.migrate(url)
    await db.init(url)
    out: dict[str, Any] = {"backend": label}
    server = Server(url, data_dir)
    try:
        leader, people = await seed_leader(caseload, "Bench")
        committee = await Committee.get(
            community_id=leader.community_id  # type: ignore[attr-defined]
        ).prefetch_related("community")
        community = committee.community
        await server.wait()

        # 1. push ingest
        c = await client_for(server, leader, settings)
        device = uuid.uuid4()
        bodies = []
        for b in range(batches):
            bodies.append(contact_push(device, people, b))
        # One warm-up batch of a second device, outside the timing.
        warm = as_new_device(bodies[:1])[0]
        assert (await c.post("/api/sync/push", content=warm)).status_code == 200
        headers = {
            "content-type": "application/json",
            "accept-encoding": "gzip",
            "x-csrftoken": c.headers["x-csrftoken"],
            "cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items()),
            **REPORT,
        }

        async def push_all(batches_of_one_device: list[bytes]) -> None:
            lean = LeanClient(server.base, headers)
            try:
                for body in batches_of_one_device:
                    status, answer = await lean.post("/api/sync/push", body)
                    assert status == 200, answer[:300]
            finally:
                await lean.close()

        start = time.perf_counter()
        await push_all(bodies)
        elapsed = time.perf_counter() - start
        n = batches * BATCH
        out["push_rate"] = n / elapsed
        out["push_ms_per_batch"] = elapsed / batches * 1000
        # Two phones at once, each with half the batches: while one push waits for the
        # database, the server works on the other's (one process, one event loop).
        halves = as_new_device(bodies[: batches // 2]), as_new_device(bodies[batches // 2 :])
        start = time.perf_counter()
        await asyncio.gather(*(push_all(half) for half in halves))
        out["pair_rate"] = n / (time.perf_counter() - start)
        # The same kind of batches from httpx (another device, new ids).
        out["httpx_rate"] = await push_rate(c, as_new_device(bodies))
        await c.aclose()
        # The same batches through the same app in this process (httpx over ASGI): no socket and
        # no uvicorn, but the client's work shares this one process with the server's.
        from server.app import create_app

        app = create_app(settings, manage_database=False)
        asgi = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=server.base)
        asgi.cookies.set(SESSION_COOKIE, await create_session(leader, settings))
        await asgi.get("/healthz")
        asgi.headers["x-csrftoken"] = asgi.cookies.get("csrftoken") or ""
        asgi.headers["content-type"] = "application/json"
        out["asgi_rate"] = await push_rate(asgi, as_new_device(bodies))
        await asgi.aclose()
        out["raw_rate"] = await raw_contacts(leader, str(community.id), people, n)
        out["ratio"] = out["push_rate"] / out["raw_rate"]
        if label == "postgres":
            out["raw_many_rate"] = await raw_contacts(
                leader, str(community.id), people, n, copy=False
            )
        print(
            f"[{label}] push ingest over HTTP: {n} contacts "
            f"({'each with a reported glucose' if READINGS else 'no reported values'}) "
            f"for {caseload} participants in {batches} batches of {BATCH}: "
            f"{out['push_rate']:,.0f} mutations/s ({out['push_ms_per_batch']:.0f} ms/batch)"
        )
        print(
            f"[{label}] the same from two phones at once (half the batches each): "
            f"{out['pair_rate']:,.0f} mutations/s; ratio to raw {out['pair_rate'] / out['raw_rate']:.2f}"
        )
        print(
            f"[{label}] the same from httpx as the client: {out['httpx_rate']:,.0f} mutations/s; "
            f"ratio to raw {out['httpx_rate'] / out['raw_rate']:.2f}"
        )
        print(
            f"[{label}] the same batches in-process (httpx over ASGI, no socket): "
            f"{out['asgi_rate']:,.0f} mutations/s; ratio to raw {out['asgi_rate'] / out['raw_rate']:.2f}"
        )
        print(
            f"[{label}] raw batched insert of the same rows: {out['raw_rate']:,.0f} rows/s; "
            f"ratio {out['ratio']:.2f}" + (" (COPY)" if label == "postgres" else " (executemany)")
        )
        if "raw_many_rate" in out:
            print(
                f"[{label}] raw batched insert with executemany instead of COPY: "
                f"{out['raw_many_rate']:,.0f} rows/s; ratio "
                f"{out['push_rate'] / out['raw_many_rate']:.2f}"
            )

        # 2. pull of a 10,000-record scope
        big = await User.create(
            username=f"big{uuid.uuid4().hex[:6]}",
            display_name="Big",
            role=Role.PEER_LEADER,
            community=community,
        )
        big_people = await seed_people(big, committee, 2000)
        await raw_contacts(big, str(community.id), big_people, 8000)
        c = await client_for(server, big, settings)
        cursor, records, raw_bytes, gz_bytes = None, 0, 0, 0
        start = time.perf_counter()
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            r = await c.get("/api/sync/pull", params=params)
            assert r.status_code == 200, r.text[:300]
            raw_bytes += len(r.content)
            gz_bytes += len(gzip.compress(r.content))
            body = r.json()
            records += len(body["changes"])
            cursor = body["cursor"]
            if not body["has_more"]:
                break
        http_total = time.perf_counter() - start
        await c.aclose()
        start = time.perf_counter()
        cursor, in_process = None, 0
        while True:
            page = await engine.pull(big, cursor, 1000)
            assert isinstance(page, engine.PullResponse)
            encode(page)
            in_process += len(page.changes)
            cursor = page.cursor
            if not page.has_more:
                break
        engine_total = time.perf_counter() - start
        out.update(
            pull_records=records,
            pull_http_s=http_total,
            pull_engine_s=engine_total,
            pull_bytes=raw_bytes / records,
            pull_gz_bytes=gz_bytes / records,
        )
        print(
            f"[{label}] pull of a {records:,}-record scope in pages of 1,000: {http_total:.2f} s over HTTP "
            f"(engine alone {engine_total:.2f} s); {raw_bytes / records:.0f} bytes/record, "
            f"{gz_bytes / records:.0f} gzipped"
        )

        # 3. many devices at once
        leaders = []
        for i in range(devices // 4):
            u = await User.create(
                username=f"dev{uuid.uuid4().hex[:8]}",
                display_name=f"D{i}",
                role=Role.PEER_LEADER,
                community=community,
            )
            leaders.append((u, await seed_people(u, committee, 4)))
        clients = []
        for u, pids in leaders:
            shared = await client_for(server, u, settings, limit=8)
            for _ in range(4):
                clients.append((shared, uuid.uuid4(), pids))
        latencies: list[float] = []
        errors: list[str] = []

        async def phone(c: httpx.AsyncClient, device_id: uuid.UUID, pids: list[str]) -> None:
            cursor: str | None = None
            for rnd in range(rounds):
                mutations = [
                    {
                        "mutation_id": rnd * 20 + i + 1,
                        "entity": "contact",
                        "id": str(uuid.uuid4()),
                        "fields": contact_fields(pids[i % len(pids)], i),
                    }
                    for i in range(20)
                ]
                t = time.perf_counter()
                r = await c.post(
                    "/api/sync/push",
                    content=encode({"device_id": str(device_id), "mutations": mutations}),
                )
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors.append(f"push {r.status_code} {r.text[:120]}")
                params: dict[str, Any] = {"limit": 500}
                while True:
                    if cursor:
                        params["cursor"] = cursor
                    t = time.perf_counter()
                    r = await c.get("/api/sync/pull", params=params)
                    latencies.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        errors.append(f"pull {r.status_code} {r.text[:120]}")
                        break
                    body = r.json()
                    cursor = body["cursor"]
                    if not body["has_more"]:
                        break

        start = time.perf_counter()
        await asyncio.gather(*(phone(c, d, p) for c, d, p in clients))
        elapsed = time.perf_counter() - start
        for shared in {id(c): c for c, _, _ in clients}.values():
            await shared.aclose()
        expected = devices * rounds * 20
        device_ids = [d for _, d, _ in clients]
        stored = await Contact.filter(peer_leader_id__in=[u.id for u, _ in leaders]).count()
        acked = sum(d.last_mutation_id for d in await Device.filter(id__in=device_ids))
        log_text = server.log.read_text()
        locked = log_text.count("database is locked") + sum("locked" in e for e in errors)
        p95 = statistics.quantiles(latencies, n=20)[18] * 1000
        out.update(
            devices=devices,
            requests=len(latencies),
            errors=len(errors),
            lost=expected - stored,
            acked=acked,
            locked=locked,
            rps=len(latencies) / elapsed,
            mps=expected / elapsed,
            p95_ms=p95,
            elapsed=elapsed,
        )
        print(
            f"[{label}] {devices} devices x {rounds} rounds (push 20 + pull) at once: {len(latencies)} requests "
            f"in {elapsed:.1f} s = {len(latencies) / elapsed:,.0f} req/s, {expected / elapsed:,.0f} mutations/s, "
            f"p95 {p95:.0f} ms; errors {len(errors)}, lost {expected - stored}, "
            f"acknowledged {acked}/{expected}, 'database is locked' {locked}"
        )
        if errors:
            print("   first errors:", errors[:3])
    finally:
        server.stop()
        await db.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


async def bench_synchronous(batches: int, rounds: int, caseload: int) -> None:
    """Push ingest on SQLite with ``synchronous=FULL`` and with ``NORMAL``, alternating."""
    rates: dict[str, list[float]] = {"FULL": [], "NORMAL": []}
    for _ in range(rounds):
        for mode in ("FULL", "NORMAL"):
            folder = Path(tempfile.mkdtemp(prefix="peerlog-bench-sync-"))
            url = f"sqlite://{folder / 'bench.sqlite3'}"
            settings = Settings(data_dir=folder, database_url=url, secret_key=SECRET)
            await db.migrate(url)
            await db.init(url)
            server = Server(url, folder, synchronous=mode)
            try:
                leader, people = await seed_leader(caseload, "Bench")
                await server.wait()
                c = await client_for(server, leader, settings)
                bodies = as_new_device(
                    [
                        encode(
                            {
                                "device_id": "",
                                "schema_version": 1,
                                "mutations": [
                                    {
                                        "entity": "contact",
                                        "base_version": 0,
                                        "fields": contact_fields(people[i % len(people)], i),
                                    }
                                    for i in range(BATCH)
                                ],
                            }
                        )
                    ]
                    * (batches + 1)
                )
                headers = {
                    "content-type": "application/json",
                    "x-csrftoken": c.headers["x-csrftoken"],
                    "cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items()),
                }
                await c.aclose()
                lean = LeanClient(server.base, headers)
                status, answer = await lean.post("/api/sync/push", bodies[0])  # warm-up
                assert status == 200, answer[:300]
                start = time.perf_counter()
                for body in bodies[1:]:
                    status, answer = await lean.post("/api/sync/push", body)
                    assert status == 200, answer[:300]
                rate = batches * BATCH / (time.perf_counter() - start)
                await lean.close()
                rates[mode].append(rate)
                print(
                    f"[sqlite synchronous={mode}] {batches} batches of {BATCH}: {rate:,.0f} "
                    f"mutations/s ({batches * BATCH / rate / batches * 1000:.1f} ms/batch)"
                )
            finally:
                server.stop()
                await db.close()
                shutil.rmtree(folder, ignore_errors=True)
    full, normal = statistics.median(rates["FULL"]), statistics.median(rates["NORMAL"])
    print(
        f"[sqlite] median push ingest: FULL {full:,.0f}, NORMAL {normal:,.0f} mutations/s; "
        f"FULL / NORMAL = {full / normal:.2f} ({rounds} rounds each)"
    )


def backend_parser(doc: str | None, *, sqlite: bool = True) -> argparse.ArgumentParser:
    """A benchmark's arguments for its databases: --postgres (PEERLOG_TEST_POSTGRES_URL when not
    given), --no-postgres and, with ``sqlite``, --no-sqlite."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", default=os.environ.get("PEERLOG_TEST_POSTGRES_URL", ""))
    parser.add_argument("--no-postgres", action="store_true")
    if sqlite:
        parser.add_argument("--no-sqlite", action="store_true")
    return parser


async def main() -> None:
    parser = backend_parser(__doc__)
    parser.add_argument(
        "--batches", type=int, default=40, help="push batches of 500 (default 40 = 20,000)"
    )
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument(
        "--outbox-report",
        action="store_true",
        help="send the x-peerlog-outbox header with every request, as the app does",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--no-readings",
        action="store_true",
        help="contacts without a reported glucose: no self-report measurement row per contact "
        "(the work of a push before issue 14's measurements)",
    )
    parser.add_argument(
        "--caseload",
        type=int,
        default=50,
        help="participants the pushing peer leader's contacts are spread over (each touched "
        "participant gets its last-contact date updated in the same batch); default 50",
    )
    parser.add_argument(
        "--synchronous-cost",
        action="store_true",
        help="only the SQLite push ingest, with synchronous=FULL and NORMAL in turn",
    )
    args = parser.parse_args()
    if args.outbox_report:
        REPORT["x-peerlog-outbox"] = "waiting=500; oldest=2026-11-20T01:41:12.000Z"
    if args.no_readings:
        READINGS.clear()
    if args.synchronous_cost:
        await bench_synchronous(args.batches, args.rounds, args.caseload)
        return
    # The in-process app sets up logging; one line per benchmark request would drown the figures.
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not args.no_sqlite:
        folder = Path(tempfile.mkdtemp(prefix="peerlog-bench-db-"))
        try:
            await bench_backend(
                f"sqlite://{folder / 'bench.sqlite3'}",
                "sqlite",
                args.batches,
                args.devices,
                args.rounds,
                args.caseload,
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.postgres and not args.no_postgres:
        async with scratch_postgres(args.postgres, "peerlog_bench") as url:
            await bench_backend(
                url, "postgres", args.batches, args.devices, args.rounds, args.caseload
            )


if __name__ == "__main__":
    asyncio.run(main())
