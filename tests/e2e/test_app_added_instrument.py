"""A questionnaire a program added (``engine.add_instrument``) is asked on the phone like the
built-in ones: pulled, drawn from its definition (its own scale and wording), scored by its own
rule offline, and scored the same by the server."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page, expect

from sync import engine
from sync.models import Assessment, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.test_app_distress import answer
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    open_synced,
    wait_answered,
    wait_ready,
    wait_synced,
)
from tests.integration.test_instruments_added import PHQ2


async def test_an_added_questionnaire_is_asked_and_scored_by_its_own_rule_offline(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    admin = await factories.user(Role.ADMIN)
    assert (await engine.add_instrument(admin, PHQ2))[1] == {}
    prog = await open_synced(phone_context, phone, live_server, 1)
    pid = str(prog.participants[0].id)
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/assessments/new?participant={pid}&instrument=phq2")
    await wait_ready(phone)
    await expect(phone.locator("h1")).to_contain_text("PHQ-2")
    await expect(phone.locator("#items .choice")).to_have_count(8)  # two items, answers 0–3
    await expect(phone.locator("#items")).to_contain_text("感到心情低落、沮丧或绝望")
    await answer(phone, "phq_1", 2)
    await answer(phone, "phq_2", 3)
    await phone.click("button[type=submit]")
    await expect(phone.locator("#score")).to_have_text("5")  # the sum, not a mean
    await expect(phone.locator("#meaning")).to_contain_text("需进一步评估")
    assert await idb_count(phone, "outbox") == 1

    await go_online(phone_context, phone)
    await wait_answered(phone)
    await wait_synced(phone)
    rows = await Assessment.filter(participant_id=pid)
    assert [(r.instrument_id, r.answers, r.score) for r in rows] == [  # type: ignore[attr-defined]
        ("phq2", {"phq_1": 2, "phq_2": 3}, 5.0)
    ]
