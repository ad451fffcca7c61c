"""``/admin/training``: training sessions for peer leaders (SPEC 2): title, date, hours, note,
and the peer leaders present ticked from the community's list; edit and void.

A coordinator's sessions belong to their community (set by the engine); an administrator's are
the whole program's. Every save is one engine write (``server.admin.support.StaffLog``).
"""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.response import Template

from server.admin.common import page, parse_date
from server.admin.conflicts import typed_value
from server.admin.support import StaffLog, leaders_in
from server.deps import AppSettings, CurrentUser, Req
from server.reports import today_in
from sync.models import Training


@get("/admin/training", name="admin-training")
async def training_page(request: Req, user: CurrentUser) -> Template:
    q = request.query_params
    query, community_id = LOG.listed(user, q)
    since, until = parse_date(q.get("since")), parse_date(q.get("until"))
    if since is not None:
        query = query.filter(held_on__gte=since)
    if until is not None:
        query = query.filter(held_on__lte=until)
    context = await LOG.page_of(
        request,
        user,
        query,
        community_id,
        ("-held_on", "title"),
        *("id", "title", "held_on", "hours", "note", "attendee_ids", "voided"),
    )
    names = {str(u.id): u.display_name for u in await leaders_in(community_id)}
    for row in context["rows"]:
        present = row["attendee_ids"] or []
        # A coordinator sees the names of their own community's peer leaders only.
        row["names"] = [names[i] for i in present if i in names]
        row["others"] = len(present) - len(row["names"])
    return await page(request, "admin/training.html", context, section="training")


class TrainingLog(StaffLog):
    entity = "training"
    model = Training

    def values(self, t: Training | None, settings: AppSettings) -> dict[str, Any]:
        if t is None:
            return {"held_on": today_in(settings.zone).isoformat(), "attendee_ids": []}
        return {
            "title": t.title,
            "held_on": t.held_on.isoformat(),
            "hours": "" if t.hours is None else f"{t.hours:g}",
            "note": t.note or "",
            "attendee_ids": list(t.attendee_ids or []),
        }

    def wire(self, values: dict[str, Any], settings: AppSettings) -> dict[str, Any]:
        return {
            "title": values.get("title", "").strip() or None,
            "held_on": values.get("held_on", "").strip() or None,
            "hours": typed_value("float", values.get("hours", "")),
            "note": values.get("note", "").strip() or None,
            "attendee_ids": list(values.get("attendee_ids", [])),
        }

    async def posted(self, request: Req) -> dict[str, Any]:
        form = await request.form()
        names = ("title", "held_on", "hours", "note")
        values: dict[str, Any] = {name: str(form.get(name, "") or "") for name in names}
        values["attendee_ids"] = [str(i) for i in form.getall("attendee_ids", [])]
        return values


LOG = TrainingLog()
ROUTES = [training_page, *LOG.routes()]
