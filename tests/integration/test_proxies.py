"""``X-Forwarded-For`` is believed only from the proxies listed in ``PEERLOG_TRUSTED_PROXIES``.

uvicorn's own default believes it from 127.0.0.1: a client on the host, or behind a pass-through
proxy there, gave every request a new address and made 3,089 invite guesses in 10 s against a
limit of 30 a minute. Run as ``peerlog serve`` runs, in a child process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.settings import Settings, SettingsError
from tests.conftest import free_port
from tests.conftest import peerlog_serve as serve_process


@contextlib.asynccontextmanager
async def peerlog_serve(tmp_path: Path, **env: str) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    settings = {
        "PEERLOG_DATA_DIR": str(tmp_path / "data"),
        "PEERLOG_SECRET_KEY": "test-secret",
        "PEERLOG_ORIGIN": f"http://localhost:{port}",
        "PEERLOG_RATE_LIMIT_PER_MINUTE": "3",
        **env,
    }
    async with serve_process(port, settings) as client:
        yield client


async def _sign_in_attempts(client: httpx.AsyncClient, forwarded: list[str]) -> list[int]:
    return [
        (
            await client.post(
                "/api/auth/login/options", json={}, headers={"x-forwarded-for": address}
            )
        ).status_code
        for address in forwarded
    ]


async def test_a_forged_forwarded_address_does_not_reset_the_rate_limit(tmp_path: Path) -> None:
    async with peerlog_serve(tmp_path) as client:
        forged = [f"203.0.113.{n}" for n in range(1, 6)]
        assert await _sign_in_attempts(client, forged) == [200, 200, 200, 429, 429]
        invite = await client.post(
            "/api/auth/invites/AAAA-AAAA/options", headers={"x-forwarded-for": "198.51.100.7"}
        )
        assert invite.status_code != 429  # the invite bucket is counted apart, by the same key
        for n in range(4):
            await client.post(
                "/api/auth/invites/AAAA-AAAA/options",
                headers={"x-forwarded-for": f"198.51.100.{n + 10}"},
            )
        last = await client.post(
            "/api/auth/invites/AAAA-AAAA/options", headers={"x-forwarded-for": "198.51.100.99"}
        )
        assert last.status_code == 429


async def test_a_listed_proxy_is_believed(tmp_path: Path) -> None:
    async with peerlog_serve(tmp_path, PEERLOG_TRUSTED_PROXIES="127.0.0.1, ::1") as client:
        # Each client behind the proxy has its own count ...
        assert await _sign_in_attempts(client, [f"203.0.113.{n}" for n in range(1, 6)]) == [200] * 5
        # ... and one of them is limited on its own.
        assert await _sign_in_attempts(client, ["203.0.113.50"] * 4) == [200, 200, 200, 429]


def test_the_setting_takes_addresses_and_networks_only() -> None:
    assert Settings(trusted_proxies="").uvicorn_proxy_options() == {"proxy_headers": False}
    assert Settings(trusted_proxies=" 10.0.0.5, 10.1.0.0/16 ").uvicorn_proxy_options() == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.5,10.1.0.0/16",
    }
    for bad in ("proxy.internal", "10.1.0.1/16", "*"):
        with pytest.raises(SettingsError, match="PEERLOG_TRUSTED_PROXIES"):
            Settings(trusted_proxies=bad)
