"""Security headers and cookie attributes, asserted on real responses."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from http.cookies import SimpleCookie

import httpx
import pytest

from server.app import create_app
from server.auth.invites import create_invite
from server.security import CONTENT_SECURITY_POLICY
from server.settings import Settings
from sync.models import Role
from tests import factories
from tests.integration.test_auth_passkeys import SoftAuthenticator

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'; manifest-src 'self'; worker-src 'self'"
)


def assert_security_headers(response: httpx.Response) -> None:
    h = response.headers
    assert h["content-security-policy"] == EXPECTED_CSP
    assert "unsafe-inline" not in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    assert h["x-frame-options"] == "DENY"
    assert "camera=()" in h["permissions-policy"]


def test_the_policy_is_the_documented_one() -> None:
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP


async def test_every_kind_of_response_carries_the_headers_and_no_store(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    responses = [
        await client.get("/signin"),  # a page
        await client.get("/api/auth/me"),  # an API refusal (401)
        await client.get("/api/nothing-here"),  # an unknown route
        await client.post("/api/auth/logout", json={}),  # a CSRF refusal (no token)
        await client.get("/account"),  # a redirect to sign in
        await client.get("/invite/ZZZZ-ZZZZ"),  # an error page
    ]
    for response in responses:
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store", response.request.url
    user = await factories.user(Role.PEER_LEADER)
    await factories.sign_in(client, user, settings)
    for path in ("/api/auth/me", "/account", "/api/auth/passkeys"):
        response = await client.get(path)
        assert response.status_code == 200
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"


async def test_a_revoked_device_refusal_carries_the_headers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    device = await factories.device(user, revoked_at=datetime(2026, 1, 1, tzinfo=UTC))
    response = await client.get("/api/auth/me", headers={"x-peerlog-device": str(device.id)})
    assert response.status_code == 403 and response.json()["error"] == "device_revoked"
    assert_security_headers(response)
    assert response.headers["cache-control"] == "no-store"


async def test_a_cacheable_route_keeps_its_own_cache_control(client: httpx.AsyncClient) -> None:
    from litestar.routes import HTTPRoute

    cacheable = [
        route.path
        for route in client._transport.app.routes  # type: ignore[attr-defined]
        if isinstance(route, HTTPRoute)
        and not route.path_parameters
        and any(h.opt.get("cacheable") and "GET" in h.http_methods for h in route.route_handlers)
    ]
    if not cacheable:
        pytest.skip("no cacheable route without parameters yet")
    response = await client.get(cacheable[0])
    assert_security_headers(response)
    assert response.headers.get("cache-control") != "no-store"


def _cookie(response: httpx.Response, name: str) -> SimpleCookie:
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar
    raise AssertionError(f"no {name} cookie set")


async def _register(client: httpx.AsyncClient, settings: Settings) -> httpx.Response:
    await client.get("/signin")
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]
    user = await factories.user(Role.PEER_LEADER)
    invite = await create_invite(user, settings)
    authenticator = SoftAuthenticator(settings.rp_id, settings.origin)
    options = (await client.post(f"/api/auth/invites/{invite.code}/options", json={})).json()
    response = await client.post(
        f"/api/auth/invites/{invite.code}/register",
        json=authenticator.create(options),
        headers={"x-peerlog-device": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text
    return response


async def test_the_session_cookie_on_localhost_is_httponly_lax_and_not_secure(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await _register(client, settings)
    cookie = _cookie(response, "peerlog_session")["peerlog_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert int(cookie["max-age"]) == settings.session_absolute_minutes * 60
    assert not cookie["secure"]  # plain-HTTP localhost development only
    assert "strict-transport-security" not in response.headers
    assert_security_headers(response)
    assert response.headers["cache-control"] == "no-store"
    signed_out = await client.post("/api/auth/logout", json={})
    gone = _cookie(signed_out, "peerlog_session")["peerlog_session"]
    assert gone.value in ("", '""') and int(gone["max-age"]) == 0


@pytest.fixture
async def https_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    https = dataclasses.replace(settings, origin="https://peerlog.example.org")
    app = create_app(https, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=https.origin) as c:
        yield c, https


async def test_on_an_https_origin_every_cookie_is_secure(
    https_client: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, settings = https_client
    response = await _register(client, settings)
    session = _cookie(response, "peerlog_session")["peerlog_session"]
    assert session["secure"] is True and session["httponly"] is True
    assert session["samesite"].lower() == "lax"
    first = await httpx.AsyncClient(transport=client._transport, base_url=settings.origin).get(
        "/signin"
    )
    csrf = _cookie(first, "csrftoken")["csrftoken"]
    assert csrf["secure"] is True and csrf["samesite"].lower() == "lax"
    assert not csrf["httponly"]  # the JS reads it to send x-csrftoken
    assert first.headers["strict-transport-security"] == "max-age=31536000"
