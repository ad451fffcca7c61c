"""``/admin/dashboard``: the program at a glance, as server-rendered SVG charts with tables."""

from __future__ import annotations

import time
from typing import Any

from litestar import get
from litestar.exceptions import ValidationException
from litestar.response import Template

from server import evaluation, reports
from server.admin.common import (
    committee_in_scope,
    committees_for,
    communities_for,
    community_scope,
    page,
    parse_date,
    parse_uuid,
)
from server.deps import AppSettings, CurrentUser, Req
from sync.models import Role, User


def bars(rows: list[tuple[str, float]]) -> dict[str, Any]:
    """Geometry for a horizontal bar chart: one row per bar, label above its bar."""
    top = max((v for _, v in rows), default=0) or 1
    row_h, bar_w = 40, 220
    return {
        "height": row_h * len(rows) + 4,
        "rows": [
            {
                "label": label,
                "value": value,
                "y": i * row_h,
                "w": round(bar_w * value / top, 1),
            }
            for i, (label, value) in enumerate(rows)
        ],
    }


@get("/admin/dashboard", name="admin-dashboard")
async def dashboard_page(request: Req, user: CurrentUser, settings: AppSettings) -> Template:
    started = time.perf_counter()
    q = request.query_params
    zone = settings.zone
    now = reports.today_in(zone)
    default = reports.Filters.default(now)
    community_id = community_scope(user, q.get("community"))
    committee = await committee_in_scope(user, parse_uuid(q.get("committee")))
    if committee is not None and community_id is None:
        community_id = committee.community_id  # type: ignore[attr-defined]
    leader_id = parse_uuid(q.get("peer_leader"))
    since = parse_date(q.get("since")) or default.since
    until = parse_date(q.get("until")) or default.until
    if until < since:
        since, until = until, since
    f = reports.Filters(
        since=since,
        until=until,
        community_id=community_id,
        committee_id=committee.id if committee else None,
        peer_leader_id=leader_id,
    )
    communities = await communities_for(user)
    committees = await committees_for(user, community_id) if community_id else []
    leaders_q = User.filter(role=Role.PEER_LEADER)
    if community_id:
        leaders_q = leaders_q.filter(community_id=community_id)
    leaders = await leaders_q.order_by("display_name").values("id", "display_name")
    if committee is not None:
        by, labels = "peer_leader_id", {r["id"]: r["display_name"] for r in leaders}
    elif community_id is not None:
        by, labels = "committee_id", {c.id: c.name for c in committees}
    else:
        by, labels = "community_id", {c.id: c.name for c in communities}
    window = evaluation.parse_window(q.get("window_from"), q.get("window_to"))
    if isinstance(window, str):
        raise ValidationException(
            f"{window}: the follow-up window is whole months, 0 to {evaluation.WINDOW_LIMIT},"
            " its start not after its end"
        )
    d = await reports.dashboard(
        f, today=now, zone=zone, overdue_days=settings.overdue_days, by=by, labels=labels
    )
    ev = await evaluation.evaluation(f, today=now, zone=zone, active=d.active, window=window)
    return await page(
        request,
        "admin/dashboard.html",
        {
            "d": d,
            "ev": ev,
            "window_limit": evaluation.WINDOW_LIMIT,
            "scatter": evaluation.scatter,
            "f": f,
            "breakdown": d.breakdown,
            "breakdown_by": by,
            "communities": communities,
            "committees": committees,
            "leaders": leaders,
            "bars": bars,
            "overdue_days": settings.overdue_days,
            "timezone": settings.timezone,
            "server_ms": round((time.perf_counter() - started) * 1000),
        },
        section="dashboard",
    )


ROUTES = [dashboard_page]
