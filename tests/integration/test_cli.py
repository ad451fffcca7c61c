"""The `peerlog` command line: user mistakes are one clear line and a non-zero exit, never a
traceback; the happy paths do what the README says."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest

from server.cli import main
from tests.conftest import free_port

INVITE_LINK = re.compile(r"^http://localhost:8000/invite/[2-9A-Z]{4}-[2-9A-Z]{4}\b")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PEERLOG_* pointed at a fresh folder: the command line finds its SQLite database there."""
    for name in list(os.environ):
        if name.startswith("PEERLOG_") and name != "PEERLOG_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    folder = tmp_path / "data"
    monkeypatch.setenv("PEERLOG_DATA_DIR", str(folder))
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("peerlog: ")
    for fragment in fragments:
        assert fragment in lines[0]


# --- happy paths, in process -----------------------------------------------------------------------


def test_migrate_creates_the_database_in_the_data_folder(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "migrate") == (0, "database is up to date\n", "")
    assert (data_dir / "peerlog.sqlite3").exists()
    assert run(capsys, "migrate")[0] == 0  # again: nothing to do


def test_create_user_then_invite_prints_a_one_time_link(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "create-user", "mei", "--role", "admin")
    assert (code, out, err) == (0, "created admin mei\n", "")
    code, out, err = run(capsys, "invite", "mei")
    assert code == 0 and not err
    assert INVITE_LINK.match(out), out
    code, again, _ = run(capsys, "invite", "mei")
    assert code == 0 and again.split()[0] != out.split()[0]


def test_demo_if_empty_fills_once_then_says_it_is_already_there(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "demo", "--if-empty")
    assert code == 0 and not err
    links = [line for line in out.splitlines() if "/invite/" in line]
    assert [line.split()[0] for line in links] == ["admin", "coordinator", "peer", "volunteer"]
    assert all(INVITE_LINK.match(line.split()[-1]) for line in links)

    code, out, err = run(capsys, "demo", "--if-empty")
    assert code == 0 and not err
    assert out.strip().splitlines() == [
        "Demo data is already there; for a fresh sign-in link run `peerlog invite admin`."
    ]
    # The demo users can be invited again by name, and volunteers be made for demo committees.
    assert INVITE_LINK.match(run(capsys, "invite", "peer")[1])
    assert run(capsys, "create-user", "li", "--role", "volunteer", "--committee", "CF-01")[0] == 0


# --- user mistakes, in process ---------------------------------------------------------------------


def test_an_unknown_role_is_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "create-user", "zhang", "--role", "doctor")
    assert_one_line_error(code, err, "unknown role 'doctor'", "peer_leader")
    assert not out


def test_a_duplicate_user_is_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "create-user", "zhang", "--role", "admin")[0] == 0
    code, _, err = run(capsys, "create-user", "zhang", "--role", "admin")
    assert_one_line_error(code, err, "'zhang' already exists")


def test_a_missing_community_is_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "create-user", "wu", "--role", "coordinator", "--community", "XX")
    assert_one_line_error(code, err, "no community with code 'XX'")
    code, _, err = run(capsys, "create-user", "wu", "--role", "coordinator")
    assert_one_line_error(code, err, "--community")
    code, _, err = run(capsys, "create-user", "wu", "--role", "volunteer", "--committee", "XX-01")
    assert_one_line_error(code, err, "no residential committee with code 'XX-01'")


def test_inviting_an_unknown_user_is_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "invite", "nobody")
    assert_one_line_error(code, err, "no user named 'nobody'", "create-user")
    assert not out


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root@localhost/peerlog", "PEERLOG_DATABASE_URL must be"),
        ("sqlite://", "needs a file path"),
        ("postgres://peerlog@127.0.0.1:{port}/peerlog", "cannot open the database"),
    ],
)
def test_a_bad_database_url_is_one_line(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    says: str,
) -> None:
    monkeypatch.setenv("PEERLOG_DATABASE_URL", url.format(port=free_port()))
    for argv in (["migrate"], ["create-user", "a", "--role", "admin"], ["demo"]):
        code, _, err = run(capsys, *argv)
        assert_one_line_error(code, err, says)
        assert "peerlog@" not in err  # credentials are not echoed


def test_a_database_file_that_cannot_be_made_is_one_line(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "plain-file").write_text("")
    monkeypatch.setenv("PEERLOG_DATABASE_URL", f"sqlite://{tmp_path / 'plain-file' / 'db.sqlite3'}")
    code, _, err = run(capsys, "migrate")
    assert_one_line_error(code, err, "is not a folder")


def test_a_bad_setting_is_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEERLOG_PORT", "eighty")
    code, _, err = run(capsys, "migrate")
    assert_one_line_error(code, err, "PEERLOG_PORT")


def test_an_unknown_time_zone_is_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEERLOG_TIMEZONE", "Shanghai")
    code, _, err = run(capsys, "export", "contacts")
    assert_one_line_error(code, err, "PEERLOG_TIMEZONE", "'Shanghai'")


def test_the_demo_refuses_a_database_that_already_has_users(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "create-user", "root", "--role", "admin")[0] == 0
    code, _, err = run(capsys, "demo")
    assert_one_line_error(code, err, "already has users")


def test_several_workers_on_sqlite_is_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "serve", "--workers", "2")
    assert_one_line_error(code, err, "PostgreSQL")


# --- as a real process -----------------------------------------------------------------------------


async def peerlog(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    """Run `python -m server …` (what the `peerlog` script runs) in a child process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERLOG_")}
    return {**env, "PEERLOG_DATA_DIR": str(tmp_path / "data"), **extra}


async def test_as_a_process_mistakes_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path)
    code, _, err = await peerlog(env, "create-user", "zhang", "--role", "doctor")
    assert_one_line_error(code, err, "unknown role")
    code, _, err = await peerlog(env, "invite", "nobody")
    assert_one_line_error(code, err, "no user named 'nobody'")
    bad = _env(tmp_path, PEERLOG_DATABASE_URL=f"postgres://p@127.0.0.1:{free_port()}/x")
    code, _, err = await peerlog(bad, "migrate")
    assert_one_line_error(code, err, "cannot open the database")


async def test_as_a_process_on_each_backend_users_are_created_and_invited(
    database_url: str, tmp_path: Path
) -> None:
    env = _env(tmp_path, PEERLOG_DATABASE_URL=database_url, PEERLOG_ORIGIN="https://peer.example")
    assert await peerlog(env, "migrate") == (0, "database is up to date\n", "")
    assert (await peerlog(env, "create-user", "ana", "--role", "admin"))[0] == 0
    code, out, err = await peerlog(env, "invite", "ana")
    assert code == 0 and not err
    assert re.match(r"^https://peer\.example/invite/[2-9A-Z]{4}-[2-9A-Z]{4}\b", out)
    code, _, err = await peerlog(env, "create-user", "ana", "--role", "admin")
    assert_one_line_error(code, err, "already exists")


async def test_as_a_process_demo_if_empty_twice(tmp_path: Path) -> None:
    env = _env(tmp_path)
    code, out, err = await peerlog(env, "demo", "--if-empty")
    assert code == 0 and not err
    assert len(re.findall(r"http://localhost:8000/invite/", out)) == 4
    code, out, err = await peerlog(env, "demo", "--if-empty")
    assert (code, err) == (0, "") and len(out.strip().splitlines()) == 1
    assert "peerlog invite admin" in out


def test_backup_copies_the_sqlite_database_and_refuses_to_overwrite(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "create-user", "mei", "--role", "admin")[0] == 0
    target = tmp_path / "peerlog-2026-11-23.sqlite3"
    code, out, err = run(capsys, "backup", str(target))
    assert code == 0 and not err and str(target) in out
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT username FROM users").fetchall() == [("mei",)]
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not list(tmp_path.glob("*.partial"))
    code, _, err = run(capsys, "backup", str(target))
    assert_one_line_error(code, err, "exists already")


def test_backup_on_postgresql_points_to_pg_dump(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PEERLOG_DATABASE_URL", "postgres://peerlog@db.internal:5432/peerlog")
    code, _, err = run(capsys, "backup", "x.dump")
    assert_one_line_error(code, err, "pg_dump")


async def _serve_banner(env: dict[str, str]) -> str:
    """What `peerlog serve` prints before it serves (a real process, stopped afterwards)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "serve",
        "--port",
        str(free_port()),
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while not lines or not lines[-1].startswith("Peerlog on"):
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
            assert line, "serve ended before serving: " + "".join(lines)
            lines.append(line.decode())
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=30)
    return "".join(lines)


async def test_serve_on_an_empty_database_says_how_the_first_administrator_gets_in(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    banner = await _serve_banner(env)
    assert "No administrator yet" in banner
    assert "peerlog create-user NAME --role admin" in banner and "peerlog invite NAME" in banner
    assert (await peerlog(env, "create-user", "ana", "--role", "admin"))[0] == 0
    assert "No administrator yet" not in await _serve_banner(env)
