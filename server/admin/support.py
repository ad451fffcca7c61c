"""What the pages that support peer leaders share (supervision, training, quarterly ratings):
the community's peer leaders, the program's local time in forms, quarters, and one helper that
saves a record through the engine and hands back the per-field messages.

Each page changes records only through ``server.admin.writes`` (SPEC 6, one write path).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, tzinfo
from typing import Any

from litestar.exceptions import NotFoundException

from server.admin import writes
from server.admin.common import in_community, translate
from server.deps import Req
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
