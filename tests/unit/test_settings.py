"""Settings are typed, read once from PEERLOG_* variables, and bad values are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError


def test_defaults_use_sqlite_in_the_data_folder() -> None:
    s = Settings.from_env({})
    assert s.database_url == f"sqlite://{Path('./data') / 'peerlog.sqlite3'}"
    assert s.origin == "http://localhost:8000" and s.rp_id == "localhost"
    assert s.secure_cookies is False and s.overdue_days == 30


def test_environment_values_are_parsed_with_their_types(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "PEERLOG_DATA_DIR": str(tmp_path),
            "PEERLOG_PORT": "9000",
            "PEERLOG_ORIGIN": "https://peer.example.org/",
            "PEERLOG_DATABASE_URL": "postgres://peerlog@db:5432/peerlog",
            "PEERLOG_OVERDUE_DAYS": "21",
        }
    )
    assert s.data_dir == tmp_path and s.port == 9000 and s.overdue_days == 21
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
    ],
)
def test_bad_values_are_refused_naming_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(env)


def test_every_setting_is_documented() -> None:
    for name, _default, doc in Settings.documentation():
        assert name.startswith("PEERLOG_") and doc, name
