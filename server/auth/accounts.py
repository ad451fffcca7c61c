"""Making a user account: the one rule for the ``peerlog create-user`` command and the staff
users page (``server.admin.users``). A refusal is an ``AccountRefused`` whose message says what
to change."""

from __future__ import annotations

from sync import validate
from sync.models import Committee, Community, Role, User

USERNAME_MAX, DISPLAY_NAME_MAX = 64, 120


class AccountRefused(ValueError):
    """The account was not made; the message says why (never a secret)."""


async def create_user(
    name: str,
    role: str,
    *,
    display_name: str | None = None,
    community: str | None = None,
    committee: str | None = None,
) -> User:
    try:
        role_value = Role(role)
    except ValueError:
        raise AccountRefused(
            f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}"
        ) from None
    try:
        name = validate.clean_text(name)
        display_name = validate.clean_text(display_name) if display_name else None
    except validate.Invalid as exc:
        raise AccountRefused(f"the user name or display name {exc.message}") from None
    if not name or len(name) > USERNAME_MAX:
        raise AccountRefused(f"a user name is 1 to {USERNAME_MAX} characters")
    if display_name and len(display_name) > DISPLAY_NAME_MAX:
        raise AccountRefused(f"a display name is at most {DISPLAY_NAME_MAX} characters")
    if await User.exists(username=name):
        raise AccountRefused(f"a user named {name!r} already exists")
    community_obj = committee_obj = None
    if committee:
        committee_obj = await Committee.get_or_none(code=committee).select_related("community")
        if committee_obj is None:
            raise AccountRefused(f"no residential committee with code {committee!r}")
        community_obj = committee_obj.community
    if community:
        community_obj = await Community.get_or_none(code=community)
        if community_obj is None:
            raise AccountRefused(f"no community with code {community!r}")
    if role_value is not Role.ADMIN and community_obj is None:
        raise AccountRefused(
            f"a {role_value.value} needs --community (or --committee for a volunteer)"
        )
    if role_value is Role.VOLUNTEER and committee_obj is None:
        raise AccountRefused(
            "a volunteer needs --committee: their roster is one residential committee"
        )
    return await User.create(
        username=name,
        display_name=display_name or name,
        role=role_value,
        community=community_obj,
        committee=committee_obj,
    )
