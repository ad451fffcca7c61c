"""A coordinator's log of their peer leaders on the phone (SPEC 2, issue 14): a supervision, a
training session and a quarterly rating, recorded offline, checked by the server's own rules
with a message by the field, waiting on the phone until it syncs, then on the server once each,
with the coordinator as author and the community of their peer leaders. A peer leader's phone
never receives them, nor the screens."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from server import i18n
from sync import engine
from sync.models import (
    Community,
    ImplementationRating,
    Measurement,
    Participant,
    Role,
    Supervision,
    Training,
    User,
)
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE
from tests.e2e.test_app_screens import AXE, SAME_IN_BOTH, VISIBLE_TEXT
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    sign_in_with_cookie,
    wait_answered,
    wait_controlled,
    wait_ready,
    wait_synced,
    waiting,
)

SCREENS = ("/supervision/new", "/training/new", "/ratings")
STORES = ("supervisions", "trainings", "ratings")


@dataclass
class Community_:
    community: Community
    li: User
    wang: User
    coordinator: User
    elsewhere: User
    person: Participant


async def community_with_two_leaders() -> Community_:
    community = await factories.community()
    committee = await factories.committee(community)
    li = await factories.user(Role.PEER_LEADER, community=community, display_name="李红")
    wang = await factories.user(Role.PEER_LEADER, community=community, display_name="王芳")
    group = await factories.group(community, li, committee=committee)
    person = await factories.participant(committee, li, group=group, full_name="张伟")
    return Community_(
        community=community,
        li=li,
        wang=wang,
        coordinator=await factories.user(
            Role.COORDINATOR, community=community, display_name="周主任"
        ),
        elsewhere=await factories.user(Role.PEER_LEADER, display_name="陈静"),
        person=person,
    )


async def open_app(context: BrowserContext, page: Page, server: LiveServer, who: User) -> None:
    context.set_default_timeout(15_000)
    await sign_in_with_cookie(context, server, who)
    await page.goto(f"{server.url}/")
    await wait_controlled(page)
    await wait_synced(page)


async def english_on(page: Page) -> list[str]:
    """Visible English on a screen shown in Chinese (untranslated strings)."""
    msgids = set(i18n.catalogue("zh-CN"))
    found = []
    for item in await page.evaluate(VISIBLE_TEXT):
        text = item["text"]
        if text in msgids or set(re.findall(r"[A-Za-z]{3,}", text)) - SAME_IN_BOTH:
            found.append(text)
    return found


def quarter(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


async def test_a_coordinator_logs_supervision_training_and_a_rating_offline_and_each_arrives_once(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    c = await community_with_two_leaders()
    await open_app(phone_context, phone, live_server, c.coordinator)
    ahead = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%d")
    yesterday = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%d")

    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/")
    await wait_ready(phone)
    await phone.click("a[href='/supervision/new']")
    await wait_ready(phone)
    assert await english_on(phone) == []
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 360
    # The peer leaders of the coordinator's community, by name, and no one else.
    names = await phone.eval_on_selector_all(
        "#peer_leader_id option[value]:not([value=''])", "os => os.map(o => o.textContent)"
    )
    assert sorted(names) == sorted(["李红", "王芳"])

    # A supervision dated ahead is refused on the phone, by the field.
    await phone.select_option("#peer_leader_id", str(c.li.id))
    await phone.fill("#occurred_at", f"{ahead}T10:00")
    await phone.click("label.choice:has([value=phone_call])")
    await phone.check("[name=topics][value=referrals]")
    await phone.fill("#concerns", "组员流失")
    await phone.fill("#follow_up", "下周面谈")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#err-occurred_at")).not_to_be_empty()
    assert await phone.get_attribute("#occurred_at", "aria-invalid") == "true"
    assert await idb_count(phone, "outbox") == 0
    await phone.fill("#occurred_at", f"{yesterday}T10:00")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#saved")).not_to_be_empty()
    await expect(phone.locator("#err-occurred_at")).to_be_empty()
    assert await idb_count(phone, "outbox") == 1

    # A training session: a date ahead and 30 hours are refused, each by its field.
    await phone.goto(f"{live_server.url}/training/new")
    await wait_ready(phone)
    assert await english_on(phone) == []
    await phone.fill("#title", "低血糖的识别")
    await phone.fill("#held_on", ahead)
    await phone.fill("#hours", "30")
    await phone.check(f"[name=attendee_ids][value='{c.li.id}']")
    await phone.check(f"[name=attendee_ids][value='{c.wang.id}']")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#err-held_on")).not_to_be_empty()
    await expect(phone.locator("#err-hours")).not_to_be_empty()
    assert await idb_count(phone, "outbox") == 1
    await phone.fill("#held_on", yesterday)
    await phone.fill("#hours", "2")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#saved")).not_to_be_empty()
    assert await idb_count(phone, "outbox") == 2

    # Li Hong's rating of this quarter: two items by their large buttons, the rest not rated.
    await phone.goto(f"{live_server.url}/ratings")
    await wait_ready(phone)
    assert await english_on(phone) == []
    this_quarter = await phone.input_value("#period")
    assert this_quarter == quarter(date.today())
    await phone.select_option("#peer_leader_id", str(c.li.id))
    box = await phone.locator("label.choice:has([name=being_there][value='4'])").bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44
    await phone.click("label.choice:has([name=being_there][value='4'])")
    await phone.click("label.choice:has([name=linkage_to_care][value='5'])")
    await phone.fill("#comment", "很好")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#saved")).not_to_be_empty()
    assert await idb_count(phone, "outbox") == 3
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 360

    # Opened again, still offline: each is on its screen, waiting to sync.
    await phone.goto(f"{live_server.url}/")
    await wait_ready(phone)
    assert await waiting(phone, 3) == 3
    await phone.goto(f"{live_server.url}/supervision/new")
    await wait_ready(phone)
    card = phone.locator("#recent .card", has_text="李红")
    await expect(card).to_have_count(1)
    await expect(card.locator(".tag.warn")).to_have_count(1)
    await phone.goto(f"{live_server.url}/training/new")
    await wait_ready(phone)
    await expect(phone.locator("#recent .card", has_text="低血糖的识别")).to_contain_text("王芳")
    await phone.goto(f"{live_server.url}/ratings")
    await wait_ready(phone)
    await phone.select_option("#peer_leader_id", str(c.li.id))
    await expect(phone.locator("#already")).to_be_visible()
    assert await phone.is_checked("[name=being_there][value='4']")
    assert await phone.is_checked("[name=daily_management][value='']")
    for store in STORES:
        assert await idb_count(phone, store) == 1, store
    # Offline stops the service worker's requests too (tests/e2e/conftest.py): none was sent.
    assert await Supervision.all().count() == 0
    assert await Training.all().count() == 0
    assert await ImplementationRating.all().count() == 0

    await go_online(phone_context, phone)
    await wait_answered(phone)
    await phone.click("#sync-now")  # a second sync sends nothing again
    await wait_synced(phone)

    supervision = await Supervision.get()
    assert supervision.peer_leader_id == c.li.id  # type: ignore[attr-defined]
    assert supervision.supervisor_id == c.coordinator.id  # type: ignore[attr-defined]
    assert supervision.community_id == c.community.id  # type: ignore[attr-defined]
    assert (supervision.mode, supervision.topics) == ("phone_call", ["referrals"])
    assert (supervision.concerns, supervision.follow_up) == ("组员流失", "下周面谈")
    assert supervision.version == 1
    training = await Training.get()
    assert training.trainer_id == c.coordinator.id  # type: ignore[attr-defined]
    assert training.community_id == c.community.id  # type: ignore[attr-defined]
    assert (training.title, training.held_on.isoformat(), training.hours) == (
        "低血糖的识别",
        yesterday,
        2,
    )
    assert sorted(training.attendee_ids) == sorted([str(c.li.id), str(c.wang.id)])
    rating = await ImplementationRating.get()
    assert rating.peer_leader_id == c.li.id  # type: ignore[attr-defined]
    assert rating.rated_by_id == c.coordinator.id  # type: ignore[attr-defined]
    assert rating.community_id == c.community.id  # type: ignore[attr-defined]
    assert rating.period == this_quarter
    assert (rating.being_there, rating.linkage_to_care, rating.comment) == (4, 5, "很好")
    assert rating.daily_management is None and rating.version == 1

    # Sent: no longer marked as waiting.
    await phone.goto(f"{live_server.url}/supervision/new")
    await wait_ready(phone)
    await expect(phone.locator("#recent .card", has_text="李红")).to_have_count(1)
    await expect(phone.locator("#recent .tag.warn")).to_have_count(0)


async def test_a_peer_leaders_phone_never_receives_the_log_nor_its_screens(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    c = await community_with_two_leaders()
    now = datetime.now(UTC)
    for entity, fields in (
        (
            "supervision",
            {"peer_leader_id": str(c.li.id), "occurred_at": now.isoformat(), "mode": "wechat"},
        ),
        (
            "training",
            {
                "title": "足部护理",
                "held_on": now.date().isoformat(),
                "attendee_ids": [str(c.li.id)],
            },
        ),
        (
            "implementation_rating",
            {"peer_leader_id": str(c.li.id), "period": quarter(now.date()), "being_there": 3},
        ),
    ):
        result = await engine.write(c.coordinator, entity, uuid.uuid4(), fields)
        assert result.status == "applied", result

    await open_app(phone_context, phone, live_server, c.li)
    for store in STORES:
        assert await idb_count(phone, store) == 0, store
    assert await idb_count(phone, "participants") == 1  # the phone did sync
    leaders = await phone.evaluate(
        """() => new Promise((resolve, reject) => {
            const r = indexedDB.open("peerlog");
            r.onsuccess = () => { const q = r.result.transaction("meta").objectStore("meta")
              .get("peer_leaders"); q.onsuccess = () => { r.result.close(); resolve(q.result ?? null); }; };
            r.onerror = reject; })"""
    )
    assert leaders is None
    await expect(phone.locator("a[href='/supervision/new']")).to_be_hidden()
    await expect(phone.locator("a[href='/ratings']")).to_be_hidden()
    for path in SCREENS:
        await phone.goto(f"{live_server.url}{path}")
        await wait_ready(phone)
        await expect(phone.locator("#not-yours")).to_be_visible()
        await expect(phone.locator("form")).to_be_hidden()


@pytest.mark.skipif(not AXE.exists(), reason="run `make node-tools` for axe-core")
async def test_the_coordinators_screens_speak_both_languages_and_axe_finds_no_serious_problem(
    live_server: LiveServer, browser: Browser
) -> None:
    c = await community_with_two_leaders()
    # axe is injected as a script, which the strict CSP would (rightly) refuse.
    context = await browser.new_context(**PHONE, locale="zh-CN", bypass_csp=True)  # type: ignore[arg-type]
    try:
        page = await context.new_page()
        await open_app(context, page, live_server, c.coordinator)
        chinese = set(i18n.catalogue("zh-CN").values())
        problems = []
        for lang in ("zh-CN", "en"):
            if lang == "en":
                await page.goto(f"{live_server.url}/lang/en?next=/settings")
            for path in SCREENS:
                await page.goto(live_server.url + path)
                await wait_ready(page)
                await expect(page.locator("form")).to_be_visible()
                if lang == "zh-CN":
                    assert await english_on(page) == [], path
                else:
                    texts = [i["text"] for i in await page.evaluate(VISIBLE_TEXT)]
                    left = [t for t in texts if t in chinese and t not in ("李红", "王芳")]
                    assert left == [], path
                await page.add_script_tag(path=str(AXE))
                result = await page.evaluate(
                    "() => axe.run(document, {resultTypes: ['violations']})"
                )
                for v in result["violations"]:
                    if v["impact"] in ("serious", "critical"):
                        targets = [n["target"] for n in v["nodes"]][:3]
                        problems.append(f"{lang} {path}: {v['id']} {targets}")
        assert problems == []
    finally:
        await context.close()


async def test_a_phone_from_before_gets_the_log_its_pulls_passed_over_and_keeps_its_queue(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    """Version 3 of the phone's database had no store for these records, so a coordinator's
    pulls passed over them; the upgrade keeps every record and the queue, and the next pull
    starts again from the beginning and brings them."""
    c = await community_with_two_leaders()
    fields = {"peer_leader_id": str(c.li.id), "occurred_at": "2026-11-02T10:00:00+08:00"}
    result = await engine.write(
        c.coordinator, "supervision", uuid.uuid4(), {**fields, "mode": "in_person"}
    )
    assert result.status == "applied", result
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, c.coordinator)
    await phone.goto(f"{live_server.url}/healthz")  # the origin, without the app
    # Where the old phone's pulls had got to: past the supervision.
    cursor = await phone.evaluate(
        "async () => (await (await fetch('/api/sync/pull?limit=1000')).json()).cursor"
    )
    reading_id = str(uuid.uuid4())
    reading = {
        "participant_id": str(c.person.id),
        "marker": "weight",
        "value": 70.5,
        "measured_on": (date.today() - timedelta(days=1)).isoformat(),
        "source": "self_report",
    }
    # The database exactly as version 3 of db.js made it, a reading waiting to sync.
    await phone.evaluate(
        """([id, fields, cursor]) => new Promise((resolve, reject) => {
            const r = indexedDB.open("peerlog", 3);
            r.onupgradeneeded = () => {
              const db = r.result;
              for (const name of ["participants", "contacts", "meetings", "groups"]) {
                const store = db.createObjectStore(name, { keyPath: "id" });
                if (name === "contacts") store.createIndex("participant_id", "participant_id");
              }
              db.createObjectStore("outbox", { keyPath: "mutation_id" });
              db.createObjectStore("attention", { keyPath: "mutation_id" });
              db.createObjectStore("meta", { keyPath: "key" });
              db.createObjectStore("sent", { keyPath: "mutation_id" }).createIndex("at", "at");
              for (const name of ["measurements", "assessments", "activities", "instruments"]) {
                const store = db.createObjectStore(name, { keyPath: "id" });
                if (name === "measurements" || name === "assessments") {
                  store.createIndex("participant_id", "participant_id");
                }
              }
            };
            r.onsuccess = () => {
              const t = r.result.transaction(["measurements", "outbox", "meta"], "readwrite");
              t.objectStore("measurements").put({ id, version: 0, _pending: 1, ...fields });
              t.objectStore("outbox").put({ mutation_id: 1, entity: "measurement", id,
                base_version: 0, fields, client_time: new Date().toISOString() });
              t.objectStore("meta").put({ key: "next_mutation_id", value: 2 });
              t.objectStore("meta").put({ key: "cursor", value: cursor });
              t.oncomplete = () => { r.result.close(); resolve(); };
              t.onerror = reject;
            };
            r.onerror = reject; })""",
        [reading_id, reading, cursor],
    )
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_answered(phone)
    assert await Measurement.filter(id=reading_id).count() == 1
    assert await idb_count(phone, "measurements") == 1
    assert await idb_count(phone, "supervisions") == 1
    await phone.goto(f"{live_server.url}/supervision/new")
    await wait_ready(phone)
    await expect(phone.locator("#recent .card", has_text="李红")).to_have_count(1)
