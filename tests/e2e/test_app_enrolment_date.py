"""A reading or a questionnaire dated more than 90 days before the participant's enrolment is
refused by the phone before it is saved, offline, with the server's rule and the server's own
message on the date field (the catalogue carries both: ``before_enrolment``)."""

from __future__ import annotations

from datetime import date

from playwright.async_api import BrowserContext, Page, expect

from tests.conftest import LiveServer
from tests.e2e.test_app_distress import answer
from tests.e2e.test_app_readings import record
from tests.e2e.test_app_support import idb_count, open_synced, wait_ready

# The participants of ``program`` enrolled on 2026-05-01: 90 days before is 2026-01-31.
REFUSED = "不能早于参与者入组前 90 天（2026-01-31）"


async def test_a_reading_or_questionnaire_long_before_enrolment_is_refused_on_the_phone(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 1)
    pid = str(prog.participants[0].id)
    await phone_context.set_offline(True)

    await phone.goto(f"{live_server.url}/readings/new?participant={pid}")
    await wait_ready(phone)
    await record(phone, "weight", {"weight": "70.5"}, date(2026, 1, 30), "clinic")
    await expect(phone.locator("#err-measured_on")).to_have_text(REFUSED)
    assert await phone.get_attribute("#measured_on", "aria-invalid") == "true"
    assert await idb_count(phone, "outbox") == 0
    await record(phone, "weight", {"weight": "70.5"}, date(2026, 1, 31), "clinic")
    await expect(phone.locator("#saved a")).to_be_visible()
    assert await idb_count(phone, "outbox") == 1

    await phone.goto(f"{live_server.url}/assessments/new?participant={pid}&instrument=dds2")
    await wait_ready(phone)
    await answer(phone, "dds2_1", 4)
    await answer(phone, "dds2_2", 3)
    await phone.fill("#assessed_on", "2026-01-30")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#err-assessed_on")).to_have_text(REFUSED)
    assert await idb_count(phone, "outbox") == 1
    await phone.fill("#assessed_on", "2026-01-31")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#result")).to_be_visible()
    assert await idb_count(phone, "outbox") == 2
