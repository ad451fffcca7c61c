"""Peerlog beside a real peer: pouchdb-server (the CouchDB replication protocol that the Community
Health Toolkit's phones sync with), in the same run, from the same lean client. Prints figures,
asserts nothing about speed.

    make bench-peer          # installs pouchdb-server from npm into bench/.pouchdb the first time
    .venv/bin/python bench/bench_peer.py [--batches 20] [--pulls 5]

Both servers run on 127.0.0.1 as subprocesses, each over a fresh folder: Peerlog (uvicorn,
SQLite with ``synchronous=FULL``: every push's commit reaches the disk before the 200) and
pouchdb-server 4 (LevelDB). The same contact records (and the peer leader's participants) go to
both in batches of 500, one batch to one then the same to the other, in alternating order:

- push: ``POST /api/sync/push`` against ``POST /{db}/_bulk_docs``;
- pull: paging through everything in pages of 500, ``GET /api/sync/pull?cursor=…`` against
  ``GET /{db}/_changes?include_docs=true&since=…``, the whole pull alternating, ``--pulls`` times.

The client writes each request in one call, reads the answer as bytes, gunzips it when it came
gzipped and decodes the JSON (it needs the cursor and checks every result), the same for both.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_sync import (  # noqa: E402 (beside this script)
    BATCH,
    SECRET,
    LeanClient,
    Server,
    client_for,
    contact_fields,
    encode,
    free_port,
    seed_leader,
)

from server.settings import Settings  # noqa: E402
from sync import db  # noqa: E402

POUCHDB = ROOT / "bench" / ".pouchdb"
POUCHDB_BIN = POUCHDB / "node_modules" / ".bin" / "pouchdb-server"
POUCHDB_VERSION = "4.2.0"
PAGE = 500
decode = msgspec.json.Decoder().decode


def json_of(body: bytes) -> Any:
    return decode(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)


class Peer:
    """pouchdb-server on a free port, its files (databases, config, log) in ``folder``."""

    def __init__(self, folder: Path) -> None:
        if not POUCHDB_BIN.exists():
            raise SystemExit(
                f"pouchdb-server is not installed: run `make bench-peer` (or npm install "
                f"--prefix {POUCHDB} pouchdb-server@{POUCHDB_VERSION})"
            )
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                str(POUCHDB_BIN),
                "--port",
                str(self.port),
                "--dir",
                str(folder),
                "--no-color",
                "--no-stdout-logs",
            ],
            cwd=folder,  # it writes config.json and log.txt where it starts
            stdout=subprocess.DEVNULL,
            stderr=(folder / "stderr.txt").open("w"),
        )

    async def wait(self) -> None:
        async with httpx.AsyncClient() as c:
            for _ in range(600):
                try:
                    if (await c.get(self.base + "/")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("pouchdb-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await work()
    return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=20, help="batches of 500 contacts")
    parser.add_argument("--pulls", type=int, default=5, help="whole pulls of each, alternating")
    parser.add_argument("--caseload", type=int, default=50)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="peerlog-peer-"))
    url = f"sqlite://{folder / 'peerlog.sqlite3'}"
    settings = Settings(data_dir=folder, database_url=url, secret_key=SECRET, log_level="WARNING")
    await db.migrate(url)
    await db.init(url)
    server = Server(url, folder)
    peer = Peer(folder / "pouchdb")
    try:
        leader, people = await seed_leader(args.caseload, "Peer")
        await server.wait()
        await peer.wait()
        c = await client_for(server, leader, settings)
        ours = LeanClient.signed_in_as(server.base, c)
        theirs = LeanClient(
            peer.base, {"content-type": "application/json", "accept-encoding": "gzip"}
        )
        await db.close()

        # The peer gets the participants too, so that both pulls carry the same records.
        dbname = "contacts"
        status, answer = await theirs.request("PUT", f"/{dbname}")
        assert status == 201, answer[:200]
        participants = await participant_docs(c)
        status, answer = await theirs.post(f"/{dbname}/_bulk_docs", encode({"docs": participants}))
        assert status == 201, answer[:200]

        # The same records, encoded for each before timing.
        device = str(uuid.uuid4())
        ours_bodies, theirs_bodies = [], []
        for b in range(args.batches):
            records = [
                (str(uuid.uuid4()), contact_fields(people[i % len(people)], b * BATCH + i))
                for i in range(BATCH)
            ]
            ours_bodies.append(
                encode(
                    {
                        "device_id": device,
                        "schema_version": 1,
                        "mutations": [
                            {
                                "mutation_id": b * BATCH + i + 1,
                                "entity": "contact",
                                "id": rid,
                                "base_version": 0,
                                "fields": fields,
                            }
                            for i, (rid, fields) in enumerate(records)
                        ],
                    }
                )
            )
            theirs_bodies.append(
                encode({"docs": [{"_id": rid, "type": "contact", **f} for rid, f in records]})
            )

        async def push_ours(body: bytes) -> None:
            status, answer = await ours.post("/api/sync/push", body)
            assert status == 200, answer[:300]
            results = json_of(answer)["results"]
            assert len(results) == BATCH and all(r["status"] == "applied" for r in results)

        async def push_theirs(body: bytes) -> None:
            status, answer = await theirs.post(f"/{dbname}/_bulk_docs", body)
            assert status == 201, answer[:300]
            results = json_of(answer)
            assert len(results) == BATCH and all(r.get("ok") for r in results)

        push_times: tuple[list[float], list[float]] = ([], [])
        for b in range(args.batches):
            pair = [
                lambda b=b: push_ours(ours_bodies[b]),
                lambda b=b: push_theirs(theirs_bodies[b]),
            ]
            for k in (0, 1) if b % 2 == 0 else (1, 0):
                push_times[k].append(await timed(pair[k]))

        async def pull_ours() -> None:
            cursor, records = "", 0
            while True:
                path = f"/api/sync/pull?limit={PAGE}" + (
                    f"&cursor={quote(cursor)}" if cursor else ""
                )
                status, answer = await ours.get(path)
                assert status == 200, answer[:300]
                page = json_of(answer)
                records += len(page["changes"])
                cursor = page["cursor"]
                if not page["has_more"]:
                    break
            assert records == expected, (records, expected)

        async def pull_theirs() -> None:
            since, records = "0", 0
            while True:
                status, answer = await theirs.get(
                    f"/{dbname}/_changes?include_docs=true&limit={PAGE}&since={quote(str(since))}"
                )
                assert status == 200, answer[:300]
                page = json_of(answer)
                records += len(page["results"])
                since = page["last_seq"]
                if len(page["results"]) < PAGE:
                    break
            assert records == expected, (records, expected)

        expected = args.batches * BATCH + len(people)
        pull_times: tuple[list[float], list[float]] = ([], [])
        for r in range(args.pulls):
            for k in (0, 1) if r % 2 == 0 else (1, 0):
                pull_times[k].append(await timed((pull_ours, pull_theirs)[k]))
        await c.aclose()
        await ours.close()
        await theirs.close()

        n = args.batches * BATCH
        push_ratio = sum(push_times[1]) / sum(push_times[0])
        pull_ratio = statistics.median(pull_times[1]) / statistics.median(pull_times[0])
        print(
            f"push, {args.batches} batches of {BATCH} contacts, alternating: Peerlog "
            f"{statistics.median(push_times[0]) * 1000:.1f} ms a batch (median; "
            f"{n / sum(push_times[0]):,.0f} records/s), pouchdb-server _bulk_docs "
            f"{statistics.median(push_times[1]) * 1000:.1f} ms ({n / sum(push_times[1]):,.0f} "
            f"records/s): Peerlog {push_ratio:.2f} × as fast (target ≥ 1.5 ×)"
        )
        print(
            f"pull of all {expected:,} records in pages of {PAGE}, {args.pulls} times each, "
            f"alternating: Peerlog {statistics.median(pull_times[0]):.2f} s (median), "
            f"pouchdb-server _changes?include_docs=true {statistics.median(pull_times[1]):.2f} s: "
            f"Peerlog {pull_ratio:.2f} × as fast (target ≥ 2 ×)"
        )
    finally:
        server.stop()
        peer.stop()
        await db.close()
        shutil.rmtree(folder, ignore_errors=True)


async def participant_docs(c: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The peer leader's participants as Peerlog's pull gives them, as documents."""
    r = await c.get("/api/sync/pull", params={"limit": 1000})
    assert r.status_code == 200, r.text[:300]
    return [
        {"_id": ch["id"], "type": ch["entity"], **ch["fields"]}
        for ch in r.json()["changes"]
        if ch["entity"] == "participant"
    ]


if __name__ == "__main__":
    os.environ.setdefault("PEERLOG_LOG_LEVEL", "WARNING")
    asyncio.run(main())
