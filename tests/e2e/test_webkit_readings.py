"""A reading recorded in the WebKit engine (every iPhone browser): no Background Sync, so the
reading waits on the phone while the server is away and leaves when the app is opened again."""

from __future__ import annotations

from playwright.async_api import Browser

from sync.models import Measurement
from tests.conftest import LiveServer
from tests.e2e.test_webkit import SYNCED, enrolled_in_chromium, sign_in
from tests.e2e.webkit_support import bounded, require_webkit, webkit_phone


async def test_webkit_a_blood_pressure_recorded_offline_arrives_as_two_rows_once(
    live_server: LiveServer, browser: Browser
) -> None:
    require_webkit()
    prog, session, device = await enrolled_in_chromium(live_server, browser, 1)
    pid = str(prog.participants[0].id)

    async def body() -> None:
        async with webkit_phone(live_server) as phone:
            await sign_in(phone, session, device)
            await live_server.stop()
            await phone.get(f"/readings/new?participant={pid}")
            await phone.ready()
            await phone.click("[name=marker][value=bp]")
            for css, value in (("#bp_systolic", "142"), ("#bp_diastolic", "88")):
                field = await phone.call(phone.driver.find_element, "css selector", css)
                await phone.call(field.send_keys, value)
            await phone.click("#reading button[type=submit]")
            await phone.until("document.querySelector('#saved a')")
            await phone.until("document.querySelector('#status').dataset.waiting === '2'")
            assert await Measurement.all().count() == 0

            await live_server.start()
            await phone.get("/")
            await phone.until(SYNCED)
            await phone.click("#sync-now")
            await phone.until(SYNCED)
            rows = await Measurement.filter(participant_id=pid).order_by("marker")
            assert [(r.marker, r.value) for r in rows] == [
                ("bp_diastolic", 88),
                ("bp_systolic", 142),
            ]
            assert await phone.errors() == []

    await bounded(body())
