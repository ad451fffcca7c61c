"""Fixed-window rate limits kept in the database, so every server process counts together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from sync.models import RateLimit

WINDOW_SECONDS = 60


class RateLimited(HTTPException):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            detail=f"Too many attempts. Wait {retry_after} seconds and try again.",
            headers={"Retry-After": str(retry_after)},
            extra={"error": "rate_limited", "retry_after": retry_after},
        )


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    # The forwarded address only from a proxy listed in PEERLOG_TRUSTED_PROXIES (uvicorn
    # rewrites the client then; see Settings.uvicorn_proxy_options), else the peer's own.
    return connection.client.host if connection.client else "unknown"


async def hit(bucket: str, who: str, limit: int) -> None:
    """Count one attempt; raise ``RateLimited`` (429 with Retry-After) past ``limit`` a minute."""
    now = datetime.now(UTC)
    epoch = int(now.timestamp()) // WINDOW_SECONDS
    window_start = datetime.fromtimestamp(epoch * WINDOW_SECONDS, UTC)
    # The window is part of the key: a new minute is a new row, so counting is one UPDATE
    # (atomic in every database) and no process ever has to reset another's counter.
    key = f"{bucket}:{who}:{epoch}"[:128]
    updated = await RateLimit.filter(key=key).update(count=F("count") + 1)
    if not updated:
        try:
            await RateLimit.create(key=key, window_start=window_start, count=1)
        except IntegrityError:  # another process made the row first
            await RateLimit.filter(key=key).update(count=F("count") + 1)
        if epoch % 10 == 0:
            await RateLimit.filter(window_start__lt=now - timedelta(minutes=10)).delete()
    row = await RateLimit.get(key=key)
    if row.count > limit:
        retry_after = max(1, WINDOW_SECONDS - int((now - window_start).total_seconds()))
        raise RateLimited(retry_after)
