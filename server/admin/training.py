"""``/admin/training``: training sessions for peer leaders (SPEC 2): title, date, hours, note,
and the peer leaders present ticked from the community's list; edit and void.

A coordinator's sessions belong to their community (set by the engine); an administrator's are
the whole program's. Every save is one engine write (``server.admin.support.save``).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from server.admin.common import (
    communities_for,
    community_scope,
    in_community,
    page,
    page_number,
    parse_date,
)
from server.admin.conflicts import typed_value
from server.admin.support import (
    Errors,
    changed,
    leaders_in,
    record_in_scope,
    save,
    version_of,
    void,
)
from server.auth.session import current_user
from server.deps import AppSettings, CurrentUser, Req
from server.reports import today_in
from sync.models import Training, User

PAGE_SIZE = 50


def _filtered(user: User, q: Any) -> tuple[Any, uuid.UUID | None]:
    community_id = community_scope(user, q.get("community"))
    query = in_community(Training.all(), user)
    if community_id is not None:
        query = query.filter(community_id=community_id)
    since, until = parse_date(q.get("since")), parse_date(q.get("until"))
    if since is not None:
        query = query.filter(held_on__gte=since)
    if until is not None:
        query = query.filter(held_on__lte=until)
    if not q.get("voided"):
        query = query.filter(voided=False)
    return query, community_id


@get("/admin/training", name="admin-training")
async def training_page(request: Req, user: CurrentUser) -> Template:
    q = request.query_params
    query, community_id = _filtered(user, q)
    page_no = page_number(q.get("page"))
    total = await query.count()
    rows = (
        await query.order_by("-held_on", "title")
        .offset((page_no - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .values("id", "title", "held_on", "hours", "note", "attendee_ids", "voided")
    )
    names = {str(u.id): u.display_name for u in await leaders_in(community_id)}
    for row in rows:
        present = row["attendee_ids"] or []
        # A coordinator sees the names of their own community's peer leaders only.
        row["names"] = [names[i] for i in present if i in names]
        row["others"] = len(present) - len(row["names"])
    return await page(
        request,
        "admin/training.html",
        {
            "rows": rows,
            "total": total,
            "page_no": page_no,
            "has_next": page_no * PAGE_SIZE < total,
            "communities": await communities_for(user),
            "community_id": community_id,
            "args": {k: v for k, v in q.items() if k != "page" and v},
            "saved": q.get("saved"),
        },
        section="training",
    )


def _values(t: Training | None, settings: AppSettings) -> dict[str, Any]:
    if t is None:
        return {"held_on": today_in(settings.zone).isoformat(), "attendee_ids": []}
    return {
        "title": t.title,
        "held_on": t.held_on.isoformat(),
        "hours": "" if t.hours is None else f"{t.hours:g}",
        "note": t.note or "",
        "attendee_ids": list(t.attendee_ids or []),
    }


def _wire(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": values.get("title", "").strip() or None,
        "held_on": values.get("held_on", "").strip() or None,
        "hours": typed_value("float", values.get("hours", "")),
        "note": values.get("note", "").strip() or None,
        "attendee_ids": list(values.get("attendee_ids", [])),
    }


async def _posted(request: Req) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {
        name: str(form.get(name, "") or "") for name in ("title", "held_on", "hours", "note")
    }
    values["attendee_ids"] = [str(i) for i in form.getall("attendee_ids", [])]
    return values


async def _form(
    request: Req, values: dict[str, Any], record: Training | None, errors: Errors | None = None
) -> Template:
    user = current_user(request)
    if record is not None:
        community_id = record.community_id  # type: ignore[attr-defined]
    else:
        community_id = community_scope(user, request.query_params.get("community"))
    return await page(
        request,
        "admin/training_form.html",
        {
            "v": values,
            "record": record,
            "errors": errors or {},
            "leaders": await leaders_in(community_id),
            "saved": request.query_params.get("saved"),
        },
        section="training",
        status_code=422 if errors else 200,
    )


@get("/admin/training/new", name="admin-training-new")
async def new_training(request: Req, settings: AppSettings) -> Template:
    return await _form(request, _values(None, settings), None)


@post("/admin/training", status_code=303)
async def create_training(request: Req) -> Template | Redirect:
    values = await _posted(request)
    fields = {k: v for k, v in _wire(values).items() if v not in (None, [])}
    result, errors = await save(request, "training", uuid.uuid4(), fields, 0)
    if result is None:
        return await _form(request, values, None, errors)
    return Redirect(f"/admin/training?saved={result.id}", status_code=303)


@get("/admin/training/{record_id:uuid}", name="admin-training-edit")
async def edit_training(
    request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
) -> Template:
    record = await record_in_scope(Training, user, record_id)
    return await _form(request, _values(record, settings), record)


@post("/admin/training/{record_id:uuid}", status_code=303)
async def save_training(
    request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    record = await record_in_scope(Training, user, record_id)
    values = await _posted(request)
    fields = changed(_wire(values), _wire(_values(record, settings)))
    if fields:
        base = version_of(await request.form(), record.version)
        result, errors = await save(request, "training", record.id, fields, base)
        if result is None:
            return await _form(request, values, record, errors)
        if result.status == "conflict":
            return Redirect(f"/admin/conflicts/{result.conflict_id}", status_code=303)
    return Redirect(f"/admin/training/{record.id}?saved=1", status_code=303)


@post("/admin/training/{record_id:uuid}/void", status_code=303)
async def void_training(
    request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    record = await record_in_scope(Training, user, record_id)
    result, errors = await void(request, "training", record)
    if result is None:
        return await _form(request, _values(record, settings), record, errors)
    return Redirect("/admin/training?saved=voided", status_code=303)


ROUTES = [
    training_page,
    new_training,
    create_training,
    edit_training,
    save_training,
    void_training,
]
