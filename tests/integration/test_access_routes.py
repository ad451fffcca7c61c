"""Every route of the app, whoever added it, refuses what it must.

The routes are read from the app at collection time, so a route added later by any feature is
covered without touching this file. The promises:

- a route that states roles refuses an anonymous request: the JSON API (``/api/…``) with 401 and
  a JSON body, a page with a 303 redirect to ``/signin?next=<the page>`` (a person lands on the
  sign-in page and comes back after signing in);
- a route that states neither ``public()`` nor ``roles(…)`` is refused to everyone (403);
- every unsafe request (POST, PUT, PATCH, DELETE) without a CSRF token is refused with 403, even
  from a signed-in administrator whose browser sends the session and CSRF cookies.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from server.app import create_app
from server.settings import Settings
from sync.models import Role
from tests import factories

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _sample(kind: Any) -> str:
    if kind is uuid.UUID:
        return str(uuid.uuid4())
    if kind is int:
        return "1"
    if kind is date:
        return "2026-01-01"
    if kind is Path:
        return "x"
    return "ABCD-EFGH"


# Built once at collection: anonymous requests never reach the database (no session cookie, no
# device header), so these tests need no database and stay fast however many routes there are.
APP = create_app(
    Settings(data_dir=Path(tempfile.mkdtemp()), secret_key="collect-routes"), manage_database=False
)


def _all_routes() -> list[tuple[str, str, str, HTTPRouteHandler]]:
    found = []
    for route in APP.routes:
        if not isinstance(route, HTTPRoute):
            continue
        url = route.path_format.format(
            **{name: _sample(p.type) for name, p in route.path_parameters.items()}
        )
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                if method in ("HEAD", "OPTIONS"):
                    continue  # Litestar's automatic answers; they carry no data
                found.append((method, route.path, url, handler))
    # Sorted: parametrised ids must come out the same in every process (pytest-xdist workers).
    return sorted(found, key=lambda r: (r[1], r[0]))


ROUTES = _all_routes()
PROTECTED = [r for r in ROUTES if not r[3].opt.get("public")]
UNSAFE_ROUTES = [r for r in ROUTES if r[0] in UNSAFE]


def _ids(routes: list[tuple[str, str, str, HTTPRouteHandler]]) -> list[str]:
    return [f"{method} {path}" for method, path, _, _ in routes]


@pytest.fixture
async def anonymous() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        await c.get("/signin")  # a browser's first page load: the CSRF cookie
        yield c


def test_the_route_list_is_not_empty() -> None:
    paths = {path for _, path, _, _ in ROUTES}
    assert {"/api/auth/me", "/api/auth/login", "/admin/users", "/account"} <= paths


@pytest.mark.parametrize(("method", "path", "url", "handler"), PROTECTED, ids=_ids(PROTECTED))
async def test_every_protected_route_refuses_an_anonymous_request(
    anonymous: httpx.AsyncClient, method: str, path: str, url: str, handler: HTTPRouteHandler
) -> None:
    client = anonymous
    headers = {"x-csrftoken": client.cookies["csrftoken"]}  # so CSRF is not what refuses
    response = await client.request(
        method, url, headers=headers, json={} if method in UNSAFE else None
    )
    if not handler.opt.get("roles"):
        assert response.status_code == 403, "a route without roles is refused to everyone"
        return
    if path.startswith("/api/"):
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "signed_out"
        assert response.headers["cache-control"] == "no-store"
    else:
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        if method == "GET":
            assert location == f"/signin?next={quote(url, safe='')}"
        else:
            assert location == "/signin"


@pytest.mark.parametrize(
    ("method", "path", "url", "handler"), UNSAFE_ROUTES, ids=_ids(UNSAFE_ROUTES)
)
async def test_every_unsafe_request_without_a_csrf_token_is_refused(
    anonymous: httpx.AsyncClient, method: str, path: str, url: str, handler: HTTPRouteHandler
) -> None:
    # The CSRF cookie is there, as a forged cross-site request would carry it; no header, no field.
    response = await anonymous.request(method, url, json={})
    assert_csrf_refusal(path, response)
    forged = await anonymous.request(method, url, data={"_csrf_token": "forged"})
    assert_csrf_refusal(path, forged)


def assert_csrf_refusal(path: str, response: httpx.Response) -> None:
    """403 either way: JSON for the API, a readable "this form has expired" page for a person."""
    assert response.status_code == 403, response.text
    if path.startswith("/api/"):
        assert "CSRF" in response.json()["message"]
    else:
        assert 'data-forbidden="csrf"' in response.text


async def test_a_signed_in_administrator_without_a_csrf_token_is_refused_everywhere(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    del client.headers["x-csrftoken"]
    for method, path, url, _ in UNSAFE_ROUTES:
        response = await client.request(method, url, json={})
        assert_csrf_refusal(path, response)
    assert (await client.get("/api/auth/me")).status_code == 200  # still signed in


async def test_a_form_post_with_the_csrf_field_passes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """The server-rendered staff forms send the token as ``_csrf_token``, not as a header."""
    admin = await factories.user(Role.ADMIN)
    target = await factories.user(Role.PEER_LEADER)
    await factories.sign_in(client, admin, settings)
    token = client.headers.pop("x-csrftoken")
    response = await client.post(f"/admin/users/{target.id}/invite", data={"_csrf_token": token})
    assert response.status_code == 303, response.text


async def test_a_wrong_role_is_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    leader = await factories.user(Role.PEER_LEADER)
    await factories.sign_in(client, leader, settings)
    page = await client.get("/admin/users", headers={"accept-language": "en"})
    assert page.status_code == 403 and "not for your role" in page.text
    assert (await client.get("/api/auth/me")).status_code == 200
