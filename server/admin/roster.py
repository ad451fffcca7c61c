"""``/admin/roster``: one residential committee's participants, for volunteers and staff.

Roster fields only (SPEC 1): never a clinical value or a note, whoever looks. A volunteer sees
their own committee and nothing else; a coordinator any committee of their community.
"""

from __future__ import annotations

import uuid
from datetime import date, tzinfo
from typing import Any

from litestar import get, post
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from server.admin import writes
from server.admin.common import (
    ROSTER_ROLES,
    committee_in_scope,
    in_community,
    page,
    parse_uuid,
)
from server.auth.session import roles
from server.deps import AppSettings, CurrentUser, Req
from server.reports import is_overdue, today_in
from sync.models import Committee, Participant, Role, User

SORTS = {
    "address": lambda r: ((r["address"] or "").casefold(), r["full_name"]),
    "name": lambda r: (r["full_name"].casefold(),),
    "last_contact": lambda r: (r["last_contact_at"] is not None, r["last_contact_at"] or 0),
    "follow_up": lambda r: (r["next_follow_up_on"] is None, r["next_follow_up_on"] or 0),
    "peer_leader": lambda r: ((r["peer_leader_name"] or "").casefold(), r["full_name"]),
    "status": lambda r: (r["status"], r["full_name"]),
}
# Exactly what a roster row carries: adding a field here is a privacy decision (SPEC 1).
ROSTER_COLUMNS = (
    "id",
    "code",
    "full_name",
    "address",
    "phone",
    "status",
    "last_contact_at",
    "next_follow_up_on",
    "enrolled_on",
    "needs_visit",
    "needs_visit_reason",
    "version",
)


async def _committee_for(
    user: User, requested: str | None
) -> tuple[Committee | None, list[Committee]]:
    if user.role == Role.VOLUNTEER:
        own = await Committee.get_or_none(id=user.committee_id)  # type: ignore[attr-defined]
        return own, [own] if own else []
    query = in_community(Committee.all().select_related("community"), user)
    choices = await query.order_by("community__name", "name")
    chosen = await committee_in_scope(user, parse_uuid(requested)) if requested else None
    return chosen or (choices[0] if choices else None), choices


async def roster_rows(
    committee: Committee, *, today: date, zone: tzinfo, overdue_days: int
) -> list[dict[str, Any]]:
    """The committee's roster rows with their overdue flag as of ``today`` (a day in ``zone``);
    the last contact is given in ``zone`` so the page prints the program's day."""
    rows = await Participant.filter(committee_id=committee.id).values(
        *ROSTER_COLUMNS, peer_leader_name="peer_leader__display_name"
    )
    for r in rows:
        r["overdue"] = r["status"] == "active" and is_overdue(
            r["last_contact_at"],
            r["next_follow_up_on"],
            r["enrolled_on"],
            today,
            overdue_days,
            zone,
        )
        if r["last_contact_at"] is not None:
            r["last_contact_at"] = r["last_contact_at"].astimezone(zone)
        del r["enrolled_on"]
    return rows


@get("/admin/roster", opt=roles(*ROSTER_ROLES), name="admin-roster")
async def roster_page(request: Req, user: CurrentUser, settings: AppSettings) -> Template:
    q = request.query_params
    committee, choices = await _committee_for(user, q.get("committee"))
    day = today_in(settings.zone)
    rows = (
        await roster_rows(
            committee, today=day, zone=settings.zone, overdue_days=settings.overdue_days
        )
        if committee
        else []
    )
    if user.role == Role.VOLUNTEER:
        # SPEC 1: a volunteer's roster has no program code (staff look people up by it).
        for r in rows:
            r["code"] = None
    total = len(rows)
    status = q.get("status") or ""
    if status:
        rows = [r for r in rows if r["status"] == status]
    flag = q.get("flag") or ""
    if flag == "overdue":
        rows = [r for r in rows if r["overdue"]]
    elif flag == "needs_visit":
        rows = [r for r in rows if r["needs_visit"]]
    text = (q.get("q") or "").strip().casefold()
    if text:
        rows = [
            r
            for r in rows
            if text in r["full_name"].casefold()
            or text in (r["address"] or "").casefold()
            or text in (r["phone"] or "")
            or text in (r["code"] or "").casefold()
        ]
    sort = str(q.get("sort") or "")
    sort = sort if sort in SORTS else "address"
    rows.sort(key=SORTS[sort])
    community = await committee.community if committee else None
    return await page(
        request,
        "admin/roster.html",
        {
            "committee": committee,
            "community": community,
            "choices": choices,
            "rows": rows,
            "total": total,
            "sort": sort,
            "status": status,
            "flag": flag,
            "text": q.get("q") or "",
            "printed_on": day,
            "timezone": settings.timezone,
            "can_mark": user.role in (Role.VOLUNTEER, Role.COORDINATOR, Role.ADMIN),
        },
        section="roster",
    )


@post("/admin/roster/{participant_id:uuid}/needs-visit", opt=roles(*ROSTER_ROLES), status_code=303)
async def mark_needs_visit(
    request: Req,
    user: CurrentUser,
    participant_id: FromPath[uuid.UUID],
    data: URLEncodedBody[dict[str, str]],
) -> Redirect:
    """Mark (or clear) "needs visit" through the sync engine, like a phone would."""
    p = await Participant.get_or_none(id=participant_id)
    if p is None or not _may_see(user, p):
        raise NotFoundException("No such participant.")
    needs = data.get("needs_visit") == "1"
    reason = (data.get("reason") or "").strip()[:200] or None
    try:
        await writes.write(
            request,
            "participant",
            p.id,
            {"needs_visit": needs, "needs_visit_reason": reason if needs else None},
            base_version=_int(data.get("version")) or p.version,
        )
    except writes.WriteRefused as exc:
        # Field names and rules only: the engine's messages never quote a value.
        raise ClientException(status_code=422, detail=str(exc)) from None
    back = f"/admin/roster?committee={p.committee_id}"  # type: ignore[attr-defined]
    return Redirect(back, status_code=303)


def _may_see(user: User, p: Participant) -> bool:
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.VOLUNTEER:
        return bool(p.committee_id == user.committee_id)  # type: ignore[attr-defined]
    return bool(p.community_id == user.community_id)  # type: ignore[attr-defined]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


ROUTES = [roster_page, mark_needs_visit]
