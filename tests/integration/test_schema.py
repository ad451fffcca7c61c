"""SQLite and PostgreSQL hold the same schema: every table's columns (and whether they may be
null), primary key, unique constraints, indexes and foreign keys, as the migrations leave them.
SQLite rebuilds a table to alter a column, and the copy keeps only what the migration recreates:
migration 0002 lost the mutation log's UNIQUE(device_id, mutation_id) and its indexes that way,
and 0009 restores them. The push's reads of the log use those indexes."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import Tortoise, connections
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api import migrate as tortoise_migrate

from sync import db as sync_db
from sync.models import AuditEvent, Conflict, Device, Mutation, Role, User
from tests import factories
from tests.conftest import POSTGRES_URL, empty_database

ROOT = Path(__file__).resolve().parents[2]
Schema = dict[str, dict[str, Any]]

# The one difference on purpose: 0002 dropped the mutation log's foreign keys on PostgreSQL,
# where they were a third of the cost of writing the log; SQLite keeps them (dropping them there
# means rebuilding the table, which is what lost its indexes).
SQLITE_ONLY_FOREIGN_KEYS = {
    "mutation": {
        (("device_id",), "device", ("id",), "RESTRICT"),
        (("user_id",), "users", ("id",), "RESTRICT"),
    }
}


EVALUATION_TABLES = {
    "measurement",
    "instrument",
    "assessment",
    "group_activity",
    "supervision",
    "training",
    "implementation_rating",
}


def sqlite_schema(path: str) -> Schema:
    out: Schema = {}
    with sqlite3.connect(path) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
            columns = {r[1]: not r[3] and not r[5] for r in info}  # name → nullable
            primary = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
            unique, indexes = set(), set()
            for _seq, name, is_unique, origin, _partial in conn.execute(
                f'PRAGMA index_list("{table}")'
            ):
                cols = tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{name}")'))
                if origin == "pk":
                    continue
                (unique if is_unique else indexes).add(cols)
            foreign = {
                ((r[3],), r[2], (r[4],), r[6].upper())
                for r in conn.execute(f'PRAGMA foreign_key_list("{table}")')
            }
            out[table] = {
                "columns": columns,
                "primary": primary,
                "unique": unique - {primary},
                "indexes": indexes,
                "foreign": foreign,
            }
    return out


_PG_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


async def postgres_schema(url: str) -> Schema:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        out: Schema = {}
        for r in await conn.fetch(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ):
            table = out.setdefault(
                r["table_name"],
                {"columns": {}, "primary": (), "unique": set(), "indexes": set(), "foreign": set()},
            )
            table["columns"][r["column_name"]] = r["is_nullable"] == "YES"
        for r in await conn.fetch(
            "SELECT t.relname AS tbl, ix.indisunique AS uniq, ix.indisprimary AS prim, "
            "ARRAY(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(num, pos) "
            "      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.num "
            "      ORDER BY k.pos) AS cols "
            "FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public'"
        ):
            table = out[r["tbl"]]
            cols = tuple(r["cols"])
            if r["prim"]:
                table["primary"] = cols
            else:
                table["unique" if r["uniq"] else "indexes"].add(cols)
        for r in await conn.fetch(
            "SELECT c.conrelid::regclass::text AS tbl, c.confrelid::regclass::text AS ref, "
            "c.confdeltype AS on_delete, "
            "ARRAY(SELECT a.attname FROM unnest(c.conkey) AS k(num) JOIN pg_attribute a "
            "      ON a.attrelid = c.conrelid AND a.attnum = k.num) AS cols, "
            "ARRAY(SELECT a.attname FROM unnest(c.confkey) AS k(num) JOIN pg_attribute a "
            "      ON a.attrelid = c.confrelid AND a.attnum = k.num) AS ref_cols "
            "FROM pg_constraint c WHERE c.contype = 'f' "
            "AND c.connamespace = 'public'::regnamespace"
        ):
            out[r["tbl"].strip('"')]["foreign"].add(
                (
                    tuple(r["cols"]),
                    r["ref"].strip('"'),
                    tuple(r["ref_cols"]),
                    _PG_ACTIONS[
                        r["on_delete"].decode()
                        if isinstance(r["on_delete"], bytes)
                        else r["on_delete"]
                    ],
                )
            )
        for table in out.values():
            table["unique"] -= {table["primary"]}
        return out
    finally:
        await conn.close()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PEERLOG_TEST_POSTGRES_URL")
async def test_sqlite_and_postgres_have_the_same_constraints_and_indexes(tmp_path: Path) -> None:
    lite_path = tmp_path / "schema.sqlite3"
    await sync_db.migrate(f"sqlite://{lite_path}")
    lite = sqlite_schema(str(lite_path))
    async with empty_database(POSTGRES_URL, tmp_path) as url:
        await sync_db.migrate(url)
        pg = await postgres_schema(url)
    for table, extra in SQLITE_ONLY_FOREIGN_KEYS.items():
        assert extra <= lite[table]["foreign"], table
        lite[table]["foreign"] -= extra
    assert sorted(lite) == sorted(pg)
    # The evaluation records (0010) are compared like the rest, each with the index its scope
    # scans read.
    assert set(lite) >= EVALUATION_TABLES
    for table in EVALUATION_TABLES - {"instrument"}:
        assert ("community_id", "seq") in lite[table]["indexes"], table
    for table in sorted(lite):
        for part in ("columns", "primary", "unique", "indexes", "foreign"):
            assert lite[table][part] == pg[table][part], f"{table} {part}"


async def test_the_mutation_log_has_its_rules_on_every_database(db: str) -> None:
    """A second row for a device's mutation id is refused by the database itself."""
    user = await factories.user(Role.PEER_LEADER)
    device = await factories.device(user)
    row = dict(
        device_id=device.id,
        mutation_id=1,
        user_id=user.id,
        entity="contact",
        record_id=uuid.uuid4(),
        version=1,
        status="applied",
    )
    await Mutation.create(**row)
    with pytest.raises(IntegrityError):
        await Mutation.create(**row)


async def _log_twice_the_same_mutation() -> tuple[User, Device]:
    user = await User.create(username="before", display_name="Before", role=Role.PEER_LEADER)
    device = await Device.create(id=uuid.uuid4(), user=user)
    for _ in range(2):
        await Mutation.create(
            device=device,
            mutation_id=7,
            user=user,
            entity="contact",
            record_id=uuid.uuid4(),
            version=1,
            status="applied",
        )
    return user, device


async def test_upgrading_restores_the_log_rules_or_refuses_duplicates(
    database_url: str, tmp_path: Path
) -> None:
    """From 0008: on SQLite a log holding a device's mutation id twice stops the migration with
    one line naming the device and the mutation, and nothing is deleted; once a person removed
    the extra row, the migration makes the unique index and the indexes. On PostgreSQL, which
    kept them, it changes nothing."""
    await tortoise_migrate(
        config=sync_db.tortoise_config(database_url), target="models.0008_poison"
    )
    await Tortoise.close_connections()
    await sync_db.init(database_url)
    try:
        if sync_db.dialect() == "sqlite":
            _, device = await _log_twice_the_same_mutation()
        else:
            user = await User.create(username="before", display_name="B", role=Role.PEER_LEADER)
            device = await Device.create(id=uuid.uuid4(), user=user)
            await Mutation.create(
                device=device,
                mutation_id=7,
                user=user,
                entity="contact",
                record_id=uuid.uuid4(),
                version=1,
                status="applied",
            )
    finally:
        await sync_db.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERLOG_")}
    env.update(PEERLOG_DATABASE_URL=database_url, PEERLOG_DATA_DIR=str(tmp_path / "data"))
    if database_url.startswith("sqlite"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        lines = err.decode().strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, err.decode()
        assert lines[0].startswith("peerlog: cannot migrate the database")
        assert f"device {device.id} mutation 7 (2 rows)" in lines[0]
        assert "Nothing was changed" in lines[0]
        path = database_url[len("sqlite://") :]
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM mutation").fetchone() == (2,)
            applied = [r[0] for r in conn.execute("SELECT name FROM tortoise_migrations")]
            assert "0009_durability" not in applied
            conn.execute("DELETE FROM mutation WHERE id = (SELECT MAX(id) FROM mutation)")
        assert sqlite_schema(path)["mutation"]["unique"] == set()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    if database_url.startswith("sqlite"):
        log = sqlite_schema(database_url[len("sqlite://") :])["mutation"]
    else:
        log = (await postgres_schema(database_url))["mutation"]
    assert log["unique"] == {("device_id", "mutation_id")}
    assert log["indexes"] == {
        ("record_id", "version"),  # every row but creations (0011)
        ("user_id", "received_at"),
        ("received_at",),
    }
    await sync_db.init(database_url)
    try:
        assert await Mutation.all().count() == 1
    finally:
        await sync_db.close()


class _Statements(logging.Handler):
    """The SQL text of every statement the ORM's connection runs (Tortoise logs each one)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and record.args:
            self.seen.append(str(record.args[0]))


@pytest.fixture
def statements() -> Iterator[_Statements]:
    logger = logging.getLogger("tortoise.db_client")
    handler, level = _Statements(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_the_push_reads_the_log_through_its_indexes(
    client: httpx.AsyncClient, settings: Any, db: str, statements: _Statements
) -> None:
    """A replayed batch (looked up by device and mutation id) and a stale edit (its record's
    history by entity, record and version) are index searches, never a scan of the whole log."""
    from tests.integration.test_sync_helpers import contact_fields, mutation, push

    leader = await factories.user(Role.PEER_LEADER)
    person = await factories.participant(
        await factories.committee(await leader.community), peer_leader=leader
    )
    await factories.sign_in(client, leader, settings)
    device_id, contact = uuid.uuid4(), uuid.uuid4()
    batch = [
        mutation(1, "contact", contact, contact_fields(person.id)),
        mutation(2, "contact", contact, {"note": "first"}, base_version=1),
    ]
    assert (await push(client, device_id, batch)).status_code == 200
    statements.seen.clear()
    stale = [mutation(3, "contact", contact, {"duration_min": 30}, base_version=1)]
    assert (await push(client, device_id, batch + stale)).json()["results"][2]["status"] == "merged"
    reads = sorted({s for s in statements.seen if "FROM mutation" in s})
    assert any("mutation_id" in s for s in reads) and any("version >" in s for s in reads)
    for sql in reads:
        await _assert_indexed(sql, db)


async def _assert_indexed(sql: str, db: str) -> None:
    """``sql`` (with its placeholders) reads the mutation log through an index, never a scan."""
    if sync_db.dialect() == "sqlite":
        plan = await connections.get("default").execute_query_dict(
            f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?")
        )
        details = [r["detail"] for r in plan]
        log_steps = [d for d in details if "mutation" in d and "mutation__user" not in d]
        assert log_steps and all(
            "USING INDEX" in d or "USING COVERING INDEX" in d for d in log_steps
        ), (sql, details)
        return
    import asyncpg

    conn = await asyncpg.connect(db.replace("postgres://", "postgresql://", 1))
    try:
        # A handful of rows: the planner would rightly scan them. Forbidding the scan
        # shows whether an index can answer the query at all.
        # The generic plan (what a prepared statement runs), with nothing folded.
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE log_read AS {sql}")
        nulls = ", ".join(["NULL"] * len(set(re.findall(r"\$\d+", sql))))
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE log_read({nulls})"))
    finally:
        await conn.close()
    assert "Seq Scan on mutation" not in plan and "Index" in plan, (sql, plan)


async def test_the_audit_record_filter_reads_the_log_through_its_indexes(
    client: httpx.AsyncClient, settings: Any, db: str, statements: _Statements
) -> None:
    """The audit page's record filter lists a record's creation, edits, an edit that changed
    nothing and a rejection: the rows that are not a creation through the partial index that
    leaves creations out (0011), the creation through the record's ``created_at`` and the
    ``received_at`` index; never a scan of the whole log."""
    from tests.integration.test_sync_helpers import contact_fields, mutation, push

    leader = await factories.user(Role.PEER_LEADER)
    person = await factories.participant(
        await factories.committee(await leader.community), peer_leader=leader
    )
    await factories.sign_in(client, leader, settings)
    device_id, contact, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    batch = [
        mutation(1, "contact", contact, contact_fields(person.id)),
        mutation(2, "contact", other, contact_fields(person.id)),
        mutation(3, "contact", contact, {"note": "first"}, base_version=1),
        mutation(4, "contact", contact, {"note": "first"}, base_version=2),
        mutation(5, "contact", contact, {"duration_min": 100000}, base_version=2),
    ]
    results = (await push(client, device_id, batch)).json()["results"]
    assert [r["status"] for r in results] == ["applied"] * 4 + ["rejected"]
    logged = {
        m.mutation_id: m.changes
        for m in await Mutation.filter(device_id=device_id).order_by("mutation_id")
    }
    # NULL only for the creations (0011): the others keep their changes, or {}.
    assert logged == {1: None, 2: None, 3: {"note": [None, "first"]}, 4: {}, 5: {}}
    client.cookies.clear()
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    statements.seen.clear()
    html = (await client.get(f"/admin/audit?record={contact}")).text
    listed = html.split('id="audit"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert re.findall(r"<td>(sync\.[a-z]+)</td>", listed) == [
        "sync.rejected",
        "sync.applied",
        "sync.applied",
        "sync.applied",
    ]
    assert listed.count("created=True") == 1 and str(other)[:8] not in listed
    reads = sorted({s for s in statements.seen if 'FROM "mutation"' in s})
    assert len(reads) == 2, reads
    for sql in reads:
        await _assert_indexed(sql, db)


async def test_the_logs_hold_the_longest_entity_name_on_every_database(db: str) -> None:
    """0010 widened the logs' ``entity`` columns: PostgreSQL enforces a VARCHAR's length, and
    ``implementation_rating`` is longer than the 16 characters they had."""
    user = await factories.user(Role.COORDINATOR)
    device = await factories.device(user)
    entity = "implementation_rating"
    record = uuid.uuid4()
    await Mutation.create(
        device_id=device.id,
        mutation_id=1,
        user_id=user.id,
        entity=entity,
        record_id=record,
        version=1,
        status="applied",
    )
    await Conflict.create(
        id=uuid.uuid4(),
        entity=entity,
        record_id=record,
        base_version=1,
        server_version=2,
        user_id=user.id,
    )
    await AuditEvent.create(action="sync.applied", entity=entity, record_id=str(record))
    for model in (Mutation, Conflict, AuditEvent):
        assert await model.filter(entity=entity).count() == 1, model.__name__
