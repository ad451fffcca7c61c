"""A new version of the app: the phone offers "reload", takes it only when asked, and the old
version's cache is removed."""

from __future__ import annotations

import dataclasses

import pytest
from playwright.async_api import BrowserContext, Page

from server import assets
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    program,
    sign_in_with_cookie,
    wait_controlled,
    wait_ready,
    wait_synced,
)


async def test_a_new_version_is_offered_and_old_caches_are_cleaned(
    live_server: LiveServer,
    phone_context: BrowserContext,
    phone: Page,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prog = await program(1)
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    old_caches = await phone.evaluate("() => caches.keys()")
    assert len(old_caches) == 1

    # Deploy a new version: the service worker's source changes, so does its cache name.
    current = assets.assets()["sw/sw.js"]
    changed = dataclasses.replace(
        current, body=current.body + b"\n// v2\n", digest=current.digest[::-1]
    )
    monkeypatch.setitem(assets.assets(), "sw/sw.js", changed)
    await phone.evaluate("() => navigator.serviceWorker.getRegistration().then((r) => r.update())")

    banner = phone.locator("#update")
    await banner.wait_for(state="visible")
    assert await phone.evaluate("() => caches.keys()") != old_caches  # new one ready, old kept
    await phone.evaluate("() => { window.__before_reload = true; }")
    await banner.locator("button").click()
    # The page reloads itself under the new worker...
    await phone.wait_for_function(
        "() => !window.__before_reload && navigator.serviceWorker.controller"
    )
    await wait_ready(phone)
    # ...which removed the old version's cache when it activated.
    for _ in range(100):
        keys = await phone.evaluate("() => caches.keys()")
        if len(keys) == 1 and keys != old_caches:
            break
        await phone.wait_for_timeout(50)
    assert len(keys) == 1 and keys != old_caches
