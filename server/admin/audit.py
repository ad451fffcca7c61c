"""``/admin/audit``: the audit log, read-only.

Two append-only tables make the log: ``audit_event`` (pulls, sign-ins, passkeys, invites,
devices, exports, resolutions, …) and ``mutation``, whose row for each received mutation is
also its audit event (action ``sync.<status>``: applied, merged, conflict or rejected). The
page filters both alike, reads at most ``offset + page size`` rows of each, newest first, and
merges them by time. A mutation's values are never shown, only its field names.

A phone pulls every few minutes, and most pulls bring nothing: those empty ``sync.pull`` events
are folded out of the list into one line per device (how many, first and last), unless the
``sync.pull`` action is asked for. Times are shown in the program's time zone.

There is deliberately no route here (or anywhere) that edits or deletes an audit event: the log
is append-only, and a test checks that no unsafe method reaches it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar import get
from litestar.response import Template
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.functions import Count, Max, Min

from server.admin.common import page, page_number, parse_date
from server.deps import AppSettings, CurrentUser, Req
from server.reports import start_of
from sync import db
from sync.entities import REGISTRY
from sync.models import AuditEvent, Conflict, Mutation, MutationStatus, Role, User

PAGE_SIZE = 50
SYNC_ACTIONS = {f"sync.{s.value}": s.value for s in MutationStatus}


@get("/admin/audit", name="admin-audit")
async def audit_page(request: Req, user: CurrentUser, settings: AppSettings) -> Template:
    q = request.query_params
    events_where, mutations_where = Q(), Q()
    with_events, with_mutations = True, True
    if user.role != Role.ADMIN:
        # A coordinator sees what people of their community did.
        events_where &= Q(actor__community_id=user.community_id)  # type: ignore[attr-defined]
        mutations_where &= Q(user__community_id=user.community_id)  # type: ignore[attr-defined]
    who = (q.get("user") or "").strip()
    if who:
        events_where &= Q(actor__username=who)
        mutations_where &= Q(user__username=who)
    action = (q.get("action") or "").strip()
    if action:
        events_where &= Q(action=action)
        if action in SYNC_ACTIONS:
            mutations_where &= Q(status=SYNC_ACTIONS[action])
        else:
            with_mutations = False
    record = (q.get("record") or "").strip()
    record_id: uuid.UUID | None = None
    if record:
        events_where &= Q(record_id=record)
        try:
            record_id = uuid.UUID(record)
        except ValueError:
            with_mutations = False  # a mutation's record id is always a UUID
        else:
            mutations_where &= Q(record_id=record_id)
    since, until = parse_date(q.get("since")), parse_date(q.get("until"))
    if since:
        events_where &= Q(at__gte=start_of(since))
        mutations_where &= Q(received_at__gte=start_of(since))
    if until:
        events_where &= Q(at__lt=start_of(until + timedelta(days=1)))
        mutations_where &= Q(received_at__lt=start_of(until + timedelta(days=1)))
    page_no = page_number(q.get("page"))
    empty_pulls: list[dict[str, Any]] = []
    listed = AuditEvent.filter(events_where)
    if with_events and action != "sync.pull":
        empty = Q(action="sync.pull", pulled=0)
        empty_pulls = await _empty_pulls(
            AuditEvent.filter(events_where).annotate(pulled=_pull_count()).filter(empty)
        )
        listed = listed.annotate(pulled=_pull_count()).filter(~empty)
    # Rows of the requested page and the one after (to know whether there is a next page).
    wanted = page_no * PAGE_SIZE + 1
    merged: list[dict[str, Any]] = []
    if with_events:
        merged.extend(
            await listed.order_by("-at", "-id")
            .limit(wanted)
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
    for where in await _record_parts(mutations_where, record_id) if with_mutations else []:
        merged.extend(
            _mutation_event(m)
            for m in await Mutation.filter(where)
            .order_by("-received_at", "-id")
            .limit(wanted)
            .values(
                "id",
                "received_at",
                "mutation_id",
                "status",
                "entity",
                "record_id",
                "version",
                "changes",
                "result",
                "device_id",
                "request_id",
                actor_name="user__username",
            )
        )
    merged.sort(key=lambda e: (e["at"], e.get("source", 0), e["id"]), reverse=True)
    start = (page_no - 1) * PAGE_SIZE
    events = merged[start : start + PAGE_SIZE]
    has_next = len(merged) > start + PAGE_SIZE
    await _add_conflict_fields(events)
    actions = sorted(
        set(await AuditEvent.all().distinct().values_list("action", flat=True)) | set(SYNC_ACTIONS)
    )
    users = await User.all().order_by("username").values_list("username", flat=True)
    args = {k: v for k, v in q.items() if k != "page" and v}
    zone = settings.zone
    for e in events:
        e["at"] = e["at"].astimezone(zone)
    for row in empty_pulls:
        row["first"], row["last"] = row["first"].astimezone(zone), row["last"].astimezone(zone)
    return await page(
        request,
        "admin/audit.html",
        {
            "events": events,
            "page_no": page_no,
            "has_next": has_next,
            "actions": actions,
            "users": users,
            "args": args,
            "zone": str(zone),
            "empty_pulls": empty_pulls,
        },
        section="audit",
    )


async def _record_parts(where: Q, record_id: uuid.UUID | None) -> list[Q]:
    """The mutation filter, or, for one record, the two halves the log's indexes answer: the
    rows that are not a creation (``changes`` set: the partial index on ``(record_id, version)``
    that leaves creations out, migration 0011), and its creation, the row whose ``changes`` is
    NULL, written at the record's ``created_at`` (through the ``received_at`` index, comparing
    the stored values). A creation is not in the record index, so that a push of new records
    does not write to it."""
    if record_id is None:
        return [where]
    # Tortoise writes this ``NOT "changes" IS NULL``: the index's condition, word for word.
    parts = [where & Q(changes__isnull=False)]
    for entity in REGISTRY.values():
        if entity.columns.get("id") != "uuid":
            continue
        record = entity.model.filter(id=record_id)
        if await record.exists():
            created = Subquery(record.values("created_at"))
            parts.append(where & Q(changes__isnull=True, received_at__in=created))
    return parts


def _pull_count() -> RawSQL:
    """A ``sync.pull`` event's record count (``detail.count``), read by the database; -1 for
    other events."""
    if db.dialect() == "postgres":
        return RawSQL("COALESCE((detail->>'count')::int, -1)")
    return RawSQL("COALESCE(json_extract(detail, '$.count'), -1)")


async def _empty_pulls(query: Any) -> list[dict[str, Any]]:
    """One line per device (and user) for the pulls that brought nothing, busiest first."""
    rows = await (
        query.annotate(n=Count("id"), first=Min("at"), last=Max("at"))
        .group_by("device_id", "actor__username")
        .values("device_id", "n", "first", "last", actor_name="actor__username")
    )
    return sorted(rows, key=lambda r: (-r["n"], str(r["device_id"])))


def _mutation_event(m: dict[str, Any]) -> dict[str, Any]:
    """A mutation row as an audit event: ids, action, status and field names, never a value."""
    at: datetime = m["received_at"]
    result: dict[str, Any] = m["result"] or {}
    detail: dict[str, Any] = {"mutation_id": m["mutation_id"], "status": m["status"]}
    if m["version"] is not None and m["status"] != MutationStatus.REJECTED.value:
        detail["version"] = m["version"]
    if m["changes"]:
        detail["fields"] = sorted(m["changes"])
    elif m["changes"] is None and m["version"] == 1:
        detail["created"] = True  # a creation's log row keeps no changes: they are the record
    if result.get("errors"):
        detail["errors"] = sorted(result["errors"])
    if result.get("conflict_id"):
        detail["conflict_id"] = result["conflict_id"]
    return {
        "id": m["id"],
        "source": 1,  # at one instant, after the audit events (the tables count ids apart)
        "at": at,
        "action": f"sync.{m['status']}",
        "entity": m["entity"],
        "record_id": str(m["record_id"]),
        "device_id": m["device_id"],
        "request_id": m["request_id"],
        "detail": detail,
        "actor_name": m["actor_name"],
    }


async def _add_conflict_fields(events: list[dict[str, Any]]) -> None:
    """The names of the conflicting fields of the page's ``sync.conflict`` events (one query)."""
    ids = [
        e["detail"]["conflict_id"]
        for e in events
        if e.get("source") == 1 and e["detail"].get("conflict_id")
    ]
    if not ids:
        return
    names = {
        str(c["id"]): sorted(c["fields_json"] or {})
        for c in await Conflict.filter(id__in=ids).values("id", "fields_json")
    }
    for e in events:
        if e.get("source") == 1 and e["detail"].get("conflict_id") in names:
            e["detail"]["conflict_fields"] = names[e["detail"]["conflict_id"]]


ROUTES = [audit_page]
