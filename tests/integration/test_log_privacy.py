"""``PEERLOG_LOG_LEVEL=DEBUG`` logs every SQL statement, and never a value: a real
``peerlog serve`` enrols, edits, finds and pulls a participant, and the log holds the statements
but not the name, the phone number or the note."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from server.auth.session import create_session
from server.settings import Settings
from sync import db as sync_db
from sync.models import Role
from tests import factories
from tests.conftest import free_port, peerlog_serve

NAME, PHONE, NOTE = "欧阳秀芝", "13987654321", "夜里低血糖两次"


async def test_debug_logs_statements_without_their_values(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'peerlog.sqlite3'}"
    await sync_db.migrate(url)
    await sync_db.init(url)
    port = free_port()
    settings = Settings(
        data_dir=tmp_path, database_url=url, secret_key="s", origin=f"http://localhost:{port}"
    )
    try:
        coordinator = await factories.user(Role.COORDINATOR)
        committee = await factories.committee(await coordinator.community)
        token = await create_session(coordinator, settings)
    finally:
        await sync_db.close()
    env = {
        "PEERLOG_DATABASE_URL": url,
        "PEERLOG_DATA_DIR": str(tmp_path),
        "PEERLOG_SECRET_KEY": "s",
        "PEERLOG_ORIGIN": f"http://localhost:{port}",
        "PEERLOG_LOG_LEVEL": "DEBUG",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        async with peerlog_serve(port, env, output=log_file, session=token) as c:
            pid = str(uuid.uuid4())
            fields = {
                "code": "LOG-1",
                "full_name": NAME,
                "phone": PHONE,
                "notes": NOTE,
                "committee_id": str(committee.id),
                "enrolled_on": "2026-05-01",
                "consent_on": "2026-05-01",
            }
            mutations = [
                {
                    "mutation_id": 1,
                    "entity": "participant",
                    "id": pid,
                    "base_version": 0,
                    "fields": fields,
                },
                {
                    "mutation_id": 2,
                    "entity": "participant",
                    "id": pid,
                    "base_version": 1,
                    "fields": {"notes": NOTE + "，已转介"},
                },
            ]
            body = {"device_id": str(uuid.uuid4()), "schema_version": 1, "mutations": mutations}
            pushed = await c.post("/api/sync/push", json=body)
            assert pushed.status_code == 200, pushed.text
            assert [r["status"] for r in pushed.json()["results"]] == ["applied", "applied"]
            assert (await c.post("/api/sync/push", json=body)).status_code == 200  # replay
            found = await c.get("/admin/participants", params={"q": NAME})
            assert "LOG-1" in found.text
            assert (await c.get("/api/sync/pull")).status_code == 200
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert "tortoise.db_client" in log and "INSERT INTO" in log and "FROM mutation" in log, log[
        -3000:
    ]
    assert "values not logged" in log
    for secret in (NAME, PHONE, NOTE, "LOG-1"):
        assert secret not in log, secret


def test_statement_texts_and_connection_lines_lose_their_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What Tortoise logs besides ``statement: values``: a script as its bare text (quoted
    literals in it), and the pool's parameters when it connects (a password among them)."""
    from sync import engine  # noqa: F401 - installs the filter

    sql = logging.getLogger("tortoise.db_client")
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        sql.debug(f"UPDATE participant SET full_name = '{NAME}', notes = 'it''s {NOTE}'")
        sql.debug("Created connection pool %s with params: %s", "pool", {"password": "hunter2"})
        sql.debug("%s: %s", "SELECT id FROM participant WHERE phone = $1", [PHONE])
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "UPDATE participant SET full_name = '?', notes = '?'" in text
    assert "SELECT id FROM participant WHERE phone = $1: [1 values not logged]" in text
    for secret in (NAME, NOTE, PHONE, "hunter2"):
        assert secret not in text
