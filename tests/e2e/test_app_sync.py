"""Sync under trouble: a server that fails mid-sync or goes away loses and duplicates nothing;
what the server would not take is shown in "needs attention" with its reasons."""

from __future__ import annotations

import asyncio

import httpx
from playwright.async_api import BrowserContext, Page, Route, expect
from tortoise.transactions import in_transaction

from sync import engine, sequence
from sync.models import Conflict, Contact, ContactMode, Participant, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    program,
    queue_refused_reading,
    sign_in_with_cookie,
    wait_answered,
    wait_controlled,
    wait_ready,
    wait_synced,
    waiting,
)


async def open_app(context: BrowserContext, page: Page, server: LiveServer, who: object) -> None:
    context.set_default_timeout(15_000)
    await sign_in_with_cookie(context, server, who)  # type: ignore[arg-type]
    await page.goto(f"{server.url}/")
    await wait_controlled(page)
    await wait_synced(page)


async def log_contact(page: Page, base: str, index: int) -> None:
    await page.goto(f"{base}/contacts/new")
    await wait_ready(page)
    await page.select_option("#participant_id", index=index)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#saved a")


async def test_a_push_applied_but_answered_500_is_resent_and_counted_once(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(2)
    await open_app(phone_context, phone, live_server, prog.leader)
    answered = []

    async def lose_first_answer(route: Route) -> None:
        # The server applies the batch, but the phone only ever sees a 500.
        response = await route.fetch()
        if not answered:
            answered.append(response.status)
            await route.fulfill(status=500, body="{}", content_type="application/json")
        else:
            await route.fulfill(response=response)

    # On the context, so the request is caught whether the page or the service worker sends it.
    await phone_context.route("**/api/sync/push", lose_first_answer)
    await phone_context.set_offline(True)
    await log_contact(phone, live_server.url, 1)
    await log_contact(phone, live_server.url, 2)
    assert await waiting(phone, 2) == 2
    await go_online(phone_context, phone)
    await wait_synced(phone)
    assert answered == [200]
    assert await Contact.filter(peer_leader=prog.leader).count() == 2


async def test_nothing_is_lost_while_the_server_is_down(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(2)
    await open_app(phone_context, phone, live_server, prog.leader)
    await live_server.stop()
    await log_contact(phone, live_server.url, 1)
    await log_contact(phone, live_server.url, 2)
    await phone.wait_for_selector("#status[data-online=no]")
    assert await waiting(phone, 2) == 2
    await live_server.start()
    await phone.click("#sync-now")
    await wait_synced(phone)
    assert await Contact.filter(peer_leader=prog.leader).count() == 2
    assert await idb_count(phone, "outbox") == 0


async def test_conflicting_and_rejected_edits_show_in_needs_attention_with_the_reasons(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(1)
    person = prog.participants[0]
    await open_app(phone_context, phone, live_server, prog.leader)

    # Offline, the peer leader changes the phone number...
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/participants/view?id={person.id}")
    await wait_ready(phone)
    await phone.fill("#phone", "13911112222")
    await phone.click("#edit button[type=submit]")
    await phone.wait_for_selector("#saved:not(:empty)")
    # ...and an older version of the app queues a reading the server refuses.
    await queue_refused_reading(phone, str(person.id))
    # Meanwhile the coordinator changes the same number on the server.
    coordinator = await factories.user(Role.ADMIN)
    async with httpx.AsyncClient(base_url=live_server.url) as staff:
        await factories.sign_in(staff, coordinator, live_server.settings)
        res = await staff.post(
            "/api/sync/push",
            json={
                "device_id": "00000000-0000-4000-8000-000000000001",
                "mutations": [
                    {
                        "mutation_id": 1,
                        "entity": "participant",
                        "id": str(person.id),
                        "base_version": 1,
                        "fields": {"phone": "13800000000"},
                    }
                ],
            },
        )
        assert res.json()["results"][0]["status"] == "applied", res.text

    await go_online(phone_context, phone)
    await wait_synced(phone)
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    assert await phone.locator("#items [data-status=conflict]").count() == 1
    rejected = phone.locator("#items [data-status=rejected]")
    assert await rejected.count() == 1
    assert "glucose_mmol" in (await rejected.text_content() or "")
    assert "35" in (await rejected.text_content() or "")
    assert "需要处理" in (await phone.text_content("#status") or "")
    # The server kept its value; the conflict waits for an administrator.
    assert (await Participant.get(id=person.id)).phone == "13800000000"
    assert await Contact.filter(mode=ContactMode.PHONE_CALL).count() == 0
    card = phone.locator("#items [data-status=conflict] .tag")
    assert "管理员会审核" in (await card.text_content() or "")

    # Once an administrator resolves it, the card says so.
    conflict = await Conflict.get(record_id=person.id)
    await engine.resolve_conflict(conflict.id, coordinator, {"phone": ("device", None)})
    await phone.reload()
    await wait_ready(phone)
    await expect(card).to_have_attribute("data-conflict", "resolved")
    assert "管理员已处理" in (await card.text_content() or "")


async def test_a_gap_in_mutation_ids_is_resent_from_the_last_acknowledged(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(1)
    await open_app(phone_context, phone, live_server, prog.leader)
    statuses: list[int] = []
    phone_context.on(
        "response", lambda r: statuses.append(r.status) if "/api/sync/push" in r.url else None
    )
    # A phone whose counter jumped ahead of what the server has seen (say, restored data).
    await phone.evaluate("() => localStorage.setItem('peerlog.next_mutation_id', '50')")
    await log_contact(phone, live_server.url, 1)
    await wait_answered(phone)
    assert 409 in statuses and statuses[-1] == 200
    assert await Contact.filter(peer_leader=prog.leader).count() == 1


async def test_resync_refetches_the_scope_and_drops_what_left_it(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(2)
    await open_app(phone_context, phone, live_server, prog.leader)
    # A participant reassigned away while this phone was not looking.
    gone = prog.participants[1]
    other = await factories.user(Role.PEER_LEADER, community_id=gone.community_id)  # type: ignore[attr-defined]
    await Participant.filter(id=gone.id).update(peer_leader_id=other.id, group_id=None)

    answered: list[bool] = []

    async def resync_once(route: Route) -> None:
        if not answered:
            answered.append(True)
            await route.fulfill(json={"resync": True})
        else:
            await route.continue_()

    await phone_context.route("**/api/sync/pull*", resync_once)
    await phone.click("#sync-now")
    await wait_synced(phone)
    for _ in range(100):
        if await idb_count(phone, "participants") == 1:
            break
        await phone.wait_for_timeout(50)
    assert answered and await idb_count(phone, "participants") == 1


async def test_the_progress_bar_counts_the_whole_scope_across_pages(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    """Pages of 3 instead of 1,000 (the request's limit rewritten): before each next page the
    bar holds what arrived so far out of the scope's whole count, the same on every page
    (``total_estimate`` is what is left from a page's cursor on, not the scope)."""
    prog = await program(9)
    # Numbered as the engine numbers its writes (the factory's rows share seq 0, which a page
    # never splits).
    async with in_transaction() as conn:
        first = await sequence.allocate(conn, len(prog.participants))
    for n, person in enumerate(prog.participants):
        person.seq = first + n
        await person.save(update_fields=["seq"])
    phone_context.set_default_timeout(15_000)
    seen: list[tuple[str, str]] = []
    totals: list[int] = []

    async def small_pages(route: Route) -> None:
        if "cursor=" in route.request.url:
            bar = await phone.evaluate(
                "() => { const b = document.querySelector('#sync-progress');"
                " return [b.getAttribute('value') ?? String(b.value), String(b.max)]; }"
            )
            seen.append((bar[0], bar[1]))
        response = await route.fetch(url=route.request.url.replace("limit=1000", "limit=3"))
        totals.append((await response.json()).get("total_estimate", 0))
        await route.fulfill(response=response)

    await phone_context.route("**/api/sync/pull*", small_pages)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    scope = totals[0]
    assert scope >= 9 + 1 and len(seen) >= 3, (totals, seen)
    # The first sync's pages, in order: 3, 6, 9 … of the whole scope.
    first_run = seen[: (scope + 2) // 3 - 1]
    assert first_run == [(str(3 * n), str(scope)) for n in range(1, len(first_run) + 1)]


async def test_a_network_that_never_answers_does_not_keep_a_screen_from_opening(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    """A weak signal or a captive portal takes the request for who is signed in and never
    answers: the screen opens with the person the phone knows (app.js ``currentUser``)."""
    prog = await program(2)
    await open_app(phone_context, phone, live_server, prog.leader)
    release = asyncio.Event()
    held: list[Route] = []

    async def never_answer(route: Route) -> None:
        held.append(route)
        await release.wait()
        await route.abort()

    await phone_context.route("**/api/auth/me", never_answer)
    try:
        await phone.goto(f"{live_server.url}/contacts/new")
        await wait_ready(phone)
        assert held, "the screen asked the server"
        assert await phone.locator("#participant_id option[value]:not([value=''])").count() == 2
    finally:
        release.set()
