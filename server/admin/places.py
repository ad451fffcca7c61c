"""``/admin/places``: communities, residential committees and groups (with their leaders).

Communities and committees are not synced records: they are written here, and audited.
Groups are synced read-only to phones and written, like every synced record, through the sync
engine (``sync.engine.write_group``): a new version and change-sequence number, history, audit,
and a resync for the leaders who gain or lose the group, all in one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from tortoise.exceptions import IntegrityError

from server.admin import writes
from server.admin.common import community_scope, page, parse_uuid
from server.auth.session import current_user, roles
from server.deps import CurrentUser, Req
from sync import engine, validate
from sync.models import AuditEvent, Committee, Community, Group, Role, User
from sync.wire import MutationResult

# A community's or committee's name and code (not synced records: checked here, not by the engine).
NAME_MAX, CODE_MAX = 120, 32


@get("/admin/places", name="admin-places")
async def places_page(request: Req, user: CurrentUser) -> Template:
    community_id = community_scope(user, request.query_params.get("community"))
    communities = Community.all() if user.role == Role.ADMIN else Community.filter(id=community_id)
    communities_list = await communities.order_by("name")
    if community_id is None and communities_list:
        community_id = communities_list[0].id
    committees = await Committee.filter(community_id=community_id).order_by("name")
    groups = (
        await Group.filter(community_id=community_id)
        .order_by("name")
        .values(
            "id",
            "name",
            "committee_id",
            "leader_id",
            "co_leader_id",
            "version",
            committee_name="committee__name",
            leader_name="leader__display_name",
            co_leader_name="co_leader__display_name",
        )
    )
    leaders = await User.filter(
        community_id=community_id, role=Role.PEER_LEADER, is_active=True
    ).order_by("display_name")
    return await page(
        request,
        "admin/places.html",
        {
            "communities": communities_list,
            "community_id": community_id,
            "committees": committees,
            "groups": groups,
            "leaders": leaders,
            "error": request.query_params.get("error"),
            "name_max": NAME_MAX,
            "code_max": CODE_MAX,
        },
        section="places",
    )


async def _audit(request: Req, action: str, entity: str, record_id: Any) -> None:
    await AuditEvent.create(
        actor=current_user(request),
        action=action,
        entity=entity,
        record_id=str(record_id),
        request_id=writes.request_id(request),
    )


def _back(community_id: Any, error: str | None = None) -> Redirect:
    url = f"/admin/places?community={community_id}"
    return Redirect(url + (f"&error={error}" if error else ""), status_code=303)


def _own(user: User, community_id: Any) -> None:
    if user.role != Role.ADMIN and str(community_id) != str(user.community_id):  # type: ignore[attr-defined]
        raise NotFoundException("No such community.")


def _clean(value: Any, limit: int) -> str | None:
    """The form's text, trimmed; None when it holds a character no text may hold (a NUL, a
    control, a bidi override: SPEC 3), which the page then names."""
    try:
        return validate.clean_text(str(value or ""))[:limit]
    except validate.Invalid:
        return None


@post("/admin/places/communities", opt=roles(Role.ADMIN), status_code=303)
async def create_community(request: Req) -> Redirect:
    form = await request.form()
    name, code = _clean(form.get("name"), NAME_MAX), _clean(form.get("code"), CODE_MAX)
    if name is None or code is None:
        return _back("", "bad_text")
    if not name or not code:
        return _back("", "missing")
    try:
        c = await Community.create(name=name, code=code)
    except IntegrityError:
        return _back("", "duplicate_code")
    await _audit(request, "community.create", "community", c.id)
    return _back(c.id)


@post("/admin/places/communities/{community_id:uuid}", opt=roles(Role.ADMIN), status_code=303)
async def rename_community(request: Req, community_id: FromPath[uuid.UUID]) -> Redirect:
    form = await request.form()
    name = _clean(form.get("name"), NAME_MAX)
    if name is None:
        return _back(community_id, "bad_text")
    if name:
        await Community.filter(id=community_id).update(name=name)
        await _audit(request, "community.rename", "community", community_id)
    return _back(community_id)


@post("/admin/places/committees", status_code=303)
async def create_committee(request: Req, user: CurrentUser) -> Redirect:
    form = await request.form()
    community_id = parse_uuid(str(form.get("community_id", "")))
    _own(user, community_id)
    name, code = _clean(form.get("name"), NAME_MAX), _clean(form.get("code"), CODE_MAX)
    if name is None or code is None:
        return _back(community_id or "", "bad_text")
    if community_id is None or not name or not code:
        return _back(community_id or "", "missing")
    try:
        c = await Committee.create(community_id=community_id, name=name, code=code)
    except IntegrityError:
        return _back(community_id, "duplicate_code")
    await _audit(request, "committee.create", "committee", c.id)
    return _back(community_id)


@post("/admin/places/committees/{committee_id:uuid}", status_code=303)
async def rename_committee(
    request: Req, user: CurrentUser, committee_id: FromPath[uuid.UUID]
) -> Redirect:
    committee = await Committee.get_or_none(id=committee_id)
    if committee is None:
        raise NotFoundException("No such residential committee.")
    _own(user, committee.community_id)  # type: ignore[attr-defined]
    name = _clean((await request.form()).get("name"), NAME_MAX)
    if name is None:
        return _back(committee.community_id, "bad_text")  # type: ignore[attr-defined]
    if name:
        await Committee.filter(id=committee_id).update(name=name)
        await _audit(request, "committee.rename", "committee", committee_id)
    return _back(committee.community_id)  # type: ignore[attr-defined]


async def save_group(
    request: Req,
    group_id: uuid.UUID | None,
    fields: dict[str, Any],
) -> MutationResult:
    """Create or change a group through the sync engine (``sync.engine.write_group``): the one
    write path gives it a new version and change-sequence number, a history row, an audit event
    and a resync for the leaders who gain or lose it. Returns the engine's result."""
    return await engine.write_group(
        current_user(request), group_id, fields, request_id=writes.request_id(request)
    )


@post("/admin/places/groups", status_code=303)
async def create_group(request: Req) -> Redirect:
    return await _group_form(request, None)


@post("/admin/places/groups/{group_id:uuid}", status_code=303)
async def edit_group(request: Req, group_id: FromPath[uuid.UUID]) -> Redirect:
    return await _group_form(request, group_id)


async def _group_form(request: Req, group_id: uuid.UUID | None) -> Redirect:
    user = current_user(request)
    form = await request.form()
    if group_id is not None:
        group = await Group.get_or_none(id=group_id)
        if group is None:
            raise NotFoundException("No such group.")
        community_id = group.community_id  # type: ignore[attr-defined]
    else:
        community_id = parse_uuid(str(form.get("community_id", "")))
    _own(user, community_id)
    name = _clean(form.get("name"), NAME_MAX)
    if name is None:
        return _back(community_id or "", "bad_text")
    if community_id is None or not name:
        return _back(community_id or "", "missing")
    fields: dict[str, Any] = {"name": name}
    if group_id is None:
        fields["community_id"] = str(community_id)
    for key in ("committee_id", "leader_id", "co_leader_id"):
        value = parse_uuid(str(form.get(key, "") or ""))
        fields[key] = str(value) if value else None
    result = await save_group(request, group_id, fields)
    if result.status == "rejected":
        errors = result.errors or {}
        if "leader_id" in errors or "co_leader_id" in errors:
            return _back(community_id, "leaders")
        return _back(community_id, "missing")
    # The engine audited the write (``sync.applied``); this names the page action too.
    await _audit(
        request, "group.create" if group_id is None else "group.update", "group", result.id
    )
    return _back(community_id)


ROUTES = [
    places_page,
    create_community,
    rename_community,
    create_committee,
    rename_committee,
    create_group,
    edit_group,
]
