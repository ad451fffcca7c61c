"""A 500 leaves enough in the log to find the fault (exception type, file and line of each
frame) and nothing of the data that caused it (the exception's message may quote a record)."""

from __future__ import annotations

import logging

import httpx
import pytest
from litestar import Litestar, get

from server.auth.session import public

NAME, PHONE = "王建国", "13912345678"


def _parse(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise RuntimeError(f"cannot read the record of {NAME} ({PHONE})") from exc


@get("/boom", sync_to_thread=False, opt=public())
def boom() -> int:
    return _parse(f"{NAME} {PHONE}")


async def test_a_500_is_logged_with_file_and_line_but_no_values(
    app: Litestar, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.register(boom)
    with caplog.at_level(logging.ERROR, logger="peerlog.errors"):
        response = await client.get("/boom")
    assert response.status_code == 500
    assert NAME not in response.text and PHONE not in response.text
    [record] = [r for r in caplog.records if r.name == "peerlog.errors"]
    line = record.getMessage()
    assert "RuntimeError" in line and "ValueError" in line  # the cause too
    assert "tests/integration/test_error_logs.py:21 in _parse" in line  # the raise
    assert "test_error_logs.py:19 in _parse" in line  # where the cause was raised
    assert "in boom" in line
    assert NAME not in line and PHONE not in line and "invalid literal" not in line
    assert record.exc_info is None  # no traceback text with the messages in it
