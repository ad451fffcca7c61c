"""``/admin/participants``: list, enrol (consent date required), edit and reassign participants.

Every save is one ``sync.engine.write`` with only the fields the form changed and the version
the form showed, so an edit made while a phone was offline merges field by field (or opens a
conflict) exactly like a phone's own edit. Reassigning a peer leader or group is an edit of
``peer_leader_id`` / ``group_id``; the engine bumps the scopes of the users it concerns.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from tortoise.expressions import Q

from server.admin import writes
from server.admin.common import (
    communities_for,
    community_scope,
    in_community,
    page,
    page_number,
    parse_uuid,
)
from server.admin.conflicts import field_kind, typed_value
from server.auth.session import current_user
from server.deps import AppSettings, CurrentUser, Req
from server.i18n import language_of, localize_errors
from server.reports import today_in
from sync import entities
from sync.models import Committee, Group, Participant, ParticipantStatus, Role, User

PAGE_SIZE = 50
FORM_FIELDS = entities.WRITABLE["participant"]


def _in_scope(user: User) -> Any:
    return in_community(Participant.all(), user)


def _filtered(user: User, q: Any) -> tuple[Any, uuid.UUID | None]:
    """The participants the list's filters pick (search, community, committee, group, peer
    leader, status), within the user's scope; and the community shown."""
    query = _in_scope(user)
    community_id = community_scope(user, q.get("community"))
    if community_id:
        query = query.filter(community_id=community_id)
    for name in ("committee", "group", "peer_leader"):
        wanted = parse_uuid(q.get(name))
        if wanted:
            query = query.filter(**{f"{name}_id": wanted})
    if q.get("status"):
        query = query.filter(status=q.get("status"))
    text = (q.get("q") or "").strip()
    if text:
        query = query.filter(
            Q(code__icontains=text) | Q(full_name__icontains=text) | Q(phone__icontains=text)
        )
    return query, community_id


@get("/admin/participants", name="admin-participants")
async def participants_page(request: Req, user: CurrentUser) -> Template:
    q = request.query_params
    query, community_id = _filtered(user, q)
    page_no = page_number(q.get("page"))
    total = await query.count()
    rows = (
        await query.order_by("code")
        .offset((page_no - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .values(
            "id",
            "code",
            "full_name",
            "phone",
            "status",
            "enrolled_on",
            committee_name="committee__name",
            peer_leader_name="peer_leader__display_name",
            group_name="group__name",
        )
    )
    committees = Committee.all()
    if community_id:
        committees = committees.filter(community_id=community_id)
    choices = await _choices(user, community_id)
    return await page(
        request,
        "admin/participants.html",
        {
            "rows": rows,
            "total": total,
            "page_no": page_no,
            "has_next": page_no * PAGE_SIZE < total,
            "communities": await communities_for(user),
            "committees": await committees.order_by("name"),
            "groups": choices["groups"],
            "leaders": choices["leaders"],
            "args": {k: v for k, v in q.items() if k != "page" and v},
            "community_id": community_id,
            "reassigned": q.get("reassigned"),
            "refused": q.get("refused"),
        },
        section="participants",
    )


KEEP = "keep"


@post("/admin/participants/reassign", status_code=303)
async def reassign(request: Req, user: CurrentUser) -> Redirect:
    """Move the ticked participants (or all the filters pick) to another group and/or peer
    leader: one engine write each, so every phone concerned is told at its next sync."""
    form = await request.form()
    fields: dict[str, Any] = {}
    for name in ("group_id", "peer_leader_id"):
        value = str(form.get(name) or KEEP)
        if value != KEEP:
            fields[name] = value or None
    filters = {
        k: str(form.get(k) or "")
        for k in ("q", "community", "committee", "group", "peer_leader", "status")
    }
    back = {k: v for k, v in filters.items() if v}
    if form.get("which") == "all":
        query, _ = _filtered(user, filters)
    else:
        chosen = [i for i in (parse_uuid(str(v)) for v in form.getall("ids", [])) if i]
        query = _in_scope(user).filter(id__in=chosen)
    moved = refused = 0
    if fields:
        for participant_id in await query.values_list("id", flat=True):
            try:
                await writes.write(request, "participant", participant_id, dict(fields))
            except writes.WriteRefused:
                refused += 1
            else:
                moved += 1
    back.update(reassigned=str(moved), refused=str(refused))
    return Redirect(f"/admin/participants?{urlencode(back)}", status_code=303)


async def _choices(user: User, community_id: uuid.UUID | None) -> dict[str, Any]:
    committees = Committee.all().select_related("community")
    groups = Group.all()
    leaders = User.filter(role=Role.PEER_LEADER, is_active=True)
    if community_id:
        committees = committees.filter(community_id=community_id)
        groups = groups.filter(community_id=community_id)
        leaders = leaders.filter(community_id=community_id)
    return {
        "committees": await committees.order_by("community__name", "name"),
        "groups": await groups.order_by("name"),
        "leaders": await leaders.order_by("display_name"),
        "statuses": [s.value for s in ParticipantStatus],
    }


async def _form(
    request: Req,
    values: dict[str, Any],
    record: Participant | None,
    errors: dict[str, list[str]] | None = None,
    notice: str | None = None,
) -> Template:
    user = current_user(request)
    community_id = record.community_id if record else community_scope(user, None)  # type: ignore[attr-defined]
    return await page(
        request,
        "admin/participant_form.html",
        {
            "v": values,
            "record": record,
            # The engine's messages in the page's language (its own are msgids, looked up too).
            "errors": localize_errors(language_of(request), errors or {}),
            "notice": notice,
            # The fields' limits (maxlength, min, max) are the rules the engine checks with,
            # the same catalogue the phone's js/rules.js is made from.
            **await _choices(user, community_id),
        },
        section="participants",
        status_code=422 if errors else 200,
    )


def _form_values(p: Participant | None, today: date | None = None) -> dict[str, Any]:
    if p is None:
        return {"status": "active", "enrolled_on": (today or date.today()).isoformat()}
    out: dict[str, Any] = {}
    for name in FORM_FIELDS:
        value = getattr(p, name)
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, uuid.UUID):
            value = str(value)
        out[name] = "" if value is None else value
    return out


async def _wire_fields(request: Req) -> tuple[dict[str, Any], dict[str, str]]:
    form = await request.form()
    raw = {name: str(form.get(name, "")) for name in FORM_FIELDS}
    raw["needs_visit"] = "true" if form.get("needs_visit") else "false"
    wire = {name: typed_value(field_kind("participant", name), raw[name]) for name in FORM_FIELDS}
    if wire["conditions"] is None:
        wire["conditions"] = []
    return wire, raw


@get("/admin/participants/new", name="admin-participant-new")
async def new_participant(request: Req, settings: AppSettings) -> Template:
    values = _form_values(None, today_in(settings.zone))
    committee = request.query_params.get("committee")
    if committee:
        values["committee_id"] = committee
    return await _form(request, values, None)


@post("/admin/participants", status_code=303)
async def create_participant(request: Req) -> Template | Redirect:
    wire, raw = await _wire_fields(request)
    wire = {k: v for k, v in wire.items() if v not in (None, [], False) or k == "status"}
    # Every problem at once: the engine's own field and record rules are asked here too, so a
    # missing consent date is not reported first and a missing committee only after it is fixed.
    clean, errors = entities.check("participant", wire, datetime.now(UTC))
    for name, msgs in entities.check_record("participant", clean, creating=True).items():
        errors.setdefault(name, msgs)
    if not wire.get("consent_on"):
        errors["consent_on"] = ["Enrolment needs the date consent was recorded."]
    if wire.get("code") and await Participant.exists(code=wire["code"]):
        errors["code"] = ["Another participant already has this code."]
    if not errors:
        record_id = uuid.uuid4()
        try:
            await writes.write(request, "participant", record_id, wire, base_version=0)
        except writes.WriteRefused as exc:
            errors = exc.errors
        else:
            return Redirect(f"/admin/participants/{record_id}?saved=1", status_code=303)
    return await _form(request, raw, None, errors)


async def _participant_for(user: User, participant_id: uuid.UUID) -> Participant:
    p = await _in_scope(user).filter(id=participant_id).first()
    if p is None:
        raise NotFoundException("No such participant.")
    return p


@get("/admin/participants/{participant_id:uuid}", name="admin-participant")
async def edit_participant(
    request: Req, user: CurrentUser, participant_id: FromPath[uuid.UUID]
) -> Template:
    p = await _participant_for(user, participant_id)
    notice = "saved" if request.query_params.get("saved") else None
    return await _form(request, _form_values(p), p, notice=notice)


@post("/admin/participants/{participant_id:uuid}", status_code=303)
async def save_participant(
    request: Req, user: CurrentUser, participant_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    p = await _participant_for(user, participant_id)
    wire, raw = await _wire_fields(request)
    form = await request.form()
    try:
        base = int(str(form.get("version", "")))
    except ValueError:
        base = p.version
    before = {
        k: typed_value(field_kind("participant", k), str(v)) for k, v in _form_values(p).items()
    }
    if before["conditions"] is None:
        before["conditions"] = []
    changed = {k: v for k, v in wire.items() if v != before.get(k)}
    if changed:
        try:
            result = await writes.write(request, "participant", p.id, changed, base_version=base)
        except writes.WriteRefused as exc:
            return await _form(request, raw, p, exc.errors)
        if result.status == "conflict":
            # Someone changed the same field since this form was opened: nothing is lost, the
            # conflict queue holds both values.
            return Redirect(f"/admin/conflicts/{result.conflict_id}", status_code=303)
    return Redirect(f"/admin/participants/{p.id}?saved=1", status_code=303)


ROUTES = [
    participants_page,
    reassign,
    new_participant,
    create_participant,
    edit_participant,
    save_participant,
]
