"""What the pages that support peer leaders share (supervision, training, quarterly ratings):
the community's peer leaders, the program's local time in forms, quarters, ``save`` (one engine
write, the refusal as per-field messages in the page's language) and ``StaffLog``, the
list / create / edit / void flow of a staff-only log.

Each page changes records only through ``server.admin.writes`` (SPEC 6, one write path).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, tzinfo
from typing import Any, ClassVar

from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from server.admin import writes
from server.admin.common import (
    communities_for,
    community_scope,
    in_community,
    page,
    page_number,
    translate,
)
from server.auth.session import current_user
from server.deps import AppSettings, CurrentUser, Req
from server.i18n import language_of, localize_errors
from sync.models import Role, User
from sync.wire import MutationResult

Errors = dict[str, list[str]]


async def leaders_in(community_id: uuid.UUID | None) -> list[User]:
    """The active peer leaders of a community (of every community when None), by name."""
    query = User.filter(role=Role.PEER_LEADER, is_active=True)
    if community_id is not None:
        query = query.filter(community_id=community_id)
    return await query.order_by("display_name")


async def record_in_scope(model: Any, user: User, record_id: uuid.UUID) -> Any:
    """The record if the user's community holds it (an admin: any); 404 otherwise, so a
    coordinator cannot tell another community's record from a missing one."""
    record = await in_community(model.filter(id=record_id), user).first()
    if record is None:
        raise NotFoundException("No such record.")
    return record


def local_input(at: datetime | None, zone: tzinfo) -> str:
    """An instant as a ``datetime-local`` input shows it: the program's wall-clock time."""
    return at.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if at else ""


def instant_from_input(raw: str, zone: tzinfo) -> str | None:
    """A ``datetime-local`` value read as the program's local time, as the wire's instant
    (with its offset). Anything else is passed on as typed: the engine names what is wrong."""
    text = raw.strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return at.isoformat()


def words(raw: str) -> list[str]:
    """Free-typed topics as the wire's list of words (``Home visits, Diet`` → two words)."""
    out: list[str] = []
    for part in raw.replace("，", ",").replace("；", ",").replace(";", ",").split(","):
        word = "_".join(part.strip().lower().split())
        if word and word not in out:
            out.append(word)
    return out


def version_of(form: Any, fallback: int) -> int:
    raw = str(form.get("version", "") or "")
    return int(raw) if raw.isascii() and raw.isdigit() else fallback


async def save(
    request: Req,
    entity: str,
    record_id: uuid.UUID,
    fields: dict[str, Any],
    base_version: int,
) -> tuple[MutationResult | None, Errors]:
    """Write through the engine; on refusal, the per-field messages in the page's language."""
    try:
        result = await writes.write(request, entity, record_id, fields, base_version=base_version)
    except writes.WriteRefused as exc:
        return None, localize_errors(language_of(request), exc.errors)
    return result, {}


async def void(request: Req, entity: str, record: Any) -> tuple[MutationResult | None, Errors]:
    """Void ``record`` with the form's reason (required: a void without one is refused here,
    before the engine), at the version the form showed."""
    form = await request.form()
    reason = str(form.get("void_reason", "") or "").strip()
    if not reason:
        return None, {"void_reason": [translate(request, "Give the reason for voiding.")]}
    fields = {"voided": True, "void_reason": reason}
    return await save(request, entity, record.id, fields, version_of(form, record.version))


def changed(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """The fields a form changed: an edit sends only those, so it merges with a phone's."""
    return {k: v for k, v in after.items() if v != before.get(k)}


class StaffLog:
    """A staff-only log's record form: new, create, edit, save and void, each one engine write.

    A subclass says what differs: ``values`` (a record as the form shows it), ``wire`` (the
    form's values as wire fields), ``posted`` (the form's values) and ``form`` (the page).
    ``routes()`` makes the handlers under ``path``. An edit sends only the fields the form
    changed, at the version the form showed: a stale one merges or opens a conflict.
    """

    # The wire's entity name, which also names the pages: ``/admin/<entity>``, the form
    # ``admin/<entity>_form.html``, the navigation's section.
    entity: str
    model: Any
    page_size = 50

    @property
    def path(self) -> str:
        return f"/admin/{self.entity}"

    def listed(self, user: User, q: Any) -> tuple[Any, uuid.UUID | None]:
        """The records the list shows before its own filters: the user's community (an
        administrator's choice, or all), voided ones only when asked; and the community."""
        community_id = community_scope(user, q.get("community"))
        query = in_community(self.model.all(), user)
        if community_id is not None:
            query = query.filter(community_id=community_id)
        if not q.get("voided"):
            query = query.filter(voided=False)
        return query, community_id

    async def page_of(
        self,
        request: Req,
        user: User,
        query: Any,
        community_id: uuid.UUID | None,
        order: tuple[str, ...],
        *columns: str,
        **related: str,
    ) -> dict[str, Any]:
        """One page of the list (``?page=``) and what every list page shows around it."""
        q = request.query_params
        page_no = page_number(q.get("page"))
        total = await query.count()
        rows = (
            await query.order_by(*order)
            .offset((page_no - 1) * self.page_size)
            .limit(self.page_size)
            .values(*columns, **related)
        )
        return {
            "rows": rows,
            "total": total,
            "page_no": page_no,
            "has_next": page_no * self.page_size < total,
            "communities": await communities_for(user),
            "community_id": community_id,
            "args": {k: v for k, v in q.items() if k != "page" and v},
            "saved": q.get("saved"),
        }

    def values(self, record: Any, settings: AppSettings) -> dict[str, Any]:
        raise NotImplementedError

    def new_values(self, request: Req, settings: AppSettings) -> dict[str, Any]:
        """A new record's form as it opens."""
        return self.values(None, settings)

    def wire(self, values: dict[str, Any], settings: AppSettings) -> dict[str, Any]:
        raise NotImplementedError

    async def posted(self, request: Req) -> dict[str, Any]:
        raise NotImplementedError

    # What else the form page shows (choices).
    extra: ClassVar[dict[str, Any]] = {}

    async def form(
        self, request: Req, values: dict[str, Any], record: Any, errors: Errors | None = None
    ) -> Template:
        """The record's form, with the peer leaders of its community (a new one's: the user's,
        or the administrator's choice) to choose from; 422 with the per-field messages."""
        if record is not None:
            community_id = record.community_id
        else:
            community_id = community_scope(
                current_user(request), request.query_params.get("community")
            )
        context = {
            "v": values,
            "record": record,
            "errors": errors or {},
            "leaders": await leaders_in(community_id),
            "saved": request.query_params.get("saved"),
            **self.extra,
        }
        return await page(
            request,
            f"admin/{self.entity}_form.html",
            context,
            section=self.entity,
            status_code=422 if errors else 200,
        )

    async def create(self, request: Req, settings: AppSettings) -> Template | Redirect:
        values = await self.posted(request)
        fields = {k: v for k, v in self.wire(values, settings).items() if v not in (None, [])}
        result, errors = await save(request, self.entity, uuid.uuid4(), fields, 0)
        if result is None:
            return await self.form(request, values, None, errors)
        return Redirect(f"{self.path}?saved={result.id}", status_code=303)

    async def update(
        self, request: Req, user: User, settings: AppSettings, record_id: uuid.UUID
    ) -> Template | Redirect:
        record = await record_in_scope(self.model, user, record_id)
        values = await self.posted(request)
        before = self.wire(self.values(record, settings), settings)
        fields = changed(self.wire(values, settings), before)
        if fields:
            base = version_of(await request.form(), record.version)
            result, errors = await save(request, self.entity, record.id, fields, base)
            if result is None:
                return await self.form(request, values, record, errors)
            if result.status == "conflict":
                # Changed by someone else since the form was opened: the queue holds both.
                return Redirect(f"/admin/conflicts/{result.conflict_id}", status_code=303)
        return Redirect(f"{self.path}/{record.id}?saved=1", status_code=303)

    async def void(
        self, request: Req, user: User, settings: AppSettings, record_id: uuid.UUID
    ) -> Template | Redirect:
        record = await record_in_scope(self.model, user, record_id)
        result, errors = await void(request, self.entity, record)
        if result is None:
            return await self.form(request, self.values(record, settings), record, errors)
        return Redirect(f"{self.path}?saved=voided", status_code=303)

    def routes(self) -> list[Any]:
        log, one = self, self.path + "/{record_id:uuid}"

        @get(self.path + "/new", name=f"admin-{self.entity}-new")
        async def new_record(request: Req, settings: AppSettings) -> Template:
            return await log.form(request, log.new_values(request, settings), None)

        @post(self.path, status_code=303, name=f"admin-{self.entity}-create")
        async def create_record(request: Req, settings: AppSettings) -> Template | Redirect:
            return await log.create(request, settings)

        @get(one, name=f"admin-{self.entity}-edit")
        async def edit_record(
            request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
        ) -> Template:
            record = await record_in_scope(log.model, user, record_id)
            return await log.form(request, log.values(record, settings), record)

        @post(one, status_code=303, name=f"admin-{self.entity}-save")
        async def save_record(
            request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
        ) -> Template | Redirect:
            return await log.update(request, user, settings, record_id)

        @post(one + "/void", status_code=303, name=f"admin-{self.entity}-void")
        async def void_record(
            request: Req, user: CurrentUser, settings: AppSettings, record_id: FromPath[uuid.UUID]
        ) -> Template | Redirect:
            return await log.void(request, user, settings, record_id)

        return [new_record, create_record, edit_record, save_record, void_record]


# --- quarters (an implementation rating's ``period``) ----------------------------------------

_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def parse_quarter(value: str | None) -> tuple[int, int] | None:
    match = _QUARTER.fullmatch(value or "")
    return (int(match[1]), int(match[2])) if match else None


def shift_quarter(period: str, by: int) -> str:
    """The quarter ``by`` quarters after ``period`` (before, when negative)."""
    parsed = parse_quarter(period)
    if parsed is None:
        raise ValueError(period)
    index = parsed[0] * 4 + parsed[1] - 1 + by
    return f"{index // 4}-Q{index % 4 + 1}"


def recent_quarters(today: date, count: int = 8) -> list[str]:
    """This quarter and the ones before it, newest first (a rating is never for one to come)."""
    current = quarter_of(today)
    return [shift_quarter(current, -n) for n in range(count)]
