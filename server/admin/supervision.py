"""``/admin/supervision``: the log of coordinators' supervision of their peer leaders (SPEC 2):
list and filter, record, edit, void with a reason; each peer leader's last supervision, and
those not supervised in the last 30 days flagged.

Every save is one engine write (``server.admin.support.save``): versions, merge, conflicts and
audit as for any record, and the engine's per-field messages shown on the form.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
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
    parse_uuid,
)
from server.admin.support import (
    Errors,
    changed,
    instant_from_input,
    leaders_in,
    local_input,
    record_in_scope,
    save,
    version_of,
    void,
    words,
)
from server.auth.session import current_user
from server.deps import AppSettings, CurrentUser, Req
from server.reports import start_of
from sync.models import Supervision, SupervisionMode, User

PAGE_SIZE = 50
# A peer leader not supervised for this long is flagged (the dashboard's coverage uses 30 too).
DUE_DAYS = 30
MODES = [m.value for m in SupervisionMode]
# Topics offered as ticks; others may be typed (the wire takes any lower-case words).
TOPICS = (
    "contacts",
    "referrals",
    "difficult_situations",
    "boundaries",
    "records",
    "group_activities",
    "self_care",
)


def _filtered(user: User, q: Any, zone: Any) -> tuple[Any, uuid.UUID | None]:
    community_id = community_scope(user, q.get("community"))
    query = in_community(Supervision.all(), user)
    if community_id is not None:
        query = query.filter(community_id=community_id)
    leader = parse_uuid(q.get("peer_leader"))
    if leader is not None:
        query = query.filter(peer_leader_id=leader)
    since, until = parse_date(q.get("since")), parse_date(q.get("until"))
    if since is not None:
        query = query.filter(occurred_at__gte=start_of(since, zone))
    if until is not None:
        query = query.filter(occurred_at__lt=start_of(until + timedelta(days=1), zone))
    if not q.get("voided"):
        query = query.filter(voided=False)
    return query, community_id


async def last_supervised(leaders: list[User], now: datetime) -> list[dict[str, Any]]:
    """Each peer leader with the time of their last (not voided) supervision, and whether it is
    more than ``DUE_DAYS`` ago or never happened."""
    rows = await Supervision.filter(
        voided=False, peer_leader_id__in=[u.id for u in leaders]
    ).values_list("peer_leader_id", "occurred_at")
    last: dict[Any, datetime] = {}
    for leader_id, at in rows:
        if leader_id not in last or at > last[leader_id]:
            last[leader_id] = at
    due = now - timedelta(days=DUE_DAYS)
    return [
        {"leader": u, "last": last.get(u.id), "due": last.get(u.id) is None or last[u.id] < due}
        for u in leaders
    ]


@get("/admin/supervision", name="admin-supervision")
async def supervision_page(request: Req, user: CurrentUser, settings: AppSettings) -> Template:
    q = request.query_params
    query, community_id = _filtered(user, q, settings.zone)
    page_no = page_number(q.get("page"))
    total = await query.count()
    rows = (
        await query.order_by("-occurred_at")
        .offset((page_no - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .values(
            "id",
            "occurred_at",
            "mode",
            "topics",
            "concerns",
            "follow_up",
            "voided",
            "void_reason",
            leader_name="peer_leader__display_name",
            supervisor_name="supervisor__display_name",
        )
    )
    for row in rows:
        row["occurred_at"] = row["occurred_at"].astimezone(settings.zone)
    leaders = await leaders_in(community_id)
    coverage = await last_supervised(leaders, datetime.now(UTC))
    for c in coverage:
        c["last"] = c["last"] and c["last"].astimezone(settings.zone)
    return await page(
        request,
        "admin/supervision.html",
        {
            "rows": rows,
            "total": total,
            "page_no": page_no,
            "has_next": page_no * PAGE_SIZE < total,
            "leaders": leaders,
            "coverage": coverage,
            "due_days": DUE_DAYS,
            "communities": await communities_for(user),
            "community_id": community_id,
            "args": {k: v for k, v in q.items() if k != "page" and v},
            "saved": q.get("saved"),
        },
        section="supervision",
    )


def _values(s: Supervision | None, zone: Any) -> dict[str, Any]:
    if s is None:
        return {"occurred_at": local_input(datetime.now(UTC), zone), "mode": "in_person"}
    topics = list(s.topics or [])
    return {
        "peer_leader_id": str(s.peer_leader_id),  # type: ignore[attr-defined]
        "occurred_at": local_input(s.occurred_at, zone),
        "mode": s.mode,
        "topics": [t for t in topics if t in TOPICS],
        "topics_other": ", ".join(t for t in topics if t not in TOPICS),
        "concerns": s.concerns or "",
        "follow_up": s.follow_up or "",
    }


def _wire(values: dict[str, Any], zone: Any) -> dict[str, Any]:
    """The form's values as the engine's wire fields."""
    return {
        "peer_leader_id": values.get("peer_leader_id") or None,
        "occurred_at": instant_from_input(values.get("occurred_at", ""), zone),
        "mode": values.get("mode") or None,
        "topics": [*values.get("topics", []), *words(values.get("topics_other", ""))],
        "concerns": values.get("concerns", "").strip() or None,
        "follow_up": values.get("follow_up", "").strip() or None,
    }


async def _posted(request: Req) -> dict[str, Any]:
    form = await request.form()
    values = {
        name: str(form.get(name, "") or "")
        for name in (
            "peer_leader_id",
            "occurred_at",
            "mode",
            "topics_other",
            "concerns",
            "follow_up",
        )
    }
    return {**values, "topics": [str(t) for t in form.getall("topics", []) if str(t) in TOPICS]}


async def _form(
    request: Req,
    values: dict[str, Any],
    record: Supervision | None,
    errors: Errors | None = None,
) -> Template:
    user = current_user(request)
    community_id = record.community_id if record else community_scope(user, None)  # type: ignore[attr-defined]
    return await page(
        request,
        "admin/supervision_form.html",
        {
            "v": values,
            "record": record,
            "errors": errors or {},
            "leaders": await leaders_in(community_id),
            "modes": MODES,
            "topics": TOPICS,
            "saved": request.query_params.get("saved"),
        },
        section="supervision",
        status_code=422 if errors else 200,
    )


@get("/admin/supervision/new", name="admin-supervision-new")
async def new_supervision(request: Req, settings: AppSettings) -> Template:
    values = _values(None, settings.zone)
    leader = parse_uuid(request.query_params.get("peer_leader"))
    if leader is not None:
        values["peer_leader_id"] = str(leader)
    return await _form(request, values, None)


@post("/admin/supervision", status_code=303)
async def create_supervision(request: Req, settings: AppSettings) -> Template | Redirect:
    values = await _posted(request)
    fields = {k: v for k, v in _wire(values, settings.zone).items() if v not in (None, [])}
    result, errors = await save(request, "supervision", uuid.uuid4(), fields, 0)
    if result is None:
        return await _form(request, values, None, errors)
    return Redirect(f"/admin/supervision?saved={result.id}", status_code=303)


@get("/admin/supervision/{record_id:uuid}", name="admin-supervision-edit")
async def edit_supervision(
    request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
) -> Template:
    record = await record_in_scope(Supervision, user, record_id)
    return await _form(request, _values(record, settings.zone), record)


@post("/admin/supervision/{record_id:uuid}", status_code=303)
async def save_supervision(
    request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    record = await record_in_scope(Supervision, user, record_id)
    values = await _posted(request)
    before = _wire(_values(record, settings.zone), settings.zone)
    fields = changed(_wire(values, settings.zone), before)
    if fields:
        base = version_of(await request.form(), record.version)
        result, errors = await save(request, "supervision", record.id, fields, base)
        if result is None:
            return await _form(request, values, record, errors)
        if result.status == "conflict":
            return Redirect(f"/admin/conflicts/{result.conflict_id}", status_code=303)
    return Redirect(f"/admin/supervision/{record.id}?saved=1", status_code=303)


@post("/admin/supervision/{record_id:uuid}/void", status_code=303)
async def void_supervision(
    request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    record = await record_in_scope(Supervision, user, record_id)
    result, errors = await void(request, "supervision", record)
    if result is None:
        return await _form(request, _values(record, settings.zone), record, errors)
    return Redirect("/admin/supervision?saved=voided", status_code=303)


ROUTES = [
    supervision_page,
    new_supervision,
    create_supervision,
    edit_supervision,
    save_supervision,
    void_supervision,
]
