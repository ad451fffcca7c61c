"""The served app answers a real browser on localhost."""

from __future__ import annotations

from playwright.async_api import Page

from tests.conftest import LiveServer


async def test_chromium_reaches_the_live_server(live_server: LiveServer, phone: Page) -> None:
    response = await phone.goto(f"{live_server.url}/healthz")
    assert response is not None and response.status == 200
    assert "sqlite" in await phone.content()
