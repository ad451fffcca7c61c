"""Exactly-once under faults: phones push through a proxy that loses about 30 % of the server's
answers after the server processed the request, while the server is SIGKILLed and started again;
at the end nothing a phone made is lost, nothing is applied twice, every version is right, and
every phone's pull has every record at its last version.

A real ``python -m server serve`` process, SIGKILLed with its whole process group and started
again, on SQLite; on PostgreSQL with ``--workers 2``, where each worker in turn is SIGKILLed alone
while the other serves (uvicorn starts a new one). Each run is bounded
by a hard timeout; ``make fault`` runs these alone.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.auth.session import create_session
from server.settings import Settings
from sync import db as sync_db
from sync.models import Conflict, Contact, Device, Role
from tests import factories
from tests.conftest import POSTGRES_URL, empty_database, free_port
from tests.fault.harness import SECRET, LossyProxy, Phone, ServeProcess, run_phone

pytestmark = pytest.mark.fault

PHONES_PER_USER = 2
USERS = 2
CREATIONS = 300  # contacts each phone logs (and it edits some of them as it goes)
DROP = 0.3
KILL_AT = (0.30, 0.65)  # share of all contacts acknowledged
TIMEOUT = 45  # seconds, the whole run of one backend


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres-2-workers", marks=pytest.mark.postgres),
    ]
)
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new migrated database of each backend, not connected (the server process owns it)."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PEERLOG_TEST_POSTGRES_URL is not set")
    like = POSTGRES_URL if request.param == "postgres" else "sqlite://"
    async with empty_database(like, tmp_path) as url:
        await sync_db.migrate(url)
        yield url


async def _seed(url: str, data_dir: Path) -> list[tuple[str, str, list[str]]]:
    """Two peer leaders with their participants; a session each. (user id, token, participants)"""
    settings = Settings(data_dir=data_dir, database_url=url, secret_key=SECRET)
    await sync_db.init(url)
    try:
        committee = await factories.committee()
        out = []
        for _ in range(USERS):
            leader = await factories.user(Role.PEER_LEADER, community=committee.community)
            people = [str((await factories.participant(committee, leader)).id) for _ in range(6)]
            out.append((str(leader.id), await create_session(leader, settings), people))
        return out
    finally:
        await sync_db.close()


async def test_nothing_lost_nothing_twice_through_lost_answers_and_kills(
    fresh_url: str, tmp_path: Path
) -> None:
    postgres = not fresh_url.startswith("sqlite")
    data_dir = tmp_path / "data"
    users = await _seed(fresh_url, data_dir)
    server_port = free_port()
    proxy = LossyProxy(server_port, DROP, seed=11)
    await proxy.start()
    server = ServeProcess(
        fresh_url,
        data_dir,
        server_port,
        origin=f"http://localhost:{proxy.port}",
        workers=2 if postgres else 1,
    )
    rng = random.Random(2026)
    phones = [
        Phone(
            name=f"phone{u}{p}",
            base_url=f"http://127.0.0.1:{proxy.port}",
            token=token,
            participants=people,
            rng=random.Random(rng.random()),
        )
        for u, (_user_id, token, people) in enumerate(users)
        for p in range(PHONES_PER_USER)
    ]
    owner = {phone.name: users[i // PHONES_PER_USER][0] for i, phone in enumerate(phones)}
    total = CREATIONS * len(phones)
    kills: list[str] = []
    killed: list[int] = []  # worker pids
    replaced: list[int] = []
    progressed = asyncio.Event()

    def acknowledged_creations() -> int:
        return sum(1 for phone in phones for v in phone.versions.values() if v > 0)

    async def faults() -> None:
        for share in KILL_AT:
            while acknowledged_creations() < share * total:
                progressed.clear()
                await progressed.wait()
            if postgres:
                # One worker at a time (the first, then the other original one): the other
                # goes on serving while uvicorn starts a new one.
                workers = server.workers_pids()
                assert len(workers) >= 1, workers
                victim = sorted(set(workers) - set(killed))[0]
                killed.append(victim)
                os.kill(victim, signal.SIGKILL)
                kills.append("one worker")
            else:
                await server.kill()
                kills.append("server")
                await server.start()

    try:
        async with asyncio.timeout(TIMEOUT):
            await server.start()
            fault_task = asyncio.create_task(faults())
            await asyncio.gather(*(run_phone(phone, CREATIONS, progressed.set) for phone in phones))
            await fault_task
            # Every phone pulls once more, after the others' last pushes.
            await asyncio.gather(*(phone.sync() for phone in phones))
            if postgres:
                replaced = server.workers_pids()
    except TimeoutError:
        waiting = {p.name: len(p.outbox) for p in phones}
        pytest.fail(
            f"the run did not finish in {TIMEOUT} s (kills: {kills}; mutations still queued: "
            f"{waiting}); the server's log ends:\n{server.log.read_text()[-1500:]}"
        )
    finally:
        await server.stop()
        await proxy.close()
        for phone in phones:
            await phone.close()

    print(
        f"{'postgres, 2 workers' if postgres else 'sqlite'}: "
        f"{sum(p.made for p in phones)} mutations from {len(phones)} phones; "
        f"{proxy.forwarded} answers, {proxy.dropped} lost after processing, "
        f"{proxy.upstream_failures} refused or cut by the kills ({', '.join(kills)}); "
        f"{sum(p.failures for p in phones)} retries"
    )
    # The run went through what it claims to.
    assert kills == (["one worker"] * 2 if postgres else ["server"] * 2)
    if postgres:  # uvicorn put two new workers in their place
        assert len(replaced) == 2 and not set(replaced) & set(killed), (replaced, killed)
    assert proxy.dropped > 0.2 * proxy.forwarded, (proxy.dropped, proxy.forwarded)

    await sync_db.init(fresh_url)
    try:
        for phone in phones:
            assert not phone.outbox, f"{phone.name} still holds {len(phone.outbox)} mutations"
            stored = {
                str(c["id"]): c
                for c in await Contact.filter(id__in=list(phone.planned)).values(
                    "id", "version", "note"
                )
            }
            lost = set(phone.planned) - set(stored)
            assert not lost, f"{phone.name}: {len(lost)} contacts lost"
            wrong = {
                rid: (stored[rid]["version"], 1 + plan.edits)
                for rid, plan in phone.planned.items()
                if stored[rid]["version"] != 1 + plan.edits or stored[rid]["note"] != plan.note
            }
            assert not wrong, f"{phone.name}: wrong versions or values (got, want): {wrong}"
            # The log holds each mutation id once: none applied twice, none skipped.
            logged = await sync_db_rows(
                "SELECT mutation_id, status FROM mutation WHERE device_id = {}", phone.device_id
            )
            ids = sorted(int(r["mutation_id"]) for r in logged)
            assert ids == list(range(1, phone.next_mutation_id)), (
                f"{phone.name}: {len(ids)} log rows for {phone.next_mutation_id - 1} mutations"
            )
            assert {r["status"] for r in logged} <= {"applied", "merged"}
            device = await Device.get(id=phone.device_id)
            assert device.last_mutation_id == phone.next_mutation_id - 1
        for user_id, _token, _people in users:
            made = {rid for p in phones if owner[p.name] == user_id for rid in p.planned}
            on_server = {
                str(c["id"]): c["version"]
                for c in await Contact.filter(peer_leader_id=user_id).values("id", "version")
            }
            # Nothing applied twice as a record either (a creation replayed as a new row).
            assert set(on_server) == made
            for phone in phones:
                if owner[phone.name] == user_id:
                    assert phone.pulled == on_server, f"{phone.name}'s pull differs"
        assert await Conflict.all().count() == 0
    finally:
        await sync_db.close()


async def sync_db_rows(sql: str, *params: str) -> list[dict[str, object]]:
    from tortoise import connections

    marks = ["$1"] if sync_db.dialect() == "postgres" else ["?"]
    conn = connections.get("default")
    return list(await conn.execute_query_dict(sql.format(*marks), list(params)))
