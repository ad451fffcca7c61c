"""``/admin/audit``: the audit log, read-only.

There is deliberately no route here (or anywhere) that edits or deletes an audit event: the log
is append-only, and a test checks that no unsafe method reaches it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, get
from litestar.response import Template
from tortoise.expressions import Q

from server.admin.common import STAFF, page, parse_date
from server.auth.session import current_user, roles
from server.reports import start_of
from sync.models import AuditEvent, Role, User

PAGE_SIZE = 50


@get("/admin/audit", opt=roles(*STAFF), name="admin-audit")
async def audit_page(request: Request[Any, Any, Any]) -> Template:
    user = current_user(request)
    q = request.query_params
    where = Q()
    if user.role != Role.ADMIN:
        # A coordinator sees what people of their community did.
        where &= Q(actor__community_id=user.community_id)  # type: ignore[attr-defined]
    who = (q.get("user") or "").strip()
    if who:
        where &= Q(actor__username=who)
    action = (q.get("action") or "").strip()
    if action:
        where &= Q(action=action)
    record = (q.get("record") or "").strip()
    if record:
        where &= Q(record_id=record)
    since, until = parse_date(q.get("since")), parse_date(q.get("until"))
    if since:
        where &= Q(at__gte=start_of(since))
    if until:
        where &= Q(at__lt=start_of(until + timedelta(days=1)))
    try:
        page_no = max(1, int(q.get("page") or 1))
    except ValueError:
        page_no = 1
    events = (
        await AuditEvent.filter(where)
        .order_by("-id")
        .offset((page_no - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
        .values(
            "id",
            "at",
            "action",
            "entity",
            "record_id",
            "device_id",
            "request_id",
            "detail",
            actor_name="actor__username",
        )
    )
    has_next = len(events) > PAGE_SIZE
    actions = sorted(set(await AuditEvent.all().distinct().values_list("action", flat=True)))
    users = await User.all().order_by("username").values_list("username", flat=True)
    args = {k: v for k, v in q.items() if k != "page" and v}
    return await page(
        request,
        "admin/audit.html",
        {
            "events": events[:PAGE_SIZE],
            "page_no": page_no,
            "has_next": has_next,
            "actions": actions,
            "users": users,
            "args": args,
        },
        section="audit",
    )


ROUTES = [audit_page]
