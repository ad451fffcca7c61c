"""Settings are typed, read once from PEERLOG_* variables, and bad values are refused clearly."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server.settings import Settings, SettingsError


def test_defaults_use_sqlite_in_the_data_folder() -> None:
    s = Settings.from_env({})
    assert s.database_url == f"sqlite://{Path('./data') / 'peerlog.sqlite3'}"
    assert s.origin == "http://localhost:8000" and s.rp_id == "localhost"
    assert s.secure_cookies is False and s.overdue_days == 30
    # The program's days are Shanghai's, where the program and the demo are.
    assert s.timezone == "Asia/Shanghai" and s.zone == ZoneInfo("Asia/Shanghai")


def test_environment_values_are_parsed_with_their_types(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "PEERLOG_DATA_DIR": str(tmp_path),
            "PEERLOG_PORT": "9000",
            "PEERLOG_ORIGIN": "https://peer.example.org/",
            "PEERLOG_DATABASE_URL": "postgres://peerlog@db:5432/peerlog",
            "PEERLOG_OVERDUE_DAYS": "21",
            "PEERLOG_TIMEZONE": "Europe/Lisbon",
        }
    )
    assert s.data_dir == tmp_path and s.port == 9000 and s.overdue_days == 21
    assert s.zone == ZoneInfo("Europe/Lisbon")
    assert (
        s.origin == "https://peer.example.org"
        and s.rp_id == "peer.example.org"
        and s.secure_cookies
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PEERLOG_PORT": "eighty"}, "PEERLOG_PORT"),
        ({"PEERLOG_PORT": "0"}, "PEERLOG_PORT"),
        ({"PEERLOG_ORIGIN": "localhost:8000"}, "PEERLOG_ORIGIN"),
        ({"PEERLOG_DATABASE_URL": "mysql://x@y/z"}, "PEERLOG_DATABASE_URL"),
        ({"PEERLOG_DATABASE_URL": "postgres://host-without-db"}, "PEERLOG_DATABASE_URL"),
        ({"PEERLOG_LOG_LEVEL": "LOUD"}, "PEERLOG_LOG_LEVEL"),
        ({"PEERLOG_SESSION_IDLE_MINUTES": "-5"}, "PEERLOG_SESSION_IDLE_MINUTES"),
        ({"PEERLOG_TIMEZONE": "Mars/Olympus_Mons"}, "PEERLOG_TIMEZONE"),
        ({"PEERLOG_TIMEZONE": "CST"}, "PEERLOG_TIMEZONE"),
        ({"PEERLOG_TIMEZONE": "../../etc/passwd"}, "PEERLOG_TIMEZONE"),
        ({"PEERLOG_TIMEZONE": "zone.tab"}, "PEERLOG_TIMEZONE"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(env)


def test_every_setting_is_documented() -> None:
    for name, _default, doc in Settings.documentation():
        assert name.startswith("PEERLOG_") and doc, name


def test_an_unknown_time_zone_is_refused_in_one_line_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(timezone="Asia/Shangai")
    message = str(refused.value)
    assert message.startswith("PEERLOG_TIMEZONE ") and "'Asia/Shangai'" in message
    assert "\n" not in message and "Asia/Shanghai" in message  # names a valid example


def test_the_readme_table_is_the_settings_documentation() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `PEERLOG_")]
    assert table == [
        f"| `{name}` | {f'`{default}`' if default else '(none)'} | {doc} |"
        for name, default, doc in Settings.documentation()
    ], "regenerate the README's settings table from Settings.documentation()"
