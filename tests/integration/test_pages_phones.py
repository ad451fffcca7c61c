"""What the phone app serves for phones without Background Sync and for offline dead ends, over
HTTP: the "needs a connection" page the service worker caches in every language, the iPhone
home-screen guide on Today, and the notice for browsers too old for Peerlog."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("db")


@pytest.mark.parametrize(
    ("lang", "title", "back"),
    [
        ("zh-CN", "这个页面需要网络连接", "返回今天"),
        ("en", "This page needs a connection", "Back to Today"),
    ],
)
async def test_the_needs_a_connection_page_comes_in_both_languages_with_a_way_back(
    client: httpx.AsyncClient, lang: str, title: str, back: str
) -> None:
    res = await client.get(f"/offline?lang={lang}", headers={"cookie": "lang=zh-CN"})
    assert res.status_code == 200 and f'<html lang="{lang}">' in res.text
    assert title in res.text and re.search(
        rf'<a class="button primary wide" href="/">{back}</a>', res.text
    )
    assert '<script type="module"' not in res.text  # a plain page: nothing to run offline


async def test_the_service_worker_caches_the_offline_page_and_answers_failed_navigations(
    client: httpx.AsyncClient,
) -> None:
    worker = (await client.get("/sw.js")).text
    assert 'const OFFLINE = "/offline";' in worker
    assert "[...SHELLS, OFFLINE]" in worker  # precached in every language
    assert "fetch(event.request).catch(needsConnection)" in worker
    assert '"/manifest.webmanifest"' in worker  # the manifest is precached too


async def test_today_carries_the_home_screen_guide_in_both_languages_and_other_screens_do_not(
    client: httpx.AsyncClient,
) -> None:
    zh = (await client.get("/?lang=zh-CN")).text
    en = (await client.get("/?lang=en")).text
    assert "把 Peerlog 添加到主屏幕" in zh and "添加到主屏幕" in zh
    assert "Add Peerlog to your Home Screen" in en and "Add to Home Screen" in en
    assert (
        'id="home-guide"' in zh
        and 'id="home-guide" class="guide" aria-labelledby="h-home-guide" hidden' in en
    )
    settings = (await client.get("/settings?lang=en")).text
    assert 'id="home-guide"' not in settings
    assert 'id="waited"' in settings  # the day-old banner is on every screen


@pytest.mark.parametrize("path", ["/signin", "/", "/offline"])
async def test_every_page_carries_the_too_old_notice_and_its_classic_script(
    client: httpx.AsyncClient, path: str
) -> None:
    page = (await client.get(path, headers={"cookie": "lang=en"})).text
    assert re.search(r'<p id="old-browser"[^>]*hidden>This browser is too old for Peerlog', page)
    script = re.search(r'<script src="(/static/js/legacy\.js\?v=\w+)"></script>', page)
    assert script is not None
    body = (await client.get(script.group(1))).text
    # Old syntax only: no module syntax, arrows, let/const or template strings.
    assert not re.search(r"=>|\blet\b|\bconst\b|`|\bimport\b|\bexport\b|\?\.", body)
