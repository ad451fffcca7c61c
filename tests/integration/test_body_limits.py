"""A body over the limit gets a 413 that names the limit, also when it arrives slowly: never a
hang or a TCP reset (the server used to answer before reading, and stopped reading)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from server.app import body_limit
from sync.models import Role
from tests import factories
from tests.conftest import LiveServer

TEN_MB = 10 * 1024 * 1024


async def _post_slowly(server: LiveServer, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST 10 MB in 1 MB writes, as a phone on a slow link sends it, then read the answer."""
    parts = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"POST {path} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
        f"content-length: {TEN_MB}\r\n{head}\r\n".encode()
    )
    chunk = b"x" * (1024 * 1024)
    for _ in range(10):
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0.02)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    writer.close()
    return status, body


async def test_ten_megabytes_get_a_413_naming_the_limit(live_server: LiveServer) -> None:
    leader = await factories.user(Role.PEER_LEADER)
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        await factories.sign_in(client, leader, live_server.settings)
        cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        headers = {"cookie": cookies, "x-csrftoken": client.headers["x-csrftoken"]}
    push_limit = live_server.settings.max_push_bytes
    other_limit = body_limit(live_server.settings)
    for path, limit in (
        ("/api/sync/push", push_limit),
        ("/api/auth/login", other_limit),
        ("/api/auth/invites/K7P2-9QXD/register", other_limit),
    ):
        status, body = await asyncio.wait_for(_post_slowly(live_server, path, headers), 30)
        assert status == 413, (path, body[:200])
        assert f"at most {limit} bytes" in body.decode(), path
        assert b'"too_large"' in body
