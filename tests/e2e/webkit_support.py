"""The WebKit engine in the suite: WebKitGTK's MiniBrowser under Xvfb, driven through Debian's
``WebKitWebDriver`` with Selenium (the WebDriver client from PyPI).

iPhones run WebKit, and WebKit is where Peerlog meets no Background Sync, an old Storage API and a
home-screen app whose dead ends are the user's problem. WebKitGTK has no WebAuthn, so a phone's
session is copied in from an enrolment made in Chromium with a real passkey ceremony.

Selenium is blocking and the live server runs in the test's event loop, so every WebDriver call
runs in a thread (``asyncio.to_thread``) with a time limit, and each test is bounded as a whole
(``bounded``): WebKitGTK can hang, for one without a display. A hung browser is killed, never
waited for.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

import pytest

from tests.conftest import LiveServer

T = TypeVar("T")

DRIVER = shutil.which("WebKitWebDriver")
XVFB = shutil.which("Xvfb")
MINIBROWSER = next(iter(sorted(glob.glob("/usr/lib/*/webkit2gtk-4.*/MiniBrowser"))), None)
MISSING = (
    "The WebKit tests need WebKitWebDriver and Xvfb: run 'make webkit' "
    "(or 'sudo apt-get install -y webkit2gtk-driver xvfb')"
)
STEP = 30.0  # seconds for one WebDriver command
TEST_LIMIT = 150.0  # seconds for one whole WebKit test

# Safari 15.2–16: persisted() and persist(), but no estimate().
SAFARI_16_STORAGE = "+StorageAPI,-StorageAPIEstimate"

# Errors the page raises after load: WebKitGTK's WebDriver has no console log to read.
PROBE = """
if (!window.__errors) {
  window.__errors = [];
  window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
  window.addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));
}
"""


def require_webkit() -> None:
    if not (DRIVER and XVFB and MINIBROWSER):
        pytest.skip(MISSING)


async def bounded(body: Awaitable[T], limit: float = TEST_LIMIT) -> T:
    """The outer time limit of a WebKit test."""
    return await asyncio.wait_for(body, limit)


@asynccontextmanager
async def xvfb() -> AsyncIterator[str]:
    """A private X display (Xvfb picks a free number and writes it to a pipe)."""
    read, write = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        XVFB or "Xvfb",
        *("-displayfd", str(write), "-screen", "0", "480x960x24", "-nolisten", "tcp"),
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        number = await asyncio.wait_for(asyncio.to_thread(os.read, read, 16), 20)
        yield f":{number.decode().strip()}"
    finally:
        os.close(read)
        with suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


class WebKitPhone:
    """A WebKit page and the few things the tests do with it, each bounded in time."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver = driver
        self.base = base

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), STEP)

    async def get(self, path: str) -> None:
        await self.call(self.driver.get, self.base + path)
        await self.js(PROBE)

    async def js(self, script: str, *args: Any) -> Any:
        return await self.call(self.driver.execute_script, script, *args)

    async def js_async(self, script: str, *args: Any) -> Any:
        """``script`` is an async function body; its result is returned (or its error raised)."""
        wrapped = (
            "const done = arguments[arguments.length - 1];"
            f"(async () => {{ {script} }})().then((v) => done({{ok: v}}), (e) => done({{error: String(e)}}));"
        )
        result = await self.call(self.driver.execute_async_script, wrapped, *args)
        if "error" in result:
            raise AssertionError(f"in WebKit: {result['error']}")
        return result.get("ok")

    async def until(self, script: str, limit: float = 20.0, *args: Any) -> Any:
        """Poll ``script`` (an expression) until it is truthy; the last value on failure."""
        value = None
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        while loop.time() < end:
            value = await self.js(f"return ({script});", *args)
            if value:
                return value
            await asyncio.sleep(0.2)
        raise AssertionError(f"WebKit: still false after {limit}s: {script} (last {value!r})")

    async def click(self, css: str) -> None:
        await self.js(
            "const el = document.querySelector(arguments[0]);"
            "if (!el) throw new Error('no ' + arguments[0]);"
            "el.scrollIntoView({block: 'center'});",
            css,
        )
        element = await self.call(self.driver.find_element, "css selector", css)
        await self.call(element.click)

    async def errors(self) -> list[str]:
        return list(await self.js("return window.__errors || [];") or [])

    async def ready(self) -> None:
        await self.until("document.body && document.body.dataset.ready === 'yes'")

    async def controlled(self) -> None:
        await self.until(
            "navigator.serviceWorker && navigator.serviceWorker.controller"
            " && navigator.serviceWorker.controller.state === 'activated'"
        )


@asynccontextmanager
async def webkit_phone(server: LiveServer, features: str = "") -> AsyncIterator[WebKitPhone]:
    """MiniBrowser, new profile, under its own Xvfb; killed (not asked to quit) at the end."""
    require_webkit()
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    async with xvfb() as display:
        profile = tempfile.mkdtemp(prefix="peerlog-webkit-")
        options = Options()
        options.binary_location = MINIBROWSER or ""
        options.add_argument("--automation")
        if features:
            options.add_argument(f"--features={features}")
        env = {**os.environ, "DISPLAY": display, "HOME": profile, "XDG_DATA_HOME": profile}
        env.pop("WAYLAND_DISPLAY", None)
        service = Service(
            executable_path=DRIVER or "", env=env, popen_kw={"start_new_session": True}
        )

        def launch() -> Any:
            driver = webdriver.WebKitGTK(options=options, service=service)
            driver.set_page_load_timeout(STEP)
            driver.set_script_timeout(STEP)
            return driver

        driver = None
        try:
            driver = await asyncio.wait_for(asyncio.to_thread(launch), 60)
            yield WebKitPhone(driver, server.url)
        finally:
            if driver is not None:
                with suppress(Exception):
                    await asyncio.wait_for(asyncio.to_thread(driver.quit), 10)
            proc = getattr(service, "process", None)
            if proc is not None and proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            shutil.rmtree(profile, ignore_errors=True)
