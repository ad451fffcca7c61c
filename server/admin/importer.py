"""``/admin/participants/import``: enrol participants from a CSV file.

Upload → preview (every row checked; rejected rows listed with their line and reason) →
confirm → the valid rows are written through the sync engine in batches → a file of the
rejected rows, with a ``reason`` column, to fix and upload again.

The uploaded file waits for confirmation in the database (``ImportUpload``), where every server
process finds it, and only its uploader may confirm it; it is re-checked on confirmation, since
the database may have changed.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response, Template
from tortoise.queryset import QuerySet

from server.admin import writes
from server.admin.common import STAFF, page
from server.auth.session import current_user, roles
from server.exports import BOM, csv_writer, spreadsheet_text
from server.i18n import language_of, localize_errors, translate
from sync import validate
from sync.models import AuditEvent, Committee, ImportUpload, Participant, Role, User

# column → (required, what it holds). The page shows this table.
COLUMNS: dict[str, tuple[bool, str]] = {
    "code": (True, "Program code, unique (e.g. SH-0001)"),
    "full_name": (True, "Full name"),
    "committee_code": (True, "Residential committee code (see Places)"),
    "consent_on": (True, "Date consent was recorded, YYYY-MM-DD (required to enrol)"),
    "enrolled_on": (False, "Enrolment date, YYYY-MM-DD (default: the consent date)"),
    "sex": (False, "female, male or other"),
    "birth_year": (False, "Year, e.g. 1956"),
    "phone": (False, "Phone number, unique"),
    "address": (False, "Building / unit"),
    "peer_leader": (False, "User name of the assigned peer leader"),
    "status": (False, "active (default), paused, moved, withdrawn or deceased"),
    "conditions": (False, "Separated by ';', e.g. t2d;hypertension"),
    "hba1c_baseline": (False, "Baseline HbA1c in %, 3–20"),
    "hba1c_baseline_on": (False, "Date of the baseline HbA1c"),
    "notes": (False, "Free text"),
}
MAX_BYTES = 8 * 1024 * 1024
_NUMERIC = {"birth_year": int, "hba1c_baseline": float}


@dataclass
class Checked:
    valid: list[tuple[int, uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    rejected: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Lookups:
    """What rows are checked against: the database as it is now, within the user's scope."""

    committees: dict[str, tuple[str, str]]  # code → (id, community id)
    leaders: dict[str, tuple[str, str | None]]  # username → (id, community id)
    codes: frozenset[str]
    phones: frozenset[str]
    community_id: str | None  # None: an admin, any community


async def lookups(user: User) -> Lookups:
    committees = {
        code: (str(cid), str(comm))
        for cid, code, comm in await Committee.all().values_list("id", "code", "community_id")
    }
    leaders = {
        name: (str(uid), str(comm) if comm else None)
        for uid, name, comm in await User.filter(role=Role.PEER_LEADER).values_list(
            "id", "username", "community_id"
        )
    }
    codes = frozenset(str(c) for c in await Participant.all().values_list("code", flat=True))
    phones = frozenset(
        str(p)
        for p in await Participant.filter(phone__isnull=False).values_list("phone", flat=True)
        if p
    )
    community = None if user.role == Role.ADMIN else str(user.community_id)  # type: ignore[attr-defined]
    return Lookups(committees, leaders, codes, phones, community)


def _reason(errors: dict[str, list[str]], lang: str) -> str:
    """One row's reasons in ``lang`` (the column names stay: they are the file's headers)."""
    local = localize_errors(lang, errors)
    return "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in local.items())


def check_rows(text: str, look: Lookups, now: datetime, lang: str = "en") -> Checked:
    """Check every row of a CSV text. Pure: the database comes in as ``look``.

    Line numbers are the file's own (the header is line 1). Reasons name the column and the
    rule, never the value, in ``lang`` (the uploader reads them in the preview and the file of
    rejected rows)."""
    out = Checked()
    reader = csv.reader(io.StringIO(text.lstrip(BOM)))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        out.error = "The file is empty."
        return out
    out.header = header
    missing = [c for c, (required, _) in COLUMNS.items() if required and c not in header]
    if missing:
        out.error = translate(lang, "Missing columns: %(columns)s", columns=", ".join(missing))
        return out
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        out.error = translate(lang, "Unknown columns: %(columns)s", columns=", ".join(unknown))
        return out
    seen_codes: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        raw = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}
        errors: dict[str, list[str]] = {}
        wire: dict[str, Any] = {}
        for name, value in raw.items():
            if name in ("committee_code", "peer_leader") or value == "":
                continue
            if name in _NUMERIC:
                try:
                    wire[name] = _NUMERIC[name](value.replace(",", "."))
                except ValueError:
                    errors[name] = ["must be a number"]
            elif name == "conditions":
                wire[name] = [c.strip() for c in value.replace(",", ";").split(";") if c.strip()]
            else:
                wire[name] = value
        wire.setdefault("status", "active")
        if "consent_on" in wire and "enrolled_on" not in wire:
            wire["enrolled_on"] = wire["consent_on"]
        committee = look.committees.get(raw.get("committee_code", ""))
        if not raw.get("committee_code"):
            errors["committee_code"] = ["is required"]
        elif committee is None or (look.community_id and committee[1] != look.community_id):
            errors["committee_code"] = ["unknown residential committee code"]
        else:
            wire["committee_id"] = committee[0]
        if raw.get("peer_leader"):
            leader = look.leaders.get(raw["peer_leader"])
            if leader is None or (committee is not None and leader[1] != committee[1]):
                errors["peer_leader"] = ["unknown peer leader in this community"]
            else:
                wire["peer_leader_id"] = leader[0]
        if not raw.get("consent_on"):
            errors["consent_on"] = ["is required to enrol"]
        clean, field_errors = validate.check(
            "participant", {k: v for k, v in wire.items() if k not in errors}, now
        )
        for name, msgs in field_errors.items():
            errors.setdefault(name, []).extend(msgs)
        for name, msgs in validate.check_record("participant", clean, creating=True).items():
            if name not in errors:
                errors[name] = msgs
        code, phone = clean.get("code"), clean.get("phone")
        if code:
            if code in look.codes:
                errors.setdefault("code", []).append("is already used by an enrolled participant")
            elif code in seen_codes:
                errors.setdefault("code", []).append(
                    translate(lang, "repeats line %(line)s", line=seen_codes[code])
                )
            else:
                seen_codes[code] = number
        if phone:
            if phone in look.phones:
                errors.setdefault("phone", []).append("is already used by an enrolled participant")
            elif phone in seen_phones:
                errors.setdefault("phone", []).append(
                    translate(lang, "repeats line %(line)s", line=seen_phones[phone])
                )
            else:
                seen_phones[phone] = number
        if errors:
            out.rejected.append((number, raw, _reason(errors, lang)))
        else:
            out.valid.append((number, uuid.uuid4(), clean))
    return out


def rejected_csv(header: list[str], rejected: Iterable[tuple[int, dict[str, str], str]]) -> bytes:
    """The rejected rows as uploaded, with their line and reason first: fix and upload again."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv_writer(buffer)
    writer.writerow(["line", "reason", *header])
    for number, raw, reason in rejected:
        # The rows as uploaded, but never a formula the staff member's spreadsheet would run.
        cells = (spreadsheet_text(raw.get(h) or "") for h in header)
        writer.writerow([number, reason, *cells])
    return buffer.getvalue().encode("utf-8")


# --- pages -----------------------------------------------------------------------------------


KEEP = timedelta(days=1)
GONE = "This import has expired or was already done; upload the file again."


async def _keep(user: User, data: bytes, rejected: bytes, now: datetime) -> str:
    """Store an upload until its confirmation, in the database: the confirmation may reach
    another server process, on another host (SPEC 7). Returns the upload's token."""
    # Uploads hold names and phones: none outlives a day, confirmed or not.
    await ImportUpload.filter(expires_at__lte=now).delete()
    token = secrets.token_urlsafe(18)
    await ImportUpload.create(
        id=token, owner=user, data=data, rejected_csv=rejected, expires_at=now + KEEP
    )
    return token


# What ``secrets.token_urlsafe(18)`` makes; anything else (too long for the column, non-ASCII,
# a NUL) is no upload, answered without asking the database.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _mine(user: User, token: str, now: datetime) -> QuerySet[ImportUpload]:
    # Another user's upload, or an expired one, answers exactly as one that never existed.
    if not _TOKEN.fullmatch(token):
        raise NotFoundException(GONE)
    return ImportUpload.filter(id=token, owner_id=user.id, expires_at__gt=now)


def _decode(data: bytes) -> str | None:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


async def _page(request: Request[Any, Any, Any], **context: Any) -> Template:
    return await page(
        request,
        "admin/import.html",
        {"columns": COLUMNS, **context},
        section="participants",
    )


@get("/admin/participants/import", opt=roles(*STAFF), name="admin-import")
async def import_page(request: Request[Any, Any, Any]) -> Template:
    return await _page(request, stage="upload")


@post("/admin/participants/import", opt=roles(*STAFF), status_code=200)
async def upload(request: Request[Any, Any, Any]) -> Template:
    form = await request.form()
    upload_file = form.get("file")
    data = await upload_file.read() if isinstance(upload_file, UploadFile) else b""
    if not data:
        return await _page(request, stage="upload", error="Choose a CSV file.")
    if len(data) > MAX_BYTES:
        return await _page(request, stage="upload", error="The file is larger than 8 MB.")
    text = _decode(data)
    if text is None:
        return await _page(request, stage="upload", error="The file is not UTF-8 or GB18030 text.")
    user, now = current_user(request), datetime.now(UTC)
    checked = check_rows(text, await lookups(user), now, language_of(request))
    if checked.error:
        return await _page(request, stage="upload", error=checked.error)
    token = await _keep(user, data, rejected_csv(checked.header, checked.rejected), now)
    return await _page(
        request,
        stage="preview",
        token=token,
        valid=len(checked.valid),
        rejected=checked.rejected[:500],
        rejected_count=len(checked.rejected),
        sample=[(n, f) for n, _, f in checked.valid[:10]],
    )


@post("/admin/participants/import/{token:str}/confirm", opt=roles(*STAFF), status_code=200)
async def confirm(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    user, now, lang = current_user(request), datetime.now(UTC), language_of(request)
    waiting = _mine(user, token, now).filter(confirmed_at__isnull=True)
    found = await waiting.values_list("data", flat=True)
    # Claimed with one conditional UPDATE: of two confirmations at once (two tabs, two servers),
    # one imports and the other finds the import done.
    if not found or not await waiting.update(confirmed_at=now):
        raise NotFoundException(GONE)
    started = time.perf_counter()
    text = _decode(bytes(found[0])) or ""  # it decoded on upload
    try:
        checked = check_rows(text, await lookups(user), now, lang)
        results = await writes.write_many(
            request, user, "participant", [(rid, fields) for _, rid, fields in checked.valid]
        )
    except Exception:
        # As if never confirmed: confirming again re-checks every row, and finds any batch
        # written before the failure among the enrolled participants.
        await ImportUpload.filter(id=token).update(confirmed_at=None)
        raise
    imported = 0
    raw_by_line: dict[int, dict[str, str]] = {}
    if any(_status(r) != "applied" for r in results):
        # Re-read the raw cells of rows the engine refused, for the rejected file.
        reader = csv.reader(io.StringIO(text.lstrip(BOM)))
        header = [h.strip().lower() for h in next(reader)]
        for number, cells in enumerate(reader, start=2):
            raw_by_line[number] = {
                h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header)
            }
    rejected = list(checked.rejected)
    for (number, _, _), result in zip(checked.valid, results, strict=True):
        if _status(result) in ("applied", "merged"):
            imported += 1
        else:
            errors = getattr(result, "errors", None) or (
                result.get("errors") if isinstance(result, dict) else None
            )
            reason = _reason(dict(errors or {}), lang) or translate(lang, "refused")
            rejected.append((number, raw_by_line.get(number, {}), reason))
    rejected.sort(key=lambda r: r[0])
    # The uploaded file goes now; the rejected rows stay for their download, a day at most.
    await ImportUpload.filter(id=token).update(
        data=None, rejected_csv=rejected_csv(checked.header, rejected), expires_at=now + KEEP
    )
    await AuditEvent.create(
        actor=user,
        action="participant.import",
        entity="participant",
        request_id=writes.request_id(request),
        detail={"imported": imported, "rejected": len(rejected)},
    )
    return await _page(
        request,
        stage="done",
        token=token,
        imported=imported,
        rejected=rejected[:500],
        rejected_count=len(rejected),
        seconds=round(time.perf_counter() - started, 2),
    )


def _status(result: Any) -> str:
    return str(
        getattr(result, "status", None)
        or (result.get("status") if isinstance(result, dict) else "")
    )


@get("/admin/participants/import/{token:str}/rejected.csv", opt=roles(*STAFF))
async def rejected_file(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[bytes]:
    found = await _mine(current_user(request), token, datetime.now(UTC)).values_list(
        "rejected_csv", flat=True
    )
    if not found:
        raise NotFoundException("No such import.")
    return Response(
        bytes(found[0]),
        media_type="text/csv",  # Litestar adds "; charset=utf-8"
        headers={
            "content-disposition": 'attachment; filename="peerlog-import-rejected.csv"',
            "cache-control": "no-store",
        },
    )


ROUTES = [import_page, upload, confirm, rejected_file]
