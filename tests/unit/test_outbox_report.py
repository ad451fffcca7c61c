"""The phone's outbox report header (SPEC 3) is read leniently: a good one gives the count and the
oldest time in UTC, anything unreadable is ignored as a whole."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync.outbox import OutboxReport, parse

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("waiting=0", OutboxReport(0, None)),
        (
            "waiting=3; oldest=2026-11-20T01:41:12.000Z",
            OutboxReport(3, datetime(2026, 11, 20, 1, 41, 12, tzinfo=UTC)),
        ),
        (
            "waiting=3;oldest=2026-11-20T09:41:12+08:00",
            OutboxReport(3, datetime(2026, 11, 20, 1, 41, 12, tzinfo=UTC)),
        ),
        (
            " Waiting = 2 ; OLDEST = 2026-11-20T01:00:00 ",
            OutboxReport(2, datetime(2026, 11, 20, 1, 0, tzinfo=UTC)),
        ),
        ("waiting=2", OutboxReport(2, None)),
        (
            "waiting=4; oldest=2026-11-20T01:00:00Z; app=1.2",
            OutboxReport(4, datetime(2026, 11, 20, 1, 0, tzinfo=UTC)),
        ),
        # Nothing waits: an oldest time means nothing.
        ("waiting=0; oldest=2026-11-20T01:00:00Z", OutboxReport(0, None)),
        # A phone whose clock runs ahead: its records cannot be from the future.
        ("waiting=1; oldest=2027-01-01T00:00:00Z", OutboxReport(1, NOW)),
    ],
)
def test_a_readable_report_gives_the_count_and_the_oldest_time_in_utc(
    header: str, expected: OutboxReport
) -> None:
    assert parse(header, NOW) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "waiting=",
        "waiting=-1",
        "waiting=1.5",
        "waiting=abc",
        "waiting=１２",  # full-width digits
        "waiting=99999999999",
        "oldest=2026-11-20T01:00:00Z",
        "waiting=2; oldest=yesterday",
        "waiting=2; oldest=0001-01-01T00:00:00Z",
        "waiting=2 oldest=2026-11-20T01:00:00Z",
        "garbage",
        "waiting=1; " + "x" * 300,
        "waiting=1\x00",
    ],
)
def test_an_unreadable_report_is_ignored_as_a_whole(header: str | None) -> None:
    assert parse(header, NOW) is None


def test_after_a_push_the_sent_records_leave_the_reported_queue() -> None:
    oldest = datetime(2026, 11, 20, tzinfo=UTC)
    assert OutboxReport(3, oldest).after_push(3) == OutboxReport(0, None)
    assert OutboxReport(700, oldest).after_push(500) == OutboxReport(200, oldest)
    assert OutboxReport(1, oldest).after_push(5) == OutboxReport(0, None)
