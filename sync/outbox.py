"""The phone's outbox report (SPEC 3): every push and pull carries

    x-peerlog-outbox: waiting=3; oldest=2026-11-20T01:41:12.000Z

how many mutations wait on the phone and when the oldest of them was made. The device row keeps
the last report, so staff can see which phones hold records that have not arrived, and since when.

The header is advice from the phone, never a reason to refuse a sync: anything unreadable is
ignored as a whole (``parse`` answers None), whatever the rest of the request holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sync.models import Device

HEADER = "x-peerlog-outbox"

# Longer than any report a phone makes; a header beyond it is not read at all.
MAX_LENGTH = 200
# A queue this long is not a phone's: the number is a fault, not a figure to show.
MAX_WAITING = 10_000_000


@dataclass(frozen=True)
class OutboxReport:
    """What a phone said it holds: ``waiting`` mutations, the oldest made at ``oldest`` (UTC;
    None when nothing waits or the phone did not say)."""

    waiting: int
    oldest: datetime | None = None

    def after_push(self, sent: int) -> OutboxReport:
        """The queue once a push of ``sent`` mutations is answered 200: all of them leave it.
        When some remain (the next batch), the oldest time stays as a bound from below until
        the pull that follows reports the queue again."""
        left = max(0, self.waiting - sent)
        return OutboxReport(left, self.oldest if left else None)


def parse(raw: str | None, now: datetime | None = None) -> OutboxReport | None:
    """Read the header, leniently: ``waiting=N`` is required (a whole number), ``oldest=`` an
    ISO-8601 time (with an offset; one without is read as UTC), other keys are skipped. A time
    ahead of ``now`` (a phone with its clock wrong) is kept as ``now``. Anything else: None."""
    if not raw or len(raw) > MAX_LENGTH:
        return None
    values: dict[str, str] = {}
    for part in raw.split(";"):
        key, sep, value = part.partition("=")
        if not sep:
            if part.strip():
                return None
            continue
        values[key.strip().lower()] = value.strip()
    waiting_text = values.get("waiting", "")
    if not waiting_text.isascii() or not waiting_text.isdigit():
        return None
    waiting = int(waiting_text)
    if waiting > MAX_WAITING:
        return None
    oldest = None
    oldest_text = values.get("oldest", "")
    if oldest_text:
        try:
            oldest = datetime.fromisoformat(oldest_text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        oldest = oldest.astimezone(UTC)
        if oldest.year < 2000:
            return None
        now = now or datetime.now(UTC)
        if oldest > now:
            oldest = now
    if not waiting:
        oldest = None
    return OutboxReport(waiting, oldest)


# The device columns a report is kept in, in this order (``values``).
COLUMNS = ("outbox_waiting", "outbox_oldest_at", "outbox_reported_at")


def values(report: OutboxReport, now: datetime) -> list[object]:
    return [report.waiting, report.oldest, now]


async def remember(
    device_id: object, user_id: object, report: OutboxReport, now: datetime | None = None
) -> None:
    """Keep a report that came with a request that wrote nothing else (a push refused before
    its transaction): a phone whose pushes keep failing is exactly the one staff must see.
    Only the user's own live device row is touched."""
    await Device.filter(id=device_id, user_id=user_id, revoked_at=None).update(
        outbox_waiting=report.waiting,
        outbox_oldest_at=report.oldest,
        outbox_reported_at=now or datetime.now(UTC),
    )
