"""Every screen, in Simplified Chinese and in English: fully translated, opens offline, and is
accessible (axe-core finds no serious or critical violation)."""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from server import i18n
from sync.models import Measurement
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE
from tests.e2e.test_app_support import (
    Program,
    program,
    sign_in_with_cookie,
    wait_controlled,
    wait_ready,
    wait_synced,
)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# Words that are the same in both languages: the product, units, the language switcher.
# ("HbA" is how the word search below reads HbA1c; DDS-2 is the distress screen's name.)
SAME_IN_BOTH = {"Peerlog", "English", "HbA1c", "HbA", "DDS", "mmol", "mmHg", "kg", "MB"}

VISIBLE_TEXT = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !el || el.closest("script,template,[hidden]") || !el.checkVisibility()) continue;
    out.push({text, lang: el.closest("[lang]")?.getAttribute("lang")});
  }
  for (const el of document.querySelectorAll("[aria-label],[placeholder],input[type=submit]")) {
    if (el.checkVisibility()) out.push({text: el.getAttribute("aria-label") || el.placeholder || el.value, lang: null});
  }
  out.push({text: document.title, lang: null});
  return out;
}"""


def screens(prog: Program) -> list[str]:
    return [
        "/",
        "/participants",
        f"/participants/view?id={prog.participants[0].id}",
        "/contacts/new",
        "/meetings/new",
        f"/readings/new?participant={prog.participants[0].id}",
        f"/assessments/new?participant={prog.participants[0].id}",
        "/activities/new",
        "/roster",
        "/settings",
        "/attention",
    ]


async def chinese_program() -> Program:
    prog = await program(2)
    for i, p in enumerate(prog.participants):
        p.full_name = f"张伟{i}"
        p.address = f"{i + 3}号楼{i + 1}单元"
        await p.save()
    prog.group.name = "第一小组"
    await prog.group.save()
    # Readings for the participant's history (a blood pressure is two rows of one day).
    first = prog.participants[0]
    for marker, value, on in (
        ("hba1c", 8.6, date(2026, 5, 1)),
        ("hba1c", 7.9, date(2026, 8, 1)),
        ("bp_systolic", 142, date(2026, 8, 1)),
        ("bp_diastolic", 88, date(2026, 8, 1)),
    ):
        await Measurement.create(
            id=uuid.uuid4(),
            participant=first,
            community_id=first.community_id,  # type: ignore[attr-defined]
            entered_by=prog.leader,
            marker=marker,
            value=value,
            measured_on=on,
            source="clinic",
        )
    return prog


async def open_signed_in(context: BrowserContext, server: LiveServer, prog: Program) -> Page:
    context.set_default_timeout(15_000)
    await sign_in_with_cookie(context, server, prog.leader)
    page = await context.new_page()
    await page.goto(f"{server.url}/")
    await wait_controlled(page)
    await wait_synced(page)
    return page


async def visible_text(page: Page, url: str) -> list[dict[str, str]]:
    await page.goto(url)
    await wait_ready(page)
    return list(await page.evaluate(VISIBLE_TEXT))


async def test_every_screen_is_fully_translated_in_chinese_and_in_english(
    live_server: LiveServer, phone_context: BrowserContext
) -> None:
    prog = await chinese_program()
    page = await open_signed_in(phone_context, live_server, prog)
    english_msgids = set(i18n.catalogue("zh-CN"))
    chinese = set(i18n.catalogue("zh-CN").values())
    data = [prog.group.name]
    for p in prog.participants:
        data += [p.full_name, p.address or ""]

    # Offline for the Chinese round: every screen must open from the service worker too.
    await phone_context.set_offline(True)
    for path in screens(prog):
        for item in await visible_text(page, live_server.url + path):
            text = item["text"]
            assert text not in english_msgids, f"untranslated on {path}: {text!r}"
            words = set(re.findall(r"[A-Za-z]{3,}", text)) - SAME_IN_BOTH
            assert not words, f"English on the Chinese {path}: {text!r}"

    # Switch with the app's own switcher (online); the service worker refreshes its shells.
    await phone_context.set_offline(False)
    await page.goto(f"{live_server.url}/settings")
    await wait_ready(page)
    await page.click("a[href^='/lang/en']")
    await page.wait_for_selector("html[lang=en] body[data-ready=yes]")
    for path in screens(prog):
        for item in await visible_text(page, live_server.url + path):
            text = item["text"]
            assert text not in chinese, f"Chinese left on the English {path}: {text!r}"
            if item["lang"] == "zh-CN":  # the switcher's 中文, marked as Chinese
                continue
            for value in data:  # names and addresses are the participants', not the app's
                text = text.replace(value, "")
            assert not re.search(r"[\u4e00-\u9fff]", text), (
                f"Chinese on the English {path}: {text!r}"
            )


@pytest.mark.skipif(not AXE.exists(), reason="run `make node-tools` for axe-core")
async def test_axe_finds_no_serious_accessibility_problem_on_any_screen(
    live_server: LiveServer, browser: Browser
) -> None:
    prog = await chinese_program()
    # axe is injected as a script, which the strict CSP would (rightly) refuse.
    context = await browser.new_context(**PHONE, locale="zh-CN", bypass_csp=True)  # type: ignore[arg-type]
    try:
        page = await open_signed_in(context, live_server, prog)
        problems = []
        for lang in ("zh-CN", "en"):
            if lang == "en":
                await page.goto(f"{live_server.url}/lang/en?next=/settings")
            for path in screens(prog):
                await page.goto(live_server.url + path)
                await wait_ready(page)
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


async def test_a_volunteer_sees_their_committee_roster_and_no_contact_logging(
    live_server: LiveServer, phone_context: BrowserContext
) -> None:
    from sync.models import Committee, Community, Role
    from tests import factories

    prog = await chinese_program()
    committee = await Committee.get(id=prog.participants[0].committee_id)  # type: ignore[attr-defined]
    community = await Community.get(id=committee.community_id)  # type: ignore[attr-defined]
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=committee)
    page = await open_signed_in(phone_context, live_server, Program(volunteer, prog.group))
    await page.goto(f"{live_server.url}/roster")
    await wait_ready(page)
    rows = page.locator("#roster .card")
    assert await rows.count() == 2
    assert "张伟0" in (await rows.first.text_content() or "")
    assert await page.locator("#nav-roster").is_visible()
    await page.goto(f"{live_server.url}/")
    await wait_ready(page)
    assert not await page.locator("a[href='/contacts/new']").first.is_visible()
