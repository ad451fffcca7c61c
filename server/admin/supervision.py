"""``/admin/supervision``: the log of coordinators' supervision of their peer leaders (SPEC 2):
list and filter, record, edit, void with a reason; each peer leader's last supervision, and
those not supervised in the last 30 days flagged.

Every save is one engine write (``server.admin.support.StaffLog``): versions, merge, conflicts and
audit as for any record, and the engine's per-field messages shown on the form.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from litestar import get
from litestar.response import Template

from server.admin.common import (
    page,
    parse_date,
    parse_uuid,
)
from server.admin.support import (
    StaffLog,
    instant_from_input,
    leaders_in,
    local_input,
    words,
)
from server.deps import AppSettings, CurrentUser, Req
from server.reports import start_of
from sync.models import Supervision, SupervisionMode, User

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
    query, community_id = LOG.listed(user, q)
    leader = parse_uuid(q.get("peer_leader"))
    if leader is not None:
        query = query.filter(peer_leader_id=leader)
    since, until = parse_date(q.get("since")), parse_date(q.get("until"))
    if since is not None:
        query = query.filter(occurred_at__gte=start_of(since, zone))
    if until is not None:
        query = query.filter(occurred_at__lt=start_of(until + timedelta(days=1), zone))
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
    query, community_id = _filtered(user, request.query_params, settings.zone)
    context = await LOG.page_of(
        request,
        user,
        query,
        community_id,
        ("-occurred_at",),
        "id",
        "occurred_at",
        "mode",
        "topics",
        "concerns",
        "follow_up",
        "voided",
        leader_name="peer_leader__display_name",
        supervisor_name="supervisor__display_name",
    )
    for row in context["rows"]:
        row["occurred_at"] = row["occurred_at"].astimezone(settings.zone)
    leaders = await leaders_in(community_id)
    coverage = await last_supervised(leaders, datetime.now(UTC))
    for c in coverage:
        c["last"] = c["last"] and c["last"].astimezone(settings.zone)
    context.update(leaders=leaders, coverage=coverage, due_days=DUE_DAYS)
    return await page(request, "admin/supervision.html", context, section="supervision")


class SupervisionLog(StaffLog):
    entity = "supervision"
    model = Supervision
    extra: ClassVar[dict[str, Any]] = {"modes": MODES, "topics": TOPICS}

    def values(self, s: Supervision | None, settings: AppSettings) -> dict[str, Any]:
        zone = settings.zone
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

    def new_values(self, request: Req, settings: AppSettings) -> dict[str, Any]:
        values = self.values(None, settings)
        leader = parse_uuid(request.query_params.get("peer_leader"))  # from the coverage list
        if leader is not None:
            values["peer_leader_id"] = str(leader)
        return values

    def wire(self, values: dict[str, Any], settings: AppSettings) -> dict[str, Any]:
        return {
            "peer_leader_id": values.get("peer_leader_id") or None,
            "occurred_at": instant_from_input(values.get("occurred_at", ""), settings.zone),
            "mode": values.get("mode") or None,
            "topics": [*values.get("topics", []), *words(values.get("topics_other", ""))],
            "concerns": values.get("concerns", "").strip() or None,
            "follow_up": values.get("follow_up", "").strip() or None,
        }

    async def posted(self, request: Req) -> dict[str, Any]:
        form = await request.form()
        names = ("peer_leader_id", "occurred_at", "mode", "topics_other", "concerns", "follow_up")
        values: dict[str, Any] = {name: str(form.get(name, "") or "") for name in names}
        values["topics"] = [str(t) for t in form.getall("topics", []) if str(t) in TOPICS]
        return values


LOG = SupervisionLog()
ROUTES = [supervision_page, *LOG.routes()]
