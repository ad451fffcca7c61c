"""A new program's first day, over HTTP: the sign-in page tells how the first administrator gets
in until there is one, and every page has an icon (no 404 for /favicon.ico)."""

from __future__ import annotations

import httpx

from sync.models import Role
from tests import factories


async def test_signin_says_how_the_first_administrator_gets_in_until_there_is_one(
    client: httpx.AsyncClient,
) -> None:
    for lang, words in (("en", "no administrator yet"), ("zh-CN", "还没有管理员")):
        client.cookies.set("lang", lang)
        page = (await client.get("/signin")).text
        assert 'id="first-admin"' in page and words in page
        assert "peerlog create-user NAME --role admin" in page and "peerlog invite NAME" in page
    await factories.user(Role.PEER_LEADER)
    assert 'id="first-admin"' in (await client.get("/signin")).text  # not an administrator
    await factories.user(Role.ADMIN)
    assert 'id="first-admin"' not in (await client.get("/signin")).text


async def test_favicon_is_served_and_named_by_the_sign_in_and_staff_pages(
    client: httpx.AsyncClient,
) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/")
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon"' in (await client.get("/signin")).text
