"""Phone app figures: download size, offline start, save latency, outbox drain, first pull.

Run: ``.venv/bin/python bench/bench_pwa.py [--records 10000] [--drain 1000]``. It starts its
own server on a temporary SQLite database and drives Debian's Chromium (phone viewport).
Prints figures for the ``## Phone app`` section of BENCHMARKS.md; it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scratch import start_scratch_sqlite, stop_scratch
from server.auth.session import SESSION_COOKIE, create_session
from sync.models import Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE

READY = "body[data-ready=yes]"
PROGRESS_PROBE = """
window.__progress = [];
new MutationObserver(() => {
  const bar = document.getElementById("sync-progress");
  if (bar && !bar.hidden) window.__progress.push(Number(bar.value));
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["value", "hidden"]});
"""


async def seed_scope(server: LiveServer, n: int) -> Any:
    """A peer leader with ``n`` participants, written through the push API by an admin."""
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    admin = await factories.user(Role.ADMIN)
    device = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        await factories.sign_in(client, admin, server.settings)
        client.headers["x-peerlog-device"] = device
        next_id = 1
        for start in range(0, n, 500):
            mutations = []
            for i in range(start, min(n, start + 500)):
                fields = {
                    "code": f"B{i:06d}",
                    "full_name": f"Participant {i}",
                    "phone": f"139{i:08d}",
                    "committee_id": str(committee.id),
                    "peer_leader_id": str(leader.id),
                    "status": "active",
                    "enrolled_on": "2026-05-01",
                    "consent_on": "2026-05-01",
                }
                mutations.append(
                    {
                        "mutation_id": next_id,
                        "entity": "participant",
                        "id": str(uuid.uuid4()),
                        "base_version": 0,
                        "fields": fields,
                    }
                )
                next_id += 1
            res = await client.post(
                "/api/sync/push", json={"device_id": device, "mutations": mutations}
            )
            res.raise_for_status()
    return leader


async def push_new(
    server: LiveServer, who: Any, records: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Push ``records`` ((entity, fields) pairs) as new records from a new device of ``who``;
    returns the push's per-record results."""
    device = str(uuid.uuid4())
    mutations = [
        {
            "mutation_id": i + 1,
            "entity": entity,
            "id": str(uuid.uuid4()),
            "base_version": 0,
            "fields": fields,
        }
        for i, (entity, fields) in enumerate(records)
    ]
    async with httpx.AsyncClient(base_url=server.url) as client:
        await factories.sign_in(client, who, server.settings)
        client.headers["x-peerlog-device"] = device
        res = await client.post(
            "/api/sync/push", json={"device_id": device, "mutations": mutations}
        )
        res.raise_for_status()
    results: list[dict[str, Any]] = res.json()["results"]
    return results


async def signed_in_page(browser: Any, server: LiveServer, who: Any) -> tuple[Any, Page]:
    context = await browser.new_context(**PHONE, locale="zh-CN")
    token = await create_session(who, server.settings)
    await context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": server.url}])
    context.set_default_timeout(120_000)
    page = await context.new_page()
    return context, page


async def wait_synced(page: Page) -> None:
    await page.wait_for_function(
        "() => { const s = document.querySelector('#status'); return s && s.dataset.waiting === '0'"
        " && !/尚未同步|Not synced/.test(s.querySelector('[data-s=last]').textContent); }",
        timeout=300_000,
    )


async def outbox_count(page: Page) -> int:
    return int(
        await page.evaluate(
            """() => new Promise((ok) => { const r = indexedDB.open("peerlog");
            r.onsuccess = () => { const q = r.result.transaction("outbox").objectStore("outbox")
            .count(); q.onsuccess = () => { r.result.close(); ok(q.result); }; }; })"""
        )
    )


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


async def first_screen_sizes(base: str) -> None:
    """HTML of Today, every stylesheet, script and module it loads (followed through imports),
    and the JS catalogue; icons excluded."""
    import re

    async with httpx.AsyncClient(base_url=base) as client:
        html = (await client.get("/")).content
        todo = re.findall(r'(?:href|src|content)="(/(?:static|i18n)/[^"]+)"', html.decode())
        seen: dict[str, bytes] = {"/": html}
        while todo:
            url = todo.pop(0)
            if url in seen or "/icons/" in url:
                continue
            body = (await client.get(url)).content
            seen[url] = body
            if ".js" in url:
                folder = url.rsplit("/", 1)[0]
                for spec in re.findall(r'from\s*"(\./[^"]+)"', body.decode()):
                    todo.append(f"{folder}/{spec[2:]}")
    total = 0
    print("\nFirst screen (Today), gzip -9 per file (icons excluded):")
    for url, body in seen.items():
        size = len(gzip.compress(body, 9))
        total += size
        print(f"  {url:60s} {len(body):7d} B raw  {kb(size):>9s}")
    print(f"  total compressed: {kb(total)}")


async def installability(page: Page) -> list[Any]:
    cdp = await page.context.new_cdp_session(page)
    result = await cdp.send("Page.getInstallabilityErrors")
    return list(result.get("installabilityErrors", []))


def lighthouse(binary: str, url: str, token: str, out: Path) -> None:
    """Lighthouse's mobile profile on Today, signed in through the session cookie."""
    import json
    import os
    import subprocess

    cmd = [
        binary,
        url,
        "--quiet",
        "--only-categories=performance,accessibility,best-practices",
        "--output=json",
        f"--output-path={out}",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        f"--extra-headers={json.dumps({'Cookie': f'{SESSION_COOKIE}={token}'})}",
    ]
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not out.exists():
        print(f"\nLighthouse could not run: {done.stderr.strip()[-400:]}")
        return
    report = json.loads(out.read_text())
    scores = {k: round(v["score"] * 100) for k, v in report["categories"].items()}
    audits = report["audits"]
    print(
        f"\nLighthouse {report['lighthouseVersion']} (mobile, simulated throttling) on /: "
        + ", ".join(f"{k} {v}" for k, v in scores.items())
        + f"; FCP {audits['first-contentful-paint']['displayValue']},"
        f" LCP {audits['largest-contentful-paint']['displayValue']},"
        f" TBT {audits['total-blocking-time']['displayValue']}"
    )


NAMES = ["王秀英", "李桂兰", "张建国", "刘玉珍", "陈志强", "杨淑芬", "赵德明", "黄美华"]


async def screenshots(browser: Any, server: LiveServer, folder: Path) -> tuple[Any, list[Any]]:
    """Today and Log contact in Chinese, with a small made-up caseload (needs a CJK font,
    e.g. Debian's fonts-wqy-microhei); returns the peer leader and their participants."""
    from datetime import date, timedelta

    community = await factories.community(name="长风社区")
    committee = await factories.committee(community, name="长风一村居委会")
    leader = await factories.user(Role.PEER_LEADER, community=community, display_name="周阿姨")
    group = await factories.group(community, leader, name="长风一村糖友小组")
    people = [
        await factories.participant(
            committee, leader, group=group, full_name=name, address=f"{i + 1}号楼{i % 3 + 1}单元"
        )
        for i, name in enumerate(NAMES)
    ]
    today = date.today()
    contacts = []
    for i, p in enumerate(people[:6]):
        when = today - timedelta(days=[3, 20, 10, 5, 16, 1][i])
        fields: dict[str, Any] = {
            "participant_id": str(p.id),
            "occurred_at": f"{when.isoformat()}T10:00:00+08:00",
            "mode": "home_visit",
            "functions": ["being_there", "daily_management"],
            "topics": ["diet"],
            "referral": "urgent" if i == 5 else "none",
            "follow_up_on": (when + timedelta(days=[14, 14, 10, 5, 14, 7][i])).isoformat(),
        }
        if i == 5:
            fields["glucose_mmol"] = 18.2
        contacts.append(("contact", fields))
    await push_new(server, leader, contacts)
    context, page = await signed_in_page(browser, server, leader)
    await page.goto(f"{server.url}/")
    await wait_synced(page)
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a benchmark script)
    await page.screenshot(path=str(folder / "today-zh.png"), full_page=True)
    await page.goto(f"{server.url}/contacts/new?participant={people[6].id}")
    await page.wait_for_selector(READY)
    await page.screenshot(path=str(folder / "log-contact-zh.png"))
    await page.fill("#glucose_mmol", "3.2")
    await page.check("[name=referral][value=urgent]")
    await page.locator("#no-advice").scroll_into_view_if_needed()
    await page.evaluate("() => window.scrollBy(0, -130)")
    await page.screenshot(path=str(folder / "log-contact-referral-zh.png"))
    await context.close()
    print(f"\nScreenshots written to {folder}/")
    return leader, people


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--drain", type=int, default=1_000)
    parser.add_argument("--screenshots", default="", help="folder for README screenshots")
    parser.add_argument(
        "--lighthouse",
        default="",
        help="path to the lighthouse CLI (npm i lighthouse); skipped when not given",
    )
    args = parser.parse_args()

    server = await start_scratch_sqlite("bench")
    try:
        t0 = time.perf_counter()
        leader = await seed_scope(server, args.records)
        print(f"seeded {args.records} participants in {time.perf_counter() - t0:.1f} s")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            if args.screenshots:
                await screenshots(browser, server, Path(args.screenshots))
            context, page = await signed_in_page(browser, server, leader)
            await page.add_init_script(PROGRESS_PROBE)

            # First pull of the whole scope into IndexedDB, from navigation to "synced".
            t0 = time.perf_counter()
            await page.goto(f"{server.url}/")
            await wait_synced(page)
            pull_s = time.perf_counter() - t0
            progress = await page.evaluate("() => window.__progress")
            count = await page.evaluate(
                """() => new Promise((ok) => { const r = indexedDB.open("peerlog");
                r.onsuccess = () => { const q = r.result.transaction("participants")
                .objectStore("participants").count(); q.onsuccess = () => ok(q.result); }; })"""
            )
            print(
                f"\nFirst pull: {count} records into IndexedDB in {pull_s:.2f} s "
                f"(page load to synced); progress bar values seen: {len(progress)}, "
                f"e.g. {sorted(set(progress))[:3]} … {sorted(set(progress))[-2:]}"
            )
            await first_screen_sizes(server.url)
            # Playwright's contexts are incognito, which alone blocks installing; anything else
            # (manifest, icons, service worker) would be listed too.
            errors = [e for e in await installability(page) if e["errorId"] != "in-incognito"]
            print(f"\nInstallability errors (Chromium, besides incognito): {errors or 'none'}")
            if args.lighthouse:
                token = await create_session(leader, server.settings)
                # In a thread: the server answering Lighthouse runs on this event loop.
                await asyncio.to_thread(
                    lighthouse,
                    args.lighthouse,
                    f"{server.url}/",
                    token,
                    server.settings.data_dir.parent / "lighthouse.json",
                )

            # Offline start: service worker serves the shell, Today reads IndexedDB.
            await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
            await context.set_offline(True)
            starts = []
            for _ in range(5):
                await page.goto(f"{server.url}/")
                await page.wait_for_selector(READY)
                starts.append(
                    await page.evaluate(
                        "() => performance.getEntriesByName('peerlog:today-ready')[0].startTime"
                    )
                )
            print(
                f"\nOffline start to usable Today ({args.records} participants on the phone):"
                f" median {statistics.median(starts):.0f} ms, worst {max(starts):.0f} ms"
                " (navigation start to the Today list drawn)"
            )

            # Saving a contact: one strict-durability transaction (record + outbox).
            await page.goto(f"{server.url}/contacts/new")
            await page.wait_for_selector(READY)
            times = await page.evaluate(
                """async (n) => {
                const url = performance.getEntriesByType("resource").map((e) => e.name)
                  .find((u) => u.includes("/static/js/outbox.js?v="));
                const { save, isoNow } = await import(url);
                const pid = (await new Promise((ok) => { const r = indexedDB.open("peerlog");
                  r.onsuccess = () => { const q = r.result.transaction("participants")
                  .objectStore("participants").getAllKeys(null, 1);
                  q.onsuccess = () => ok(q.result[0]); }; }));
                const out = [];
                for (let i = 0; i < n; i++) {
                  const t = performance.now();
                  await save("contact", crypto.randomUUID(), {participant_id: pid,
                    occurred_at: isoNow(), mode: "phone_call", functions: ["being_there"],
                    topics: [], referral: "none"}, 0);
                  out.push(performance.now() - t);
                }
                return out;
            }""",
                args.drain,
            )
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"\nSaving a contact ({len(times)} saves): median {statistics.median(times):.2f}"
                f" ms, p95 {p95:.2f} ms"
            )

            # Draining the queued mutations to the local server.
            queued = await outbox_count(page)
            assert queued == len(times), queued
            await context.set_offline(False)
            t0 = time.perf_counter()
            await page.evaluate("() => window.dispatchEvent(new Event('online'))")
            await page.click("#sync-now")
            # Polled from here: wait_for_function does not wait for a promise's value.
            while await outbox_count(page):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            drain_s = time.perf_counter() - t0
            print(
                f"\nDraining {queued} queued mutations (until the outbox is empty): {drain_s:.2f} s"
            )
            await browser.close()
    finally:
        await stop_scratch(server)


if __name__ == "__main__":
    asyncio.run(main())
