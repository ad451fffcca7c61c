"""Helpers the phone-app browser tests share (no tests here): a small program to work in,
signing a phone in, and waiting for the service worker and for sync."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import BrowserContext, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from server.auth.session import SESSION_COOKIE, create_session
from sync.models import Group, Participant, Role, User
from tests import factories
from tests.conftest import LiveServer


@dataclass
class Program:
    leader: User
    group: Group
    participants: list[Participant] = field(default_factory=list)


async def program(n: int = 3) -> Program:
    """A peer leader leading one group of ``n`` participants assigned to them."""
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    group = await factories.group(community, leader)
    people = [
        await factories.participant(committee, leader, group=group, full_name=f"Zhang Wei {i}")
        for i in range(n)
    ]
    return Program(leader, group, people)


async def sign_in_with_cookie(context: BrowserContext, server: LiveServer, who: User) -> None:
    """A session cookie, as the passkey sign-in would leave (for tests not about sign-in)."""
    token = await create_session(who, server.settings)
    await context.add_cookies(
        [{"name": SESSION_COOKIE, "value": token, "url": server.url, "httpOnly": True}]
    )


async def wait_controlled(page: Page) -> None:
    """Until the service worker is activated and controls the page (safe to go offline)."""
    await page.wait_for_function(
        "() => navigator.serviceWorker.controller !== null"
        " && navigator.serviceWorker.controller.state === 'activated'",
        timeout=15_000,
    )


async def wait_synced(page: Page, ms: float = 20_000) -> None:
    await page.wait_for_function(
        "() => { const s = document.querySelector('#status');"
        " return s && s.dataset.waiting === '0' && s.dataset.online === 'yes'"
        " && !s.querySelector('[data-s=last]').textContent.match(/Not synced|尚未同步/); }",
        timeout=ms,
    )


async def wait_ready(page: Page) -> None:
    await page.wait_for_selector("body[data-ready=yes]", timeout=15_000)


async def waiting(page: Page, expected: int) -> int:
    """The status bar's waiting count, once it shows ``expected`` (or the timeout passes).

    The bar is refreshed just after a save's transaction completes, so reading it at once can
    still see the count from before the save.
    """
    # On a timeout the caller's assertion shows the count the bar does hold.
    with contextlib.suppress(PlaywrightTimeoutError):
        await page.wait_for_function(
            "(n) => document.querySelector('#status')?.dataset.waiting === String(n)",
            arg=expected,
            timeout=10_000,
        )
    return int(await page.get_attribute("#status", "data-waiting") or "-1")


async def idb_count(page: Page, store: str) -> Any:
    return await page.evaluate(
        """(store) => new Promise((resolve, reject) => {
            const r = indexedDB.open("peerlog");
            r.onsuccess = () => { const q = r.result.transaction(store).objectStore(store).count();
              q.onsuccess = () => { r.result.close(); resolve(q.result); }; q.onerror = reject; };
            r.onerror = reject; })""",
        store,
    )


async def go_online(context: BrowserContext, page: Page) -> None:
    """Network back. Playwright's offline emulation in this Chromium leaves navigator.onLine
    true and fires no events, so the test fires the `online` event a phone would get."""
    await context.set_offline(False)
    await page.evaluate("() => window.dispatchEvent(new Event('online'))")


async def queue_refused_reading(page: Page, participant_id: str) -> None:
    """Queue, as an older version of the app could, a contact whose glucose reading the server
    refuses (50 mmol/L), through the app's own outbox."""
    await page.evaluate(
        """async (pid) => {
            const url = performance.getEntriesByType("resource")
              .map((e) => e.name).find((n) => n.includes("/static/js/outbox.js?v="));
            const { save } = await import(url);
            await save("contact", crypto.randomUUID(), {participant_id: pid,
              occurred_at: new Date().toISOString(), mode: "phone_call", glucose_mmol: 50}, 0);
        }""",
        participant_id,
    )


async def queue_refused_weight(page: Page, participant_id: str, kg: float = 500) -> None:
    """Queue, as an older version of the app could, a weight reading the server refuses (500 kg,
    above the marker's 300), through the app's own outbox."""
    await page.evaluate(
        """async ([pid, kg]) => {
            const url = performance.getEntriesByType("resource")
              .map((e) => e.name).find((n) => n.includes("/static/js/outbox.js?v="));
            const { save } = await import(url);
            const today = new Date().toISOString().slice(0, 10);
            await save("measurement", crypto.randomUUID(), {participant_id: pid, marker: "weight",
              value: kg, measured_on: today, source: "self_report"}, 0);
        }""",
        [participant_id, kg],
    )


async def wait_answered(page: Page) -> None:
    """Until the server has answered for everything queued, and the status bar says so. (The bar
    alone may still show the count from before a save, and read "synced" too early.)"""
    for _ in range(150):
        if await idb_count(page, "outbox") == 0:
            break
        await asyncio.sleep(0.1)
    await wait_synced(page)


async def open_synced(
    context: BrowserContext, page: Page, server: LiveServer, n: int = 1
) -> Program:
    """A program of ``n`` participants, its peer leader signed in on the phone, the app open on
    Today with the service worker in control and the first sync done."""
    prog = await program(n)
    context.set_default_timeout(15_000)
    await sign_in_with_cookie(context, server, prog.leader)
    await page.goto(f"{server.url}/")
    await wait_controlled(page)
    await wait_synced(page)
    return prog


async def record_meeting(page: Page, server: LiveServer, group_id: str) -> None:
    """A group meeting of the group, everyone in it ticked as there, saved on the phone."""
    await page.goto(f"{server.url}/meetings/new")
    await wait_ready(page)
    await page.select_option("#group_id", group_id)
    for box in await page.query_selector_all("[name=attendee_ids]"):
        await box.check()
    await page.click("button[type=submit]")
    await page.wait_for_selector("#saved:not(:empty)")
