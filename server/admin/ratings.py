"""``/admin/ratings``: quarterly implementation ratings (SPEC 2), one grid per quarter: a row per
peer leader of the community, the seven items 1–5 (the five key functions, use of the
residential committee, linkage to community resources) and a comment, with the previous
quarter's values beside them for reference.

Saving writes one rating per peer leader and quarter through the engine: the new ones together
(``writes.write_many``), an existing one as an edit at the version the grid showed (a new
version; merged or a conflict when someone changed it meanwhile). A row left empty writes
nothing; a refused value is named on its row.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from litestar import get, post
from litestar.exceptions import ValidationException
from litestar.response import Redirect, Template

from server.admin import writes
from server.admin.common import communities_for, community_scope, page
from server.admin.conflicts import typed_value
from server.admin.support import (
    Errors,
    changed,
    leaders_in,
    parse_quarter,
    recent_quarters,
    save,
    shift_quarter,
    version_of,
)
from server.auth.session import current_user
from server.deps import AppSettings, Req
from server.i18n import language_of, localize_errors
from server.reports import today_in
from sync.entities.implementation_rating import RATED
from sync.models import Community, ImplementationRating, Role, User

FIELDS = (*RATED, "comment")


async def _community(user: User, requested: str | None) -> uuid.UUID | None:
    """The community the grid rates: a coordinator's own; an administrator's choice, else the
    first community (a grid of every community's peer leaders would be too long to use)."""
    community_id = community_scope(user, requested)
    if community_id is None and user.role == Role.ADMIN:
        first = await Community.all().order_by("name").first()
        community_id = first.id if first else None
    return community_id


async def latest_ratings(
    community_id: uuid.UUID | None, period: str
) -> dict[uuid.UUID, ImplementationRating]:
    """Each peer leader's rating of ``period`` (the newest, if a second was recorded)."""
    rows = await ImplementationRating.filter(
        community_id=community_id, period=period, voided=False, peer_leader_id__isnull=False
    ).order_by("seq")
    return {r.peer_leader_id: r for r in rows}  # type: ignore[attr-defined]


def _values(r: ImplementationRating | None) -> dict[str, str]:
    if r is None:
        return {name: "" for name in FIELDS}
    out = {name: "" if getattr(r, name) is None else str(getattr(r, name)) for name in RATED}
    out["comment"] = r.comment or ""
    return out


def _wire(values: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {name: typed_value("int", values.get(name, "")) for name in RATED}
    out["comment"] = values.get("comment", "").strip() or None
    return out


def _period(value: str | None, settings: AppSettings) -> str:
    if value is None or value == "":
        return recent_quarters(today_in(settings.zone), 1)[0]
    if parse_quarter(value) is None:
        raise ValidationException("period: a quarter written YYYY-Qn, e.g. 2026-Q4")
    return value


async def _grid(
    request: Req,
    period: str,
    community_id: uuid.UUID | None,
    settings: AppSettings,
    posted: dict[str, dict[str, str]] | None = None,
    errors: dict[str, Errors] | None = None,
) -> Template:
    user = current_user(request)
    leaders = await leaders_in(community_id) if community_id else []
    current = await latest_ratings(community_id, period)
    previous = await latest_ratings(community_id, shift_quarter(period, -1))
    rows = [
        {
            "leader": leader,
            "rating": current.get(leader.id),
            "v": (posted or {}).get(str(leader.id)) or _values(current.get(leader.id)),
            "prev": _values(previous.get(leader.id)) if leader.id in previous else None,
            "errors": (errors or {}).get(str(leader.id), {}),
        }
        for leader in leaders
    ]
    q = request.query_params
    return await page(
        request,
        "admin/ratings.html",
        {
            "rows": rows,
            "period": period,
            "previous_period": shift_quarter(period, -1),
            "quarters": recent_quarters(today_in(settings.zone)),
            "items": RATED,
            "communities": await communities_for(user),
            "community_id": community_id,
            "saved": q.get("saved"),
            "conflicts": q.get("conflicts"),
            "has_errors": bool(errors),
        },
        section="ratings",
        status_code=422 if errors else 200,
    )


@get("/admin/ratings", name="admin-ratings")
async def ratings_page(request: Req, settings: AppSettings) -> Template:
    q = request.query_params
    user = current_user(request)
    period = _period(q.get("period"), settings)
    return await _grid(request, period, await _community(user, q.get("community")), settings)


@post("/admin/ratings", status_code=303)
async def save_ratings(request: Req, settings: AppSettings) -> Template | Redirect:
    user = current_user(request)
    form = await request.form()
    period = _period(str(form.get("period", "") or ""), settings)
    community_id = await _community(user, str(form.get("community", "") or ""))
    leaders = await leaders_in(community_id) if community_id else []
    current = await latest_ratings(community_id, period)
    posted: dict[str, dict[str, str]] = {}
    errors: dict[str, Errors] = {}
    new: list[tuple[uuid.UUID, Mapping[str, Any]]] = []
    owner: dict[str, str] = {}  # a new rating's id → its peer leader
    conflicts = saved = 0
    for leader in leaders:
        key = str(leader.id)
        values = {name: str(form.get(f"{key}.{name}", "") or "") for name in FIELDS}
        posted[key] = values
        wire = _wire(values)
        existing = current.get(leader.id)
        if existing is None:
            filled = {k: v for k, v in wire.items() if v is not None}
            if filled:
                rid = uuid.uuid4()
                owner[str(rid)] = key
                new.append((rid, {"peer_leader_id": key, "period": period, **filled}))
            continue
        fields = changed(wire, _wire(_values(existing)))
        if not fields:
            continue
        base = version_of({"version": form.get(f"{key}.version")}, existing.version)
        result, refused = await save(request, "implementation_rating", existing.id, fields, base)
        if result is None:
            errors[key] = refused
        else:
            saved += 1
            conflicts += result.status == "conflict"
    if new:
        lang = language_of(request)
        for result in await writes.write_many(request, user, "implementation_rating", new):
            if result.status == "rejected":
                errors[owner[result.id]] = localize_errors(lang, result.errors or {})
            else:
                saved += 1
    if errors:
        return await _grid(request, period, community_id, settings, posted, errors)
    back = {"period": period, "saved": str(saved)}
    if user.role == Role.ADMIN and community_id:
        back["community"] = str(community_id)
    if conflicts:
        back["conflicts"] = str(conflicts)
    return Redirect(f"/admin/ratings?{urlencode(back)}", status_code=303)


ROUTES = [ratings_page, save_ratings]
