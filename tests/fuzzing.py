"""Schemathesis against a real ``peerlog serve``: every operation of ``/api/schema/openapi.json``,
with generated valid and invalid input, as an administrator and as a peer leader; any 5xx fails.

Used two ways: the suite's bounded run (``tests/integration/test_schema_fuzz.py``, a few cases
per operation) and ``make fuzz`` (``python -m tests.fuzzing``, many more; figures in
BENCHMARKS.md). Both start a real server process on a database made for the run (SQLite, or
PostgreSQL with ``--postgres URL``), sign the two users in with real sessions bound to devices,
and run the ``st`` command line with the session cookie, the CSRF token and the device header.
``/api/auth/logout`` is left out: it would end the session the rest of the run needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.scratch import scratch_postgres

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXCLUDED_PATHS = ("/api/auth/logout",)


@dataclass
class Identity:
    role: str
    session: str
    device: str


@dataclass
class RunResult:
    role: str
    cases: int = 0
    operations: int = 0
    server_errors: list[str] = field(default_factory=list)  # "METHOD path: status"
    signed_in: bool = False  # /api/auth/me answered 200: the run was not 401s throughout
    output: str = ""


async def _prepare(database_url: str, data_dir: Path) -> list[Identity]:
    """Migrate, fill a small program, and sign an administrator and a peer leader in."""
    from server.auth.session import create_session
    from server.settings import Settings
    from sync import db
    from sync.models import Committee, Community, Device, Group, Participant, Role, User

    await db.migrate(database_url)
    await db.init(database_url)
    try:
        settings = Settings(data_dir=data_dir, database_url=database_url)
        community = await Community.create(name="Fuzz community", code="FZ01")
        committee = await Committee.create(name="Fuzz committee", code="FZRC1", community=community)
        admin = await User.create(username="fuzz-admin", display_name="Admin", role=Role.ADMIN)
        leader = await User.create(
            username="fuzz-leader",
            display_name="Leader",
            role=Role.PEER_LEADER,
            community=community,
        )
        await Group.create(name="Fuzz group", community=community, leader=leader)
        for n in range(3):
            await Participant.create(
                code=f"FZ{n:03d}",
                full_name=f"Participant {n}",
                community_id=community.id,
                committee=committee,
                peer_leader=leader,
                enrolled_on=date(2026, 5, 1),
                consent_on=date(2026, 5, 1),
            )
        out = []
        for user in (admin, leader):
            device = await Device.create(id=uuid.uuid4(), user=user, label="fuzz")
            token = await create_session(user, settings, device_id=device.id)
            out.append(Identity(user.role.value, token, str(device.id)))
        return out
    finally:
        await db.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(database_url: str, data_dir: Path) -> Iterator[str]:
    """A ``peerlog serve`` process on a free port; yields its origin, stops it afterwards."""
    port = _free_port()
    origin = f"http://localhost:{port}"
    env = {
        **os.environ,
        "PEERLOG_DATABASE_URL": database_url,
        "PEERLOG_DATA_DIR": str(data_dir),
        "PEERLOG_ORIGIN": origin,
        "PEERLOG_PORT": str(port),
        "PEERLOG_SECRET_KEY": "fuzz-secret",
        # Sign-in and invite endpoints are fuzzed too: a 429 would only hide them.
        "PEERLOG_RATE_LIMIT_PER_MINUTE": "100000",
        "PEERLOG_LOG_LEVEL": "WARNING",
    }
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "peerlog"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{origin}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("peerlog serve did not start:\n" + _tail(data_dir))
            time.sleep(0.1)
        yield origin
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _tail(data_dir: Path) -> str:
    path = data_dir / "server.log"
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def run_schemathesis(
    origin: str,
    who: Identity,
    report_dir: Path,
    *,
    max_examples: int,
    seed: int | None,
    phases: str = "examples,coverage,fuzzing",
) -> RunResult:
    """One ``st run`` signed in as ``who``; the 5xx answers and the case count are read from
    its NDJSON event stream."""
    csrf = httpx.get(f"{origin}/healthz", timeout=5).cookies.get("csrftoken")
    if not csrf:
        raise RuntimeError("the server handed out no CSRF cookie")
    report = report_dir / f"{who.role}.ndjson"
    command = [
        str(BIN / "st"),
        "run",
        f"{origin}/api/schema/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(max_examples),
        "--phases",
        phases,
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--continue-on-failure",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "-H",
        f"Cookie: peerlog_session={who.session}; csrftoken={csrf}",
        "-H",
        f"x-csrftoken: {csrf}",
        "-H",
        f"x-peerlog-device: {who.device}",
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    if seed is not None:
        command += ["--seed", str(seed)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
        cwd=report_dir,  # its cache folder goes there, not into the checkout
        check=False,
    )
    result = RunResult(who.role, output=done.stdout + done.stderr)
    _read_report(report, result)
    return result


def _read_report(path: Path, result: RunResult) -> None:
    if not path.exists():
        raise RuntimeError("schemathesis wrote no report:\n" + result.output[-4000:])
    operations: set[str] = set()
    for line in path.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder") or {}
        label = recorder.get("label") or ""
        if label:
            operations.add(label)
        interactions = recorder.get("interactions") or {}
        for interaction in interactions.values():
            response = interaction.get("response") or {}
            result.cases += 1
            status = int(response.get("status_code") or 0)
            request = interaction.get("request") or {}
            path = urlsplit(request.get("uri", "")).path
            if path == "/api/auth/me" and status == 200:
                result.signed_in = True
            if status >= 500:
                result.server_errors.append(f"{request.get('method', '?')} {path}: {status}")
    result.operations = len(operations)


@contextlib.asynccontextmanager
async def database(postgres: str | None, folder: Path) -> AsyncIterator[str]:
    """A new database for the run: a SQLite file in ``folder``, or a scratch PostgreSQL one."""
    if not postgres:
        yield f"sqlite://{folder / 'fuzz.sqlite3'}"
        return
    async with scratch_postgres(postgres, "peerlog_fuzz") as url:
        yield url


async def fuzz(
    *, postgres: str | None, max_examples: int, seed: int | None, folder: Path
) -> list[RunResult]:
    """Fill a database, serve it, and run schemathesis once per identity."""
    async with database(postgres, folder) as url:
        data_dir = folder / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        identities = await _prepare(url, data_dir)
        with serve(url, data_dir) as origin:
            return [
                await asyncio.to_thread(
                    run_schemathesis,
                    origin,
                    who,
                    folder,
                    max_examples=max_examples,
                    seed=seed,
                )
                for who in identities
            ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=200, help="cases per operation")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--postgres", default=os.environ.get("PEERLOG_TEST_POSTGRES_URL") or None)
    parser.add_argument(
        "--sqlite", action="store_true", help="use SQLite even if PostgreSQL is set"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="peerlog-fuzz-"))
    started = time.monotonic()
    try:
        results = asyncio.run(
            fuzz(
                postgres=None if args.sqlite else args.postgres,
                max_examples=args.max_examples,
                seed=args.seed,
                folder=folder,
            )
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    backend = "SQLite" if args.sqlite or not args.postgres else "PostgreSQL"
    print(f"schemathesis on {backend}, {args.max_examples} examples per operation")
    failed = False
    for r in results:
        print(f"  {r.role:12} operations={r.operations} cases={r.cases} 5xx={len(r.server_errors)}")
        for line in sorted(set(r.server_errors)):
            print(f"    {line}")
        failed = failed or bool(r.server_errors)
    print(f"  took {time.monotonic() - started:.0f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
