"""A database restored from an earlier copy loses no acknowledged record (SPEC 3, "Acknowledged
means durable, also across a restore"), on SQLite (`peerlog backup` / `peerlog restore`) and on
PostgreSQL (pg_dump / pg_restore / `peerlog after-restore`): the phone's re-sent mutations are
applied once each under the ids they had, the re-sending is audited, and a pull cursor from
before the restore answers a resync instead of skipping the changes numbered again."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import connections

from server.settings import Settings
from sync import cursor as cursors
from sync import db as sync_db
from sync import restore
from sync.models import AuditEvent, Conflict, Contact, DatabaseGeneration, Device, Mutation, Role
from tests import factories as f
from tests.integration.test_sync_helpers import contact_fields, mutation, pull_all, push

ROOT = Path(__file__).resolve().parents[2]


async def peerlog(database_url: str, data_dir: Path, *argv: str) -> tuple[int, str, str]:
    """The `peerlog` command line in its own process, on the test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERLOG_")}
    env |= {
        "PEERLOG_DATA_DIR": str(data_dir),
        "PEERLOG_DATABASE_URL": database_url,
        "PEERLOG_SECRET_KEY": "test-secret",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        *argv,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def tool(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()


class Backup:
    """An earlier copy of the test's database, made and put back with each backend's own tools
    (and Peerlog's commands), as an operator would."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.url = database_url
        self.data_dir = tmp_path / "data"
        self.postgres = not database_url.startswith("sqlite")
        self.file = tmp_path / ("peerlog.dump" if self.postgres else "backup.sqlite3")

    async def make(self) -> None:
        if self.postgres:
            await tool("pg_dump", "--format=custom", f"--file={self.file}", self.url)
        else:
            code, _out, err = await peerlog(self.url, self.data_dir, "backup", str(self.file))
            assert code == 0, err

    async def put_back(self) -> str:
        """Restore the copy; returns what the command printed."""
        # The test's own connections go, as a server's would be restarted (asyncpg's prepared
        # statements name tables that pg_restore drops and makes again).
        await sync_db.close()
        if self.postgres:
            await tool(
                "pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={self.url}",
                str(self.file),
            )  # fmt: skip
            code, out, err = await peerlog(self.url, self.data_dir, "after-restore")
        else:
            code, out, err = await peerlog(self.url, self.data_dir, "restore", str(self.file))
        assert code == 0, err
        await sync_db.init(self.url)
        return out


async def _phone(client: httpx.AsyncClient, settings: Settings) -> tuple[Any, Any, uuid.UUID]:
    leader = await f.user(Role.PEER_LEADER)
    committee = await f.committee(await leader.community)
    person = await f.participant(committee, peer_leader=leader)
    device_id = (await f.device(leader)).id
    await f.sign_in(client, leader, settings, device_id=device_id)
    return leader, person, device_id


async def _log_of(device_id: uuid.UUID) -> dict[int, str]:
    rows = await Mutation.filter(device_id=device_id).values("mutation_id", "record_id")
    return {int(r["mutation_id"]): str(r["record_id"]) for r in rows}


async def test_a_restored_copy_gets_back_every_acknowledged_contact_once_from_the_phone(
    client: httpx.AsyncClient, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    leader, person, device_id = await _phone(client, settings)
    backup = Backup(database_url, tmp_path)
    # The phone's sent log: every mutation the server acknowledged, as it sent it.
    sent = [
        mutation(i, "contact", uuid.uuid4(), contact_fields(person.id, duration_min=i))
        for i in range(1, 111)
    ]
    assert (await push(client, device_id, sent[:60])).status_code == 200
    await backup.make()
    answer = (await push(client, device_id, sent[60:])).json()
    assert answer["last_mutation_id"] == 110
    assert {r["status"] for r in answer["results"]} == {"applied"}
    acknowledged = await _log_of(device_id)
    _changes, old_cursor = await pull_all(client)

    printed = await backup.put_back()
    assert "new database generation" in printed
    assert await Contact.filter(peer_leader=leader).count() == 60  # 50 acknowledged, lost
    assert (await Device.get(id=device_id)).last_mutation_id == 60

    # The phone keeps working: its next contact skips ahead of the server's mark (409), which is
    # below the phone's acknowledged mark (110): it sends its sent log above 60 again, flagged,
    # under the same ids, before its queue.
    new = mutation(111, "contact", uuid.uuid4(), contact_fields(person.id))
    gap = await push(client, device_id, [new])
    assert gap.status_code == 409 and gap.json()["last_mutation_id"] == 60
    again = [{**m, "resend": True} for m in sent[60:]]
    answer = (await push(client, device_id, [*again, new])).json()
    assert answer["last_mutation_id"] == 111
    assert [r["status"] for r in answer["results"]] == ["applied"] * 51

    ids = [str(c) for c in await Contact.filter(peer_leader=leader).values_list("id", flat=True)]
    assert sorted(ids) == sorted([m["id"] for m in sent] + [new["id"]])  # each exactly once
    log = await _log_of(device_id)
    assert {k: log[k] for k in acknowledged} == acknowledged  # no mutation id reused
    events = await AuditEvent.filter(action="sync.resend").values("actor_id", "device_id", "detail")
    assert events == [
        {
            "actor_id": leader.id,
            "device_id": device_id,
            "detail": {
                "count": 50,
                "first_mutation_id": 61,
                "last_mutation_id": 110,
                "recreated": 50,
                "statuses": {"applied": 50},
            },
        }
    ]
    assert await AuditEvent.filter(action="database.restored").count() == 1

    # The pull cursor from before the restore would skip what is numbered again: resync.
    response = await client.get("/api/sync/pull", params={"cursor": old_cursor})
    assert response.json() == {"resync": True}
    pulled, _cursor = await pull_all(client)
    assert {c["id"] for c in pulled if c["entity"] == "contact"} == set(ids)


async def test_a_resent_creation_the_server_still_has_with_the_same_values_is_applied_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person, device_id = await _phone(client, settings)
    created = mutation(1, "contact", uuid.uuid4(), contact_fields(person.id, note="walked"))
    assert (await push(client, device_id, [created])).status_code == 200
    # A copy that kept the record but not the device's log of it (a log restored apart from
    # the records): the phone sends the creation again.
    await Mutation.filter(device_id=device_id).delete()
    await Device.filter(id=device_id).update(last_mutation_id=0)
    answer = (await push(client, device_id, [{**created, "resend": True}])).json()
    assert answer["results"] == [
        {"mutation_id": 1, "id": created["id"], "status": "applied", "version": 1}
    ]
    contact = await Contact.get(id=created["id"])
    assert contact.version == 1
    assert not await Conflict.exists()
    # Not flagged, the same creation is a second device's record: the rules as before.
    await Mutation.filter(device_id=device_id).delete()
    await Device.filter(id=device_id).update(last_mutation_id=0)
    plain = (await push(client, device_id, [created])).json()
    assert plain["results"][0]["status"] == "merged"
    # A re-sent creation with other values than the server's is no silent overwrite.
    await Mutation.filter(device_id=device_id).delete()
    await Device.filter(id=device_id).update(last_mutation_id=0)
    changed = {**created, "resend": True, "fields": {**created["fields"], "note": "by bus"}}
    result = (await push(client, device_id, [changed])).json()["results"][0]
    assert result["status"] == "conflict"


async def test_the_resend_audit_holds_counts_and_ids_never_values(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person, device_id = await _phone(client, settings)
    secret = "Zhang Wei lives at No. 5"
    batch = [
        {
            **mutation(1, "contact", uuid.uuid4(), contact_fields(person.id, note=secret)),
            "resend": True,
        }
    ]
    assert (await push(client, device_id, batch)).status_code == 200
    event = await AuditEvent.get(action="sync.resend")
    assert secret not in str(event.detail) and str(person.id) not in str(event.detail)
    assert event.detail["count"] == 1


# --- the pull cursor -----------------------------------------------------------------------------


async def _cursor(client: httpx.AsyncClient, settings: Settings) -> str:
    """A peer leader's cursor after pulling a contact they pushed (sequence number 2 or more)."""
    _leader, person, device_id = await _phone(client, settings)
    done = await push(
        client, device_id, [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
    )
    assert done.status_code == 200
    _changes, cursor = await pull_all(client)
    assert cursors.decode(cursor).seq >= 2
    return cursor


async def test_a_cursor_from_another_database_generation_answers_a_resync(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    cursor = await _cursor(client, settings)
    assert cursors.decode(cursor).generation == restore.FIRST
    generation = await restore.start_generation("after-restore")
    response = await client.get("/api/sync/pull", params={"cursor": cursor})
    assert response.json() == {"resync": True}
    event = await AuditEvent.filter(action="sync.pull").order_by("-id").first()
    assert event is not None and event.detail == {"count": 0, "resync": True, "reason": "restore"}
    _changes, fresh = await pull_all(client)
    assert cursors.decode(fresh).generation == generation
    assert (await client.get("/api/sync/pull", params={"cursor": fresh})).json()["changes"] == []


async def test_a_cursor_ahead_of_the_sequence_answers_a_resync(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    cursor = await _cursor(client, settings)
    # A copy put back without `peerlog after-restore`: same generation, lower sequence.
    await connections.get("default").execute_query(
        "UPDATE change_counter SET value = value - 1 WHERE name = 'global'"
    )
    assert (await client.get("/api/sync/pull", params={"cursor": cursor})).json() == {
        "resync": True
    }


async def test_a_cursor_made_before_generations_goes_on_where_it_was(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    cursor = cursors.decode(await _cursor(client, settings))
    # The format before this version: [1, seq, scope, token].
    import base64

    import msgspec

    old = base64.urlsafe_b64encode(
        msgspec.json.encode([1, cursor.seq, cursor.scope, cursor.token])
    ).decode()
    body = (await client.get("/api/sync/pull", params={"cursor": old})).json()
    assert body["changes"] == [] and "resync" not in body


# --- the commands --------------------------------------------------------------------------------


async def test_after_restore_starts_a_new_generation_each_time(db: str, tmp_path: Path) -> None:
    await sync_db.close()
    first = await peerlog(db, tmp_path / "data", "after-restore")
    second = await peerlog(db, tmp_path / "data", "after-restore")
    await sync_db.init(db)
    assert first[0] == second[0] == 0, first[2] + second[2]
    rows = await DatabaseGeneration.all().order_by("id").values_list("generation", "reason")
    assert [r[1] for r in rows] == ["after-restore", "after-restore"]
    assert rows[0][0] in first[1] and rows[1][0] in second[1]
    assert (await restore.position(connections.get("default")))[1] == rows[1][0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,phone\nZhang,139\n", "is not a SQLite database"),
        (None, "but not a Peerlog one"),
        ("missing", "there is no file at"),
    ],
)
async def test_restore_refuses_what_is_not_a_peerlog_backup_in_one_line(
    tmp_path: Path, content: bytes | str | None, message: str
) -> None:
    target = tmp_path / "data" / "peerlog.sqlite3"
    source = tmp_path / "file"
    if content is None:
        with sqlite3.connect(source) as other:
            other.execute("CREATE TABLE t (x)")
    elif isinstance(content, bytes):
        source.write_bytes(content)
    code, out, err = await peerlog(f"sqlite://{target}", tmp_path / "data", "restore", str(source))
    assert code == 2 and not out
    assert err.startswith("peerlog: ") and message in err and len(err.strip().splitlines()) == 1
    assert not target.exists()


async def test_restore_on_postgresql_points_to_pg_restore_and_after_restore(
    tmp_path: Path,
) -> None:
    code, _out, err = await peerlog(
        "postgres://peerlog@db.internal:5432/peerlog", tmp_path, "restore", "x.dump"
    )
    assert code == 2 and "pg_restore" in err and "peerlog after-restore" in err
