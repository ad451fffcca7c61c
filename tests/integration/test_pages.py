"""The phone app's shells, manifest, service worker and assets, over HTTP."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from server import i18n
from server.pages import SCREENS

pytestmark = pytest.mark.usefixtures("db")


@pytest.mark.parametrize("path", list(SCREENS))
async def test_every_screen_shell_renders_for_anyone_in_both_languages(
    client: httpx.AsyncClient, path: str
) -> None:
    zh = await client.get(path, headers={"accept-language": "zh-CN,zh;q=0.9"})
    en = await client.get(path, headers={"cookie": "lang=en"})
    assert zh.status_code == en.status_code == 200
    assert '<html lang="zh-CN">' in zh.text and '<html lang="en">' in en.text
    assert "设置" in zh.text and "Settings" in en.text
    # No inline script or style: the strict CSP would block it.
    for page in (zh.text, en.text):
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))", page)
        assert "<style" not in page and " style=" not in page and not re.search(r" on\w+=", page)


async def test_a_shell_asked_for_in_a_language_comes_in_it_whatever_the_cookie(
    client: httpx.AsyncClient,
) -> None:
    """The service worker caches every shell in both languages (offline language switch)."""
    en = await client.get("/settings?lang=en", headers={"cookie": "lang=zh-CN"})
    assert '<html lang="en">' in en.text and en.headers["content-language"] == "en"
    assert i18n.catalogue_hash("en") in en.text  # its JS strings are English too
    odd = await client.get("/settings?lang=fr", headers={"cookie": "lang=zh-CN"})
    assert '<html lang="zh-CN">' in odd.text  # an unknown language: the usual choice
    worker = (await client.get("/sw.js")).text
    assert 'const LANGUAGES = ["zh-CN", "en"];' in worker


async def test_static_urls_carry_content_hashes_and_pinned_ones_are_immutable(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page.text)
    assert css
    res = await client.get(css.group(1), headers={"accept-encoding": "gzip"})
    assert res.status_code == 200 and "immutable" in res.headers["cache-control"]
    unpinned = await client.get("/static/css/app.css")
    assert unpinned.headers["cache-control"] == "no-cache"


async def test_es_module_imports_are_pinned_to_the_imported_files_hash(
    client: httpx.AsyncClient,
) -> None:
    res = await client.get("/static/js/today.js")
    assert re.search(r'from "\./app\.js\?v=[0-9a-f]{12}"', res.text)


async def test_service_worker_is_served_from_the_root_uncached_and_never_caches_api(
    client: httpx.AsyncClient,
) -> None:
    res = await client.get("/sw.js")
    assert res.status_code == 200
    assert res.headers["cache-control"] == "no-cache"
    assert res.headers["content-type"].startswith("text/javascript")
    body = res.text
    precache = json.loads(re.search(r"const PRECACHE = (\[.*\]);", body).group(1))
    assert any(u.startswith("/static/js/sync.js?v=") for u in precache)
    assert not any(u.startswith("/api/") for u in precache)
    assert 'url.pathname.startsWith("/api/")) return;' in body


async def test_manifest_makes_the_app_installable(client: httpx.AsyncClient) -> None:
    res = await client.get("/manifest.webmanifest", headers={"cookie": "lang=en"})
    m = res.json()
    assert m["display"] == "standalone" and m["start_url"] == "/" and m["lang"] == "en"
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in m["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in m["icons"]:
        assert (await client.get(icon["src"])).status_code == 200


async def test_language_switch_sets_a_cookie_and_stays_on_the_site(
    client: httpx.AsyncClient,
) -> None:
    res = await client.get("/lang/en?next=/settings")
    assert res.status_code == 303 and res.headers["location"] == "/settings"
    assert "lang=en" in res.headers["set-cookie"]
    res = await client.get("/lang/en?next=//evil.example")
    assert res.headers["location"] == "/"


async def test_js_gets_the_same_catalogue_as_the_templates(client: httpx.AsyncClient) -> None:
    res = await client.get("/i18n/zh-CN.json")
    assert res.json()["Settings"] == "设置"
    assert res.json() == i18n.catalogue("zh-CN")
    assert (await client.get("/i18n/en.json")).json() == {}
