"""What every staff page shares: who may see which community, the page shell and small parsers.

Scope is decided here once: a coordinator (and a volunteer) is pinned to their own community
whatever the query string says; an admin sees every community and may narrow with filters.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.response import Template

from server import i18n
from server.auth.session import current_user
from server.deps import Req
from sync.models import Committee, Community, Conflict, ConflictStatus, Role, User

STAFF = (Role.COORDINATOR, Role.ADMIN)
ROSTER_ROLES = (Role.VOLUNTEER, Role.COORDINATOR, Role.ADMIN)


def parse_uuid(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# Far beyond any list's last page, and well inside what an SQL OFFSET takes.
LAST_PAGE = 100_000


def page_number(value: str | None) -> int:
    """``?page=``: a whole number from 1 (ASCII digits: ``int`` reads "١٢"); else page 1."""
    if not value or not (value.isascii() and value.isdigit()):
        return 1
    return max(1, min(int(value), LAST_PAGE))


def parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def community_scope(user: User, requested: str | None = None) -> uuid.UUID | None:
    """The community a page shows: the user's own, or for an admin the one asked for (None = all)."""
    if user.role == Role.ADMIN:
        return parse_uuid(requested)
    own = user.community_id  # type: ignore[attr-defined]
    if own is None:
        raise PermissionDeniedException("Your account has no community.")
    return own


async def committee_in_scope(user: User, committee_id: uuid.UUID | None) -> Committee | None:
    """A committee the user may see, or None; 404 for one outside their community."""
    if committee_id is None:
        return None
    committee = await Committee.get_or_none(id=committee_id)
    if committee is None:
        raise NotFoundException("No such residential committee.")
    if user.role != Role.ADMIN and committee.community_id != user.community_id:  # type: ignore[attr-defined]
        raise NotFoundException("No such residential committee.")
    return committee


def in_community(query: Any, user: User) -> Any:
    """``query`` narrowed to the user's community; an admin's is left whole. The one place the
    staff pages apply the coordinator's boundary to a table with a ``community_id``."""
    if user.role == Role.ADMIN:
        return query
    return query.filter(community_id=user.community_id)  # type: ignore[attr-defined]


async def open_conflicts(user: User) -> int:
    return await in_community(Conflict.filter(status=ConflictStatus.OPEN.value), user).count()


async def communities_for(user: User) -> list[Community]:
    if user.role == Role.ADMIN:
        return await Community.all().order_by("name")
    return await Community.filter(id=user.community_id).order_by("name")  # type: ignore[attr-defined]


async def committees_for(user: User, community_id: uuid.UUID | None) -> list[Committee]:
    query = Committee.all()
    if community_id is not None:
        query = query.filter(community_id=community_id)
    return await query.order_by("name")


async def page(
    request: Req,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    section: str = "",
    **response_kwargs: Any,
) -> Template:
    """Render a staff page in the request's language, with the navigation filled in."""
    user = current_user(request)
    ctx = dict(context or {})
    ctx["me"] = user
    ctx["section"] = section
    ctx["is_staff"] = user.role in STAFF
    ctx["is_admin"] = user.role == Role.ADMIN
    ctx["open_conflicts"] = await open_conflicts(user) if user.role in STAFF else 0
    ctx["query"] = dict(request.query_params)
    return i18n.render(request, template, ctx, **response_kwargs)


def translate(request: Req, message: str, **values: Any) -> str:
    return i18n.translate(i18n.language_of(request), message, **values)
