"""``/admin/conflicts``: the queue of sync conflicts, and resolving them field by field.

Resolution and dismissal are the engine's (``sync.engine.resolve_conflict`` /
``dismiss_conflict``): it writes the new version every device pulls, closes the conflict and
audits, in one transaction. This module only shows the three values and reads the choices.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from litestar import get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from tortoise import connections
from tortoise.expressions import Q

from server.admin import writes
from server.admin.common import in_community, page, page_number, parse_uuid, translate
from server.deps import CurrentUser, Req
from server.i18n import language_of, localize_errors
from sync import db as sync_db
from sync import engine, store
from sync.models import Conflict, ConflictStatus, Participant, User

PAGE_SIZE = 50


def field_kind(entity: str, name: str) -> str:
    return store.COLUMNS.get(store.TABLE.get(entity, entity), {}).get(name, "text")


def typed_value(kind: str, raw: str) -> Any:
    """A value typed in the form, as the wire carries it (the engine validates it)."""
    text = raw.strip()
    if text == "":
        return None
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            return text  # the engine answers with a clear per-field message
    if kind == "float":
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return text
    if kind == "bool":
        return text.lower() in ("1", "true", "yes", "y", "是")
    if kind == "json":
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return [
            part.strip()
            for part in text.replace("；", ";").replace(";", ",").split(",")
            if part.strip()
        ]
    return text


def shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _scoped(user: User) -> Any:
    return in_community(Conflict.all(), user)


@get("/admin/conflicts", name="admin-conflicts")
async def conflicts_page(request: Req, user: CurrentUser) -> Template:
    q = request.query_params
    status = q.get("status", ConflictStatus.OPEN.value)
    where = Q()
    if status in {s.value for s in ConflictStatus}:
        where &= Q(status=status)
    record = (q.get("record") or "").strip()
    if record:
        record_id = parse_uuid(record)
        if record_id is not None:
            where &= Q(record_id=record_id)
        else:
            # A participant code finds that participant's conflicts.
            ids = await Participant.filter(code=record).values_list("id", flat=True)
            where &= Q(record_id__in=list(ids) or [uuid.UUID(int=0)])
    who = (q.get("user") or "").strip()
    if who:
        where &= Q(user__username=who) | Q(resolved_by__username=who)
    page_no = page_number(q.get("page"))
    rows = (
        await _scoped(user)
        .filter(where)
        .order_by("-created_at")
        .offset((page_no - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
        .values(
            "id",
            "entity",
            "record_id",
            "status",
            "created_at",
            "resolved_at",
            "fields_json",
            "device_id",
            user_name="user__display_name",
            resolver_name="resolved_by__display_name",
        )
    )
    labels = await _record_labels([r["record_id"] for r in rows])
    for r in rows:
        r["label"] = labels.get(r["record_id"], "")
        r["field_names"] = sorted(r.pop("fields_json") or {})
    args = {k: v for k, v in q.items() if k != "page" and v}
    return await page(
        request,
        "admin/conflicts.html",
        {
            "rows": rows[:PAGE_SIZE],
            "has_next": len(rows) > PAGE_SIZE,
            "page_no": page_no,
            "status": status,
            "args": args,
        },
        section="conflicts",
    )


async def _record_labels(ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return {
        pid: f"{code} {name}"
        for pid, code, name in await Participant.filter(id__in=ids).values_list(
            "id", "code", "full_name"
        )
    }


async def _conflict_for(user: User, conflict_id: uuid.UUID) -> Conflict:
    conflict = (
        await _scoped(user)
        .filter(id=conflict_id)
        .select_related("user", "device", "resolved_by")
        .first()
    )
    if conflict is None:
        raise NotFoundException("No such conflict.")
    return conflict


async def _detail(
    request: Req, conflict: Conflict, errors: dict[str, list[str]] | None = None
) -> Template:
    current: dict[str, Any] = {}
    labels = await _record_labels([conflict.record_id])
    if conflict.entity in store.TABLE:
        rows = await store.fetch_by_ids(
            connections.get("default"),
            store.Dialect(sync_db.dialect()),
            store.TABLE[conflict.entity],
            [str(conflict.record_id)],
        )
        current = rows[0] if rows else {}
    fields = []
    for name, sides in sorted((conflict.fields_json or {}).items()):
        choice = (conflict.resolution or {}).get(name, {}).get("choice")
        fields.append(
            {
                "name": name,
                "base": shown(sides.get("base")),
                "server": shown(sides.get("server")),
                "device": shown(sides.get("device")),
                "now": shown(current.get(name)),
                "changed_since": current.get(name) != sides.get("server"),
                "choice": choice,
                "errors": (errors or {}).get(name, []),
            }
        )
    return await page(
        request,
        "admin/conflict.html",
        {
            "c": conflict,
            "label": labels.get(conflict.record_id, ""),
            "fields": fields,
            "current_version": current.get("version"),
            "errors": errors or {},
        },
        section="conflicts",
        status_code=422 if errors else 200,
    )


@get("/admin/conflicts/{conflict_id:uuid}", name="admin-conflict")
async def conflict_page(
    request: Req, user: CurrentUser, conflict_id: FromPath[uuid.UUID]
) -> Template:
    return await _detail(request, await _conflict_for(user, conflict_id))


@post("/admin/conflicts/{conflict_id:uuid}/resolve", status_code=303)
async def resolve(
    request: Req, user: CurrentUser, conflict_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    conflict = await _conflict_for(user, conflict_id)
    form = await request.form()
    choices: dict[str, tuple[Any, Any]] = {}
    for name in conflict.fields_json or {}:
        kind = form.get(f"choice__{name}", "server")
        if kind == "value":
            raw = form.get(f"value__{name}", "")
            choices[name] = ("value", typed_value(field_kind(conflict.entity, name), str(raw)))
        elif kind in ("server", "device"):
            choices[name] = (kind, None)
    try:
        result = await engine.resolve_conflict(
            conflict.id, user, choices, request_id=writes.request_id(request)
        )
    except engine.ConflictClosed:
        return Redirect(f"/admin/conflicts/{conflict.id}", status_code=303)
    except engine.NotAllowed:
        raise PermissionDeniedException(
            translate(request, "You may not resolve this conflict.")
        ) from None
    if result.status == "rejected":
        errors = localize_errors(language_of(request), result.errors or {})
        return await _detail(request, conflict, errors)
    return Redirect(f"/admin/conflicts/{conflict.id}", status_code=303)


@post("/admin/conflicts/{conflict_id:uuid}/dismiss", status_code=303)
async def dismiss(request: Req, user: CurrentUser, conflict_id: FromPath[uuid.UUID]) -> Redirect:
    conflict = await _conflict_for(user, conflict_id)
    try:
        await engine.dismiss_conflict(conflict.id, user, request_id=writes.request_id(request))
    except engine.ConflictClosed:
        pass
    except engine.NotAllowed:
        raise PermissionDeniedException(
            translate(request, "You may not resolve this conflict.")
        ) from None
    return Redirect(f"/admin/conflicts/{conflict.id}", status_code=303)


ROUTES = [conflicts_page, conflict_page, resolve, dismiss]
