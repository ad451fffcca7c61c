"""Browser fixtures: Debian's Chromium driven by Playwright's async API, phone-sized.

Every test here is marked ``e2e``. ``phone`` is a 360 px wide page; ``add_virtual_authenticator``
gives a page a platform passkey authenticator through CDP, as a phone's screen lock would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


# Without a network nothing leaves the phone. Playwright's offline emulation is set per target
# (the page, the service worker) and once let a push from a woken service worker reach the server
# in CI (microsoft/playwright#2311 is the long story), so offline also aborts every request the
# context makes, the worker's included, before it is sent.
async def _no_network(route: Route) -> None:
    await route.abort("internetdisconnected")


def offline_for_the_worker_too(context: BrowserContext) -> BrowserContext:
    emulate = context.set_offline

    async def set_offline(offline: bool) -> None:
        await emulate(offline)
        if offline:
            await context.route("**/*", _no_network)
        else:
            await context.unroute("**/*", _no_network)

    context.set_offline = set_offline  # type: ignore[method-assign]
    return context


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def phone_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = offline_for_the_worker_too(
        await browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[arg-type]
    )
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def phone(phone_context: BrowserContext) -> Page:
    return await phone_context.new_page()


async def add_virtual_authenticator(page: Page) -> tuple[Any, str]:
    """A CTAP2 platform authenticator with user verification; returns (CDP session, id)."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable", {"enableUI": False})
    result = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, result["authenticatorId"]
