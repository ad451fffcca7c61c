"""``/admin/places``: communities, residential committees and groups (with their leaders).

Communities and committees are not synced records: they are written here, and audited.
Groups are synced read-only to phones, and the sync engine has no group write: a group change
therefore takes the next change-sequence number and a new version in one transaction (so every
phone in the community pulls it), and the leaders who gain or lose the group get a resync
(``sync.engine.force_resync``), because their scope changed.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.response import Redirect, Template
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.admin import writes
from server.admin.common import STAFF, community_scope, page, parse_uuid
from server.auth.session import current_user, roles
from sync import sequence
from sync.models import AuditEvent, Committee, Community, Group, Role, User


@get("/admin/places", opt=roles(*STAFF), name="admin-places")
async def places_page(request: Request[Any, Any, Any]) -> Template:
    user = current_user(request)
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
        },
        section="places",
    )


async def _audit(request: Request[Any, Any, Any], action: str, entity: str, record_id: Any) -> None:
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


def _clean(value: Any, limit: int) -> str:
    return str(value or "").strip()[:limit]


@post("/admin/places/communities", opt=roles(Role.ADMIN), status_code=303)
async def create_community(request: Request[Any, Any, Any]) -> Redirect:
    form = await request.form()
    name, code = _clean(form.get("name"), 120), _clean(form.get("code"), 32)
    if not name or not code:
        return _back("", "missing")
    try:
        c = await Community.create(name=name, code=code)
    except IntegrityError:
        return _back("", "duplicate_code")
    await _audit(request, "community.create", "community", c.id)
    return _back(c.id)


@post("/admin/places/communities/{community_id:uuid}", opt=roles(Role.ADMIN), status_code=303)
async def rename_community(request: Request[Any, Any, Any], community_id: uuid.UUID) -> Redirect:
    form = await request.form()
    name = _clean(form.get("name"), 120)
    if name:
        await Community.filter(id=community_id).update(name=name)
        await _audit(request, "community.rename", "community", community_id)
    return _back(community_id)


@post("/admin/places/committees", opt=roles(*STAFF), status_code=303)
async def create_committee(request: Request[Any, Any, Any]) -> Redirect:
    user = current_user(request)
    form = await request.form()
    community_id = parse_uuid(str(form.get("community_id", "")))
    _own(user, community_id)
    name, code = _clean(form.get("name"), 120), _clean(form.get("code"), 32)
    if community_id is None or not name or not code:
        return _back(community_id or "", "missing")
    try:
        c = await Committee.create(community_id=community_id, name=name, code=code)
    except IntegrityError:
        return _back(community_id, "duplicate_code")
    await _audit(request, "committee.create", "committee", c.id)
    return _back(community_id)


@post("/admin/places/committees/{committee_id:uuid}", opt=roles(*STAFF), status_code=303)
async def rename_committee(request: Request[Any, Any, Any], committee_id: uuid.UUID) -> Redirect:
    user = current_user(request)
    committee = await Committee.get_or_none(id=committee_id)
    if committee is None:
        raise NotFoundException("No such residential committee.")
    _own(user, committee.community_id)  # type: ignore[attr-defined]
    name = _clean((await request.form()).get("name"), 120)
    if name:
        await Committee.filter(id=committee_id).update(name=name)
        await _audit(request, "committee.rename", "committee", committee_id)
    return _back(committee.community_id)  # type: ignore[attr-defined]


async def _leader(user: User, community_id: Any, raw: Any) -> uuid.UUID | None:
    leader_id = parse_uuid(str(raw or ""))
    if leader_id is None:
        return None
    ok = await User.exists(id=leader_id, community_id=community_id, role=Role.PEER_LEADER)
    if not ok:
        raise PermissionDeniedException("A group's leaders are peer leaders of its community.")
    return leader_id


async def save_group(
    group_id: uuid.UUID | None,
    community_id: uuid.UUID,
    values: dict[str, Any],
) -> tuple[uuid.UUID, set[uuid.UUID]]:
    """Create or change a group as a new synced version; returns its id and the users whose
    scope changed (old and new leaders)."""
    async with in_transaction() as conn:
        seq = await sequence.allocate(conn)
        if group_id is None:
            group = await Group.create(
                id=uuid.uuid4(),
                community_id=community_id,
                seq=seq,
                version=1,
                using_db=conn,
                **values,
            )
            touched = {v for k, v in values.items() if k in ("leader_id", "co_leader_id") and v}
            return group.id, touched
        group = await Group.select_for_update().using_db(conn).get(id=group_id)
        before = {group.leader_id, group.co_leader_id}  # type: ignore[attr-defined]
        await (
            Group.filter(id=group_id)
            .using_db(conn)
            .update(**values, seq=seq, version=group.version + 1)
        )
        after = {values.get("leader_id"), values.get("co_leader_id")}
        return group_id, {u for u in before ^ after if u}


@post("/admin/places/groups", opt=roles(*STAFF), status_code=303)
async def create_group(request: Request[Any, Any, Any]) -> Redirect:
    return await _group_form(request, None)


@post("/admin/places/groups/{group_id:uuid}", opt=roles(*STAFF), status_code=303)
async def edit_group(request: Request[Any, Any, Any], group_id: uuid.UUID) -> Redirect:
    return await _group_form(request, group_id)


async def _group_form(request: Request[Any, Any, Any], group_id: uuid.UUID | None) -> Redirect:
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
    name = _clean(form.get("name"), 120)
    if community_id is None or not name:
        return _back(community_id or "", "missing")
    committee_id = parse_uuid(str(form.get("committee_id", "")))
    if committee_id and not await Committee.exists(id=committee_id, community_id=community_id):
        return _back(community_id, "missing")
    values = {
        "name": name,
        "committee_id": committee_id,
        "leader_id": await _leader(user, community_id, form.get("leader_id")),
        "co_leader_id": await _leader(user, community_id, form.get("co_leader_id")),
    }
    saved_id, touched = await save_group(group_id, community_id, values)
    await writes.engine().force_resync(*touched)
    await _audit(request, "group.create" if group_id is None else "group.update", "group", saved_id)
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
