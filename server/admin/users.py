"""Staff pages for accounts: users, invites (link, code, QR) and devices.

Server-rendered forms posting the CSRF token as ``_csrf_token``; each write redirects back with a
``?notice=`` key (never free text). Coordinators manage the non-admin users of their own community;
admins manage everyone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import segno
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markupsafe import Markup

from server.auth.accounts import DISPLAY_NAME_MAX, USERNAME_MAX, AccountRefused, create_user
from server.auth.device_keys import devices_with_keys
from server.auth.devices import deactivate_user, revoke_device
from server.auth.invites import (
    ADMIN_ONLY,
    InviteRefused,
    already_enrolled,
    create_invite,
    invite_link,
    revoke_invite,
)
from server.deps import AppSettings, CurrentUser, Req
from server.i18n import language_of, translate
from sync.models import Committee, Community, Credential, Device, Invite, Role, User

NOTICES = {
    "created": "The user was created. Make an invite so they can set up their passkey.",
    "invite_created": "A new invite was made. Earlier unused invites for this user no longer work.",
    "invite_revoked": "The invite was withdrawn.",
    "invite_admin_only": ADMIN_ONLY,
    "deactivated": "The account was switched off: its sessions ended and its devices will wipe their data.",
    "device_revoked": "The device was signed out: its sessions ended, passkeys used only on it were removed, and it will wipe its data.",
}


async def _page(request: Req, template: str, context: dict[str, Any], **kw: Any) -> Template:
    # The staff layout (navigation, language) belongs to the admin pages; reuse its helper.
    from server.admin.common import page

    notice = NOTICES.get(request.query_params.get("notice", ""))
    return await page(request, template, {**context, "notice": notice}, section="users", **kw)


def _managed_query(me: User) -> Any:
    query = User.all()
    if me.role != Role.ADMIN:
        query = query.filter(community_id=me.community_id).exclude(role=Role.ADMIN)  # type: ignore[attr-defined]
    return query


async def _managed_user(me: User, user_id: uuid.UUID) -> User:
    user = (
        await _managed_query(me).get_or_none(id=user_id).prefetch_related("community", "committee")
    )
    if user is None:
        raise NotFoundException("No such user, or not one you manage.")
    return user


def _qr(link: str, title: str) -> Markup:
    # Inline SVG: no script, no inline style, so the strict CSP allows it.
    svg = segno.make(link, error="m").svg_inline(scale=6, title=title)
    return Markup(svg)


async def _live_invite(user: User) -> Invite | None:
    return (
        await Invite.filter(
            user=user, used_at=None, revoked_at=None, expires_at__gt=datetime.now(UTC)
        )
        .order_by("-created_at")
        .first()
    )


async def _with_keys(devices: list[Device]) -> dict[str, Any]:
    """Page context: ``devices`` and the ids of those with a device key (auth/_signin_kind.html)."""
    return {"devices": devices, "key_devices": await devices_with_keys([d.id for d in devices])}


@get("/admin/users")
async def users_page(request: Req, user: CurrentUser) -> Template:
    users = await _managed_query(user).order_by("display_name").prefetch_related("community")
    counts: dict[Any, int] = {}
    for user_id in await Credential.filter(user_id__in=[u.id for u in users]).values_list(
        "user_id", flat=True
    ):
        counts[user_id] = counts.get(user_id, 0) + 1
    communities = (
        await Community.all().order_by("name")
        if user.role == Role.ADMIN
        else await Community.filter(id=user.community_id)  # type: ignore[attr-defined]
    )
    committee_q = Committee.all().prefetch_related("community").order_by("name")
    if user.role != Role.ADMIN:
        committee_q = committee_q.filter(community_id=user.community_id)  # type: ignore[attr-defined]
    allowed_roles = [r for r in Role if user.role == Role.ADMIN or r != Role.ADMIN]
    return await _page(
        request,
        "admin/users.html",
        {
            "display_name_max": DISPLAY_NAME_MAX,
            "username_max": USERNAME_MAX,
            "users": users,
            "passkeys": counts,
            "communities": communities,
            "committees": await committee_q,
            "roles": allowed_roles,
            "error": None,
        },
    )


@post("/admin/users", status_code=303)
async def create_user_form(request: Req, user: CurrentUser) -> Redirect | Template:
    form = await request.form()
    role = str(form.get("role", ""))
    community = committee = None
    community_id = str(form.get("community", "") or "")
    committee_id = str(form.get("committee", "") or "")
    error = None
    if user.role != Role.ADMIN:
        community_id = str(user.community_id)  # type: ignore[attr-defined]
        if role == Role.ADMIN.value:
            error = "A coordinator cannot create administrators."
    if community_id:
        found = await Community.get_or_none(id=_uuid(community_id))
        community = found.code if found else None
    if committee_id:
        found_c = await Committee.get_or_none(id=_uuid(committee_id))
        if found_c is None or (
            user.role != Role.ADMIN and str(found_c.community_id) != community_id  # type: ignore[attr-defined]
        ):
            error = "Choose a residential committee in the user's community."
        else:
            committee = found_c.code
            if community is None:
                parent = await Community.get(id=found_c.community_id)  # type: ignore[attr-defined]
                community = parent.code
    username = str(form.get("username", "")).strip()
    if not error and not username:
        error = "Give the user a user name."
    if not error:
        try:
            account = await create_user(
                username,
                role,
                display_name=str(form.get("display_name", "")).strip() or None,
                community=community,
                committee=committee,
            )
        except AccountRefused as exc:
            error = str(exc)
        else:
            return Redirect(f"/admin/users/{account.id}?notice=created", status_code=303)
    # Show the form again with the reason; nothing was written.
    page = await users_page.fn(request, user)
    page.context["error"] = error
    page.status_code = 422
    return page


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@get("/admin/users/{user_id:uuid}")
async def user_detail_page(
    request: Req, user: CurrentUser, settings: AppSettings, user_id: FromPath[uuid.UUID]
) -> Template:
    account = await _managed_user(user, user_id)
    invite = await _live_invite(account)
    devices = await Device.filter(user=account).order_by("-last_seen_at")
    link = invite_link(settings, invite.code) if invite else None
    return await _page(
        request,
        "admin/users_detail.html",
        {
            "user": account,
            "invite": invite,
            "link": link,
            "qr": _qr(link, translate(language_of(request), "QR code of the invite link"))
            if link
            else None,
            "passkeys": await Credential.filter(user=account).order_by("created_at"),
            # Someone who can sign in gets a new invite from an administrator only (SPEC 5).
            "may_invite": user.role == Role.ADMIN or not await already_enrolled(account),
            **await _with_keys(devices),
        },
    )


@post(
    "/admin/users/{user_id:uuid}/invite",
    status_code=303,
)
async def create_invite_form(
    request: Req, user: CurrentUser, settings: AppSettings, user_id: FromPath[uuid.UUID]
) -> Redirect:
    account = await _managed_user(user, user_id)
    if not account.is_active:
        return Redirect(f"/admin/users/{account.id}", status_code=303)
    try:
        await create_invite(account, settings, created_by=user)
    except InviteRefused:
        return Redirect(f"/admin/users/{account.id}?notice=invite_admin_only", status_code=303)
    return Redirect(f"/admin/users/{account.id}?notice=invite_created", status_code=303)


@post(
    "/admin/users/{user_id:uuid}/invite/revoke",
    status_code=303,
)
async def revoke_invite_form(
    request: Req, user: CurrentUser, user_id: FromPath[uuid.UUID]
) -> Redirect:
    account = await _managed_user(user, user_id)
    for invite in await Invite.filter(user=account, used_at=None, revoked_at=None):
        await revoke_invite(invite, user)
    back = request.query_params.get("back") == "invites"
    target = "/admin/invites" if back else f"/admin/users/{account.id}"
    return Redirect(f"{target}?notice=invite_revoked", status_code=303)


@post(
    "/admin/users/{user_id:uuid}/deactivate",
    status_code=303,
)
async def deactivate_form(
    request: Req, user: CurrentUser, user_id: FromPath[uuid.UUID]
) -> Redirect:
    account = await _managed_user(user, user_id)
    if account.id != user.id and account.is_active:
        await deactivate_user(account, user, request)
    return Redirect(f"/admin/users/{account.id}?notice=deactivated", status_code=303)


@get("/admin/invites")
async def invites_page(request: Req, user: CurrentUser) -> Template:
    managed = _managed_query(user).values_list("id", flat=True)
    invites = (
        await Invite.filter(
            user_id__in=await managed,
            used_at=None,
            revoked_at=None,
            expires_at__gt=datetime.now(UTC),
        )
        .order_by("expires_at")
        .prefetch_related("user", "created_by")
    )
    return await _page(request, "admin/invites.html", {"invites": invites})


@get("/admin/devices")
async def devices_page(request: Req, user: CurrentUser, settings: AppSettings) -> Template:
    query = Device.all().prefetch_related("user")
    if user.role != Role.ADMIN:
        query = query.filter(user__community_id=user.community_id).exclude(  # type: ignore[attr-defined]
            user__role=Role.ADMIN
        )
    devices = await query.order_by("revoked_at", "-last_seen_at")
    from server.admin.phones import at_risk_context

    return await _page(
        request,
        "admin/devices.html",
        {
            **await _with_keys(devices),
            **await at_risk_context(user, settings),
        },
    )


@post(
    "/admin/devices/{device_id:uuid}/revoke",
    status_code=303,
)
async def revoke_device_form(
    request: Req, user: CurrentUser, device_id: FromPath[uuid.UUID]
) -> Redirect:
    device = await Device.get_or_none(id=device_id).prefetch_related("user")
    if device is None or (
        user.role != Role.ADMIN
        and (
            device.user.community_id != user.community_id  # type: ignore[attr-defined]
            or device.user.role == Role.ADMIN
        )
    ):
        raise NotFoundException("No such device, or not one you manage.")
    if device.revoked_at is None:
        await revoke_device(device, user, request)
    return Redirect("/admin/devices?notice=device_revoked", status_code=303)


ROUTES: list[Any] = [
    users_page,
    create_user_form,
    user_detail_page,
    create_invite_form,
    revoke_invite_form,
    deactivate_form,
    invites_page,
    devices_page,
    revoke_device_form,
]
