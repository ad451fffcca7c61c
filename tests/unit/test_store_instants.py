"""The SQLite writer's shortcut for instants stores the text SQLite's adapter would have made."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import tortoise.backends.sqlite.executor  # noqa: F401 (registers the adapters the app writes with)
from hypothesis import given
from hypothesis import strategies as st

from sync import store
from sync.validate import canonical_instant

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(timezones=offsets))
def test_a_canonical_instant_is_stored_as_its_datetime_would_be(at: datetime) -> None:
    (convert,) = store.Dialect("sqlite").converters("contact", ["occurred_at"])
    assert convert is not None
    with sqlite3.connect(":memory:") as conn:
        stored = conn.execute("SELECT ?, ?", [convert(canonical_instant(at)), at.astimezone(UTC)])
        shortcut, adapted = stored.fetchone()
    assert shortcut == adapted


def test_other_values_still_go_through_a_datetime() -> None:
    (convert,) = store.Dialect("sqlite").converters("contact", ["occurred_at"])
    assert convert is not None
    assert convert("2026-11-20T09:30:00+08:00") == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    moment = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert convert(moment) is moment
