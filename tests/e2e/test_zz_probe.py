from playwright.async_api import BrowserContext, Page
from tests.conftest import LiveServer
from tests.e2e.test_app_support import open_synced, wait_ready

async def test_probe(live_server: LiveServer, phone_context: BrowserContext, phone: Page) -> None:
    await open_synced(phone_context, phone, live_server)
    failed = []
    phone_context.on("requestfailed", lambda r: failed.append(r.url))
    await phone_context.set_offline(True)
    await phone.reload()
    await wait_ready(phone)
    await phone.wait_for_timeout(1000)
    print("FAILED", failed)
    await phone.goto(f"{live_server.url}/account")
    print(await phone.content())
    assert 0
