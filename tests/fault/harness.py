"""What the fault tests drive: a real ``python -m server serve`` process, a loopback proxy that
loses answers after the server has processed the request, and phones that sync as the app does.

Nothing here is a stub: the server is the command an operator runs, killed with SIGKILL (no
shutdown, no flush) and started again; the phones speak the wire protocol of SPEC 3 over HTTP and
keep a mutation in their queue until a 200 acknowledges it, as ``pwa/static/js/sync.js`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from server.auth.session import SESSION_COOKIE

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-secret"


# --- the server process --------------------------------------------------------------------------


class ServeProcess:
    """``python -m server serve`` on 127.0.0.1:``port``, in a process group of its own so that a
    kill takes its workers with it (orphaned workers would keep the port)."""

    def __init__(
        self, database_url: str, data_dir: Path, port: int, origin: str, workers: int = 1
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.port = port
        self.origin = origin
        self.workers = workers
        self.proc: asyncio.subprocess.Process | None = None
        self.log = data_dir / "serve.log"
        self.starts = 0

    async def start(self) -> None:
        env = {
            **os.environ,
            "PEERLOG_DATABASE_URL": self.database_url,
            "PEERLOG_DATA_DIR": str(self.data_dir),
            "PEERLOG_SECRET_KEY": SECRET,
            "PEERLOG_ORIGIN": self.origin,
            "PEERLOG_LOG_LEVEL": "WARNING",
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "server",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        await self.wait_ready()

    async def wait_ready(self, within: float = 30) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with httpx.AsyncClient(timeout=1) as c:
            while loop.time() < deadline:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    break
                with contextlib.suppress(httpx.TransportError):
                    if (await c.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError("the server did not start:\n" + self.log.read_text()[-3000:])

    async def kill(self) -> None:
        """SIGKILL the whole process group: what a crash or a power cut leaves."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

    def workers_pids(self) -> list[int]:
        """The worker processes of a ``--workers N`` server (uvicorn spawns them)."""
        assert self.proc is not None
        pids = []
        for pid in _children(self.proc.pid):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"spawn_main" in cmdline:
                    pids.append(pid)
        return pids

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            await self.kill()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            out.extend(int(p) for p in (task / "children").read_text().split())
    return out


# --- the proxy ------------------------------------------------------------------------------------


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One whole HTTP/1.1 message (head and body, content-length or chunked), as raw bytes;
    None when the peer closed the connection between messages."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    length, chunked = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return head + await reader.readexactly(length)
    parts = [head]
    while True:
        size_line = await reader.readuntil(b"\r\n")
        parts.append(size_line)
        size = int(size_line.split(b";")[0].strip(), 16)
        parts.append(await reader.readexactly(size + 2))
        if size == 0:
            return b"".join(parts)


class LossyProxy:
    """A loopback HTTP proxy that forwards each request to the server, waits for the server's
    whole answer (the request has been processed: a push is committed) and then, with probability
    ``drop``, closes the phone's connection instead of passing the answer on."""

    def __init__(self, upstream_port: int, drop: float, seed: int) -> None:
        self.upstream_port = upstream_port
        self.drop = drop
        self.rng = random.Random(seed)
        self.port = 0
        self.forwarded = 0
        self.dropped = 0
        self.upstream_failures = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._open.add(writer)
        try:
            while (request := await _read_message(reader)) is not None:
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                upstream[1].write(request)
                await upstream[1].drain()
                answer = await _read_message(upstream[0])
                if answer is None:
                    self.upstream_failures += 1
                    return
                self.forwarded += 1
                if self.rng.random() < self.drop:
                    self.dropped += 1
                    return  # processed by the server; the phone never hears of it
                writer.write(answer)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.upstream_failures += 1
        finally:
            self._open.discard(writer)
            writer.close()
            if upstream is not None:
                upstream[1].close()


# --- the phones -----------------------------------------------------------------------------------


MAX_BATCH = 500


@dataclass
class Planned:
    """What a phone means the server to end up with, per contact it created."""

    edits: int = 0
    note: str = ""


@dataclass
class Phone:
    """One phone's sync client, as ``pwa/static/js/sync.js``: push everything queued (a mutation
    leaves the queue only when a 200 answers it), renumber the queue after a 409, then pull to the
    end; on anything else keep the queue and retry after a short backoff."""

    name: str
    base_url: str
    token: str
    participants: list[str]
    rng: random.Random
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    next_mutation_id: int = 1
    outbox: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # what the phone knows, per record
    planned: dict[str, Planned] = field(default_factory=dict)
    pulled: dict[str, int] = field(default_factory=dict)  # contact id → version, from pulls
    cursor: str | None = None
    made: int = 0  # mutations made on the phone
    acknowledged: int = 0  # … answered by a 200
    failures: int = 0
    client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=15)
        self.client.cookies.set(SESSION_COOKIE, self.token)
        while True:  # the CSRF cookie, from a safe request (its answer may be lost too)
            try:
                r = await self.client.get("/healthz")
                if r.status_code == 200 and self.client.cookies.get("csrftoken"):
                    break
            except httpx.TransportError:
                pass
            await self._backoff()
        self.client.headers.update(
            {
                "x-csrftoken": self.client.cookies.get("csrftoken") or "",
                "x-peerlog-device": self.device_id,
            }
        )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def _queue(self, entity: str, rid: str, base: int, fields: dict[str, Any]) -> None:
        self.outbox.append(
            {
                "mutation_id": self.next_mutation_id,
                "entity": entity,
                "id": rid,
                "base_version": base,
                "fields": fields,
            }
        )
        self.next_mutation_id += 1
        self.made += 1

    def log_contacts(self, count: int) -> None:
        for _ in range(count):
            rid = str(uuid.uuid4())
            when = datetime(2026, 11, 1, 8, tzinfo=UTC) + timedelta(minutes=self.made)
            note = f"{self.name} contact {self.made}"
            self._queue(
                "contact",
                rid,
                0,
                {
                    "participant_id": self.rng.choice(self.participants),
                    "occurred_at": when.isoformat(),
                    "mode": "phone_call",
                    "duration_min": 10,
                    "functions": ["being_there"],
                    "referral": "none",
                    "note": note,
                },
            )
            self.versions[rid] = 0
            self.planned[rid] = Planned(note=note)

    def edit_contacts(self, count: int) -> None:
        """Edit contacts the server has acknowledged, from the version the phone last saw (a
        second edit before the first is answered carries the same, stale, base)."""
        known = [rid for rid, v in self.versions.items() if v > 0]
        for rid in self.rng.sample(known, min(count, len(known))):
            plan = self.planned[rid]
            plan.edits += 1
            plan.note = f"{self.name} edit {plan.edits} of {rid[:8]}"
            self._queue("contact", rid, self.versions[rid], {"note": plan.note})

    async def _backoff(self) -> None:
        self.failures += 1
        await asyncio.sleep(self.rng.uniform(0.02, 0.12))

    async def sync(self) -> None:
        """Push everything queued, then pull to the end; retry until both went through."""
        while not await self._sync_once():
            await self._backoff()

    async def _sync_once(self) -> bool:
        assert self.client is not None
        try:
            renumbered = 0
            while self.outbox:
                batch = self.outbox[:MAX_BATCH]
                r = await self.client.post(
                    "/api/sync/push",
                    json={"device_id": self.device_id, "schema_version": 1, "mutations": batch},
                )
                if r.status_code == 200:
                    self._acknowledge(batch, r.json())
                elif r.status_code == 409 and renumbered < 3:
                    renumbered += 1
                    self._renumber(int(r.json().get("last_mutation_id", 0)))
                else:
                    return False
            while True:
                params: dict[str, Any] = {"limit": 200}
                if self.cursor:
                    params["cursor"] = self.cursor
                r = await self.client.get("/api/sync/pull", params=params)
                if r.status_code != 200:
                    return False
                body = r.json()
                if body.get("resync"):
                    self.cursor = None
                    self.pulled.clear()
                    continue
                for change in body["changes"]:
                    if change["entity"] == "contact":
                        self.pulled[change["id"]] = change["version"]
                self.cursor = body["cursor"]
                if not body["has_more"]:
                    return True
        except httpx.TransportError:
            return False

    def _acknowledge(self, batch: list[dict[str, Any]], body: dict[str, Any]) -> None:
        sent = {m["mutation_id"]: m for m in batch}
        done = set()
        for result in body["results"]:
            m = sent.get(result["mutation_id"])
            if m is None:
                continue
            assert result["status"] in ("applied", "merged"), (self.name, m, result)
            done.add(m["mutation_id"])
            if result.get("version"):
                self.versions[m["id"]] = max(self.versions[m["id"]], result["version"])
        self.outbox = [m for m in self.outbox if m["mutation_id"] not in done]
        self.acknowledged += len(done)

    def _renumber(self, last: int) -> None:
        for offset, m in enumerate(self.outbox, start=1):
            m["mutation_id"] = last + offset
        self.next_mutation_id = last + 1 + len(self.outbox)


async def run_phone(phone: Phone, creations: int, on_progress: Callable[[], None]) -> None:
    """Log contacts and edit some, a few at a time, syncing after each round, as a peer leader
    does through a day; then sync until nothing is left."""
    await phone.open()
    created = 0
    while created < creations:
        count = min(phone.rng.randint(5, 40), creations - created)
        phone.log_contacts(count)
        created += count
        phone.edit_contacts(phone.rng.randint(0, 6))
        await phone.sync()
        on_progress()
    await phone.sync()
    on_progress()
