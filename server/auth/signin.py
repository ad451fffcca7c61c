"""Signing in and out: the passkey and device-key ceremonies' JSON API under ``/api/auth/``
and the sign-in page. What every way of signing in shares (the rate limit, starting the
session, the answer) is here too; the ceremonies themselves are in ``passkeys`` and
``device_keys``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import JSONBody
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK
from msgspec import UNSET

from server.auth import audit, device_keys, inapp, invites, passkeys, ratelimit
from server.auth.bodies import (
    DeviceKeyOptions,
    DeviceKeySignIn,
    PasskeyCredential,
    RequestOptions,
    SignedIn,
    SignedOut,
)
from server.auth.device_keys import DeviceKeyRefused
from server.auth.devices import bind_device, parse_device_id
from server.auth.session import (
    DEVICE_HEADER,
    create_session,
    end_session,
    expired_session_cookie,
    public,
    session_cookie,
    session_token,
)
from server.deps import AppSettings, Req
from server.i18n import render
from server.settings import Settings
from sync.models import Credential, DeviceKey, Role, User


async def limit(request: Req, settings: Settings, bucket: str) -> None:
    """One more attempt from this client address in ``bucket`` (``signin``, ``invite``)."""
    await ratelimit.hit(bucket, ratelimit.client_address(request), settings.rate_limit_per_minute)


def who(user: User) -> dict[str, Any]:
    """Who a user is, as ``SignedIn`` and ``Me`` begin."""
    return {
        "user": str(user.id),
        "role": user.role.value if hasattr(user.role, "value") else str(user.role),
        "display_name": user.display_name,
        "community_id": str(user.community_id) if user.community_id else None,  # type: ignore[attr-defined]
        "committee_id": str(user.committee_id) if user.committee_id else None,  # type: ignore[attr-defined]
    }


async def sign_in(
    request: Req,
    settings: Settings,
    user: User,
    credential: Credential | DeviceKey,
    how: str,
) -> Response[SignedIn]:
    """End whatever session this browser had, bind the device, start a fresh session."""
    device = await bind_device(
        user,
        parse_device_id(request.headers.get(DEVICE_HEADER)),
        request.headers.get("user-agent", ""),
    )
    old = session_token(request)
    if old:
        await end_session(old)
    token = await create_session(user, settings, device.id if device else None)
    await audit.record(
        "signin.success",
        actor=user,
        connection=request,
        device_id=device.id if device else None,
        entity="device_key" if isinstance(credential, DeviceKey) else "credential",
        record_id=str(credential.id),
        how=how,
    )
    key = str(credential.id) if isinstance(credential, DeviceKey) else UNSET
    return Response(
        SignedIn(**who(user), device_key=key),
        status_code=HTTP_200_OK,
        cookies=[session_cookie(token, settings, user.role)],
    )


async def key_refused(
    request: Req, refused: DeviceKeyRefused, user: User | None, entity: str, record_id: str | None
) -> DeviceKeyRefused:
    """Audit a refused device key; the caller raises what this returns."""
    await audit.record(
        "signin.failure",
        actor=user,
        connection=request,
        entity=entity,
        record_id=record_id,
        reason=refused.reason,
        how="device_key",
    )
    return refused


class SignInController(Controller):
    """``/api/auth/login…``, ``/api/auth/device-key/…`` and ``/api/auth/logout``: anyone."""

    path = "/api/auth"
    opt = public()

    @post("/login/options", status_code=HTTP_200_OK)
    async def login_options(self, request: Req, settings: AppSettings) -> RequestOptions:
        await limit(request, settings, "signin")
        return await passkeys.authentication_options(settings)

    @post("/login", status_code=HTTP_200_OK)
    async def login(
        self, request: Req, settings: AppSettings, data: JSONBody[PasskeyCredential]
    ) -> Response[SignedIn]:
        await limit(request, settings, "signin")
        credential, refused = await passkeys.authenticate(data.as_json(), settings)
        if refused is not None:
            about: dict[str, Any] = {
                "actor": credential.user if credential else None,
                "connection": request,
                "entity": "credential",
                "record_id": str(credential.id) if credential else None,
            }
            await audit.record("signin.failure", **about, reason=refused.reason)
            if refused.reason == "counter_regression":
                await audit.record("passkey.counter_regression", **about)
            raise refused
        assert credential is not None
        return await sign_in(request, settings, credential.user, credential, "passkey")

    @post("/device-key/options", status_code=HTTP_200_OK)
    async def device_key_login_options(
        self, request: Req, settings: AppSettings
    ) -> DeviceKeyOptions:
        await limit(request, settings, "signin")
        return await device_keys.options(device_keys.LOGIN)

    @post("/device-key/login", status_code=HTTP_200_OK)
    async def device_key_login(
        self, request: Req, settings: AppSettings, data: JSONBody[DeviceKeySignIn]
    ) -> Response[SignedIn]:
        """With the phone's ``x-peerlog-device``: the key must be that device's."""
        await limit(request, settings, "signin")
        key, refused = await device_keys.authenticate(
            data, parse_device_id(request.headers.get(DEVICE_HEADER)), settings
        )
        if refused is not None:
            raise await key_refused(
                request,
                refused,
                key.user if key else None,
                "device_key",
                str(key.id) if key else None,
            )
        assert key is not None
        return await sign_in(request, settings, key.user, key, "device_key")

    @post("/logout", status_code=HTTP_200_OK)
    async def logout(self, request: Req, settings: AppSettings) -> Response[SignedOut]:
        """Ends this browser's session (CSRF-checked like every POST). Signed out already:
        no-op."""
        token = session_token(request)
        if token:
            await end_session(token)
        if request.user is not None:
            await audit.record("signout", actor=request.user, connection=request)
        return Response(SignedOut(signed_out=True), cookies=[expired_session_cookie(settings)])


# --- pages --------------------------------------------------------------------------------------


def safe_next(raw: str | None) -> str:
    # Only a path on this site: never an open redirect to another host.
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


def in_app(request: Req, settings: Settings) -> dict[str, Any]:
    """What the in-app browser notice needs (nothing in an ordinary browser)."""
    found = inapp.detect(request.headers.get("user-agent", ""))
    if found is None:
        return {"inapp": None}
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = settings.origin + request.url.path + (f"?{query}" if query else "")
    return {"inapp": found, "page_url": url}


@get("/signin")
async def signin_page(request: Req, settings: AppSettings) -> Template:
    # A new program's first day: nobody can sign in until the first administrator is made on
    # the server's command line (SPEC 7), so the page says how.
    first_day = not await User.filter(role=Role.ADMIN, is_active=True).exists()
    return render(
        request,
        "auth/signin.html",
        {
            "next": safe_next(request.query_params.get("next")),
            # A phone that was switched off lands here after wiping itself: say why.
            "revoked": request.query_params.get("why") == "revoked",
            **in_app(request, settings),
            "first_day": first_day,
            "code_field_max": invites.CODE_FIELD_MAX,
        },
    )
