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

from litestar import get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response, Template
from tortoise.queryset import QuerySet

from server.admin import writes
from server.admin.common import page
from server.deps import CurrentUser, Req
from server.exports import BOM, csv_writer, spreadsheet_text
from server.i18n import language_of, localize_errors, normalize, translate
from sync import entities
from sync.models import AuditEvent, Committee, Group, ImportUpload, Participant, Role, User

# column → (required, what it holds). The page shows this table.
COLUMNS: dict[str, tuple[bool, str]] = {
    "code": (True, "Program code, unique (e.g. SH-0001)"),
    "full_name": (True, "Full name"),
    "committee_code": (True, "Residential committee: its code or its name (see Places)"),
    "consent_on": (True, "Date consent was recorded, YYYY-MM-DD (required to enrol)"),
    "enrolled_on": (False, "Enrolment date, YYYY-MM-DD (default: the consent date)"),
    "sex": (False, "female, male or other"),
    "birth_year": (False, "Year, e.g. 1956"),
    "phone": (False, "Phone number, unique"),
    "address": (False, "Building / unit"),
    "group": (False, "Group name (see Places): its leaders see the participant on their phones"),
    "peer_leader": (False, "User name or display name of the assigned peer leader"),
    "status": (False, "active (default), paused, moved, withdrawn or deceased"),
    "conditions": (False, "Separated by ';', e.g. t2d;hypertension"),
    "hba1c_baseline": (False, "Baseline HbA1c in %, 3–20"),
    "hba1c_baseline_on": (False, "Date of the baseline HbA1c"),
    "notes": (False, "Free text"),
}
# What the participant form calls each column (and the wire field behind it): a reason names
# the field as staff know it, "Residential committee: is required", never ``committee_id``.
LABELS: dict[str, str] = {
    "code": "Program code",
    "full_name": "Full name",
    "committee_code": "Residential committee",
    "committee_id": "Residential committee",
    "consent_on": "Consent recorded on",
    "enrolled_on": "Enrolled on",
    "sex": "Sex",
    "birth_year": "Birth year",
    "phone": "Phone",
    "address": "Building / unit",
    "group": "Group",
    "group_id": "Group",
    "peer_leader": "Peer leader",
    "peer_leader_id": "Peer leader",
    "status": "Status",
    "conditions": "Conditions",
    "hba1c_baseline": "Baseline HbA1c (%)",
    "hba1c_baseline_on": "Baseline HbA1c date",
    "notes": "Notes",
}
# The header row of the downloadable template, per language; each is also accepted on upload.
TEMPLATE_HEADERS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "code": "编号",
        "full_name": "姓名",
        "sex": "性别",
        "birth_year": "出生年份",
        "phone": "电话",
        "address": "住址",
        "committee_code": "居委会",
        "group": "小组",
        "peer_leader": "同伴组长",
        "enrolled_on": "入组日期",
        "consent_on": "知情同意日期",
        "status": "状态",
        "conditions": "疾病",
        "hba1c_baseline": "基线糖化血红蛋白",
        "hba1c_baseline_on": "基线糖化血红蛋白日期",
        "notes": "备注",
    },
    "en": {
        "code": "Program code",
        "full_name": "Full name",
        "sex": "Sex",
        "birth_year": "Birth year",
        "phone": "Phone",
        "address": "Address",
        "committee_code": "Residential committee",
        "group": "Group",
        "peer_leader": "Peer leader",
        "enrolled_on": "Enrolled on",
        "consent_on": "Consent recorded on",
        "status": "Status",
        "conditions": "Conditions",
        "hba1c_baseline": "Baseline HbA1c (%)",
        "hba1c_baseline_on": "Baseline HbA1c date",
        "notes": "Notes",
    },
}
# Other names a spreadsheet kept by a committee or a health centre uses for the same columns.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "code": ("项目编号", "参与者编号", "code"),
    "full_name": ("name", "名字"),
    "phone": ("手机", "手机号", "联系电话", "phone number", "mobile"),
    "address": ("地址", "楼栋 / 单元", "楼栋/单元", "building / unit", "building/unit"),
    "committee_code": ("居委会编号", "居委", "committee", "committee code"),
    "group": ("组", "小组名称", "group name"),
    "peer_leader": ("组长", "peer leader username"),
    "consent_on": ("同意日期", "知情同意", "consent", "consent date"),
    "enrolled_on": ("入组时间", "enrolment date", "enrollment date"),
    "conditions": ("诊断", "疾病诊断"),
    "hba1c_baseline": ("基线糖化血红蛋白（%）", "基线hba1c", "baseline hba1c"),
    "notes": ("note",),
}


def _header_key(text: str) -> str:
    """A header cell as compared: case, spaces, a BOM, "(required)" and "*" marks do not count."""
    text = text.replace("\ufeff", "").strip().lower().rstrip("*").strip()
    text = re.sub(r"\s*[(（](必填|required)[)）]$", "", text)
    return re.sub(r"\s+", " ", text.replace("（", "(").replace("）", ")"))


# The two columns the file of rejected rows puts first: an upload of the fixed file skips them.
_REPORT_COLUMNS = ("line", "reason")
IGNORED = "-"


def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _REPORT_COLUMNS:
        out[name] = out[_header_key(translate("zh-CN", name))] = IGNORED
    for column in COLUMNS:
        names = [column, *_SYNONYMS.get(column, ())]
        names += [headers[column] for headers in TEMPLATE_HEADERS.values()]
        names += [LABELS[column], translate("zh-CN", LABELS[column])]
        for name in names:
            out.setdefault(_header_key(name), column)
    return out


# Enumeration values as a spreadsheet writes them: the code, its English label or its Chinese one.
_ENUM_LABELS = {
    "sex": {"female": "Female", "male": "Male", "other": "Other"},
    "status": {
        "active": "Active",
        "paused": "Paused",
        "moved": "Moved",
        "withdrawn": "Withdrawn",
        "deceased": "Deceased",
    },
}
_ENUM_EXTRA = {
    "sex": {"女": "female", "男": "male", "f": "female", "m": "male"},
    # Spelled out: "Active" has two translations in the catalogues (在管 for a participant).
    "status": {
        "在管": "active",
        "在组": "active",
        "暂停": "paused",
        "已搬走": "moved",
        "搬走": "moved",
        "迁出": "moved",
        "已退出": "withdrawn",
        "退出": "withdrawn",
        "已故": "deceased",
        "去世": "deceased",
    },
}


def _enum_values(column: str) -> dict[str, str]:
    out = dict(_ENUM_EXTRA.get(column, {}))
    for value, label in _ENUM_LABELS[column].items():
        for name in (value, label, translate("zh-CN", label)):
            out[name.strip().lower()] = value
    return out


_LOOSE_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def _date_text(value: str) -> str:
    """2026/5/1, 2026.5.1 and 2026年5月1日 as 2026-05-01; anything else as it is (the rules say
    what is wrong with it)."""
    m = _LOOSE_DATE.match(value)
    return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}" if m else value


MAX_BYTES = 8 * 1024 * 1024
_NUMERIC = {"birth_year": int, "hba1c_baseline": float}
_DATES = ("consent_on", "enrolled_on", "hba1c_baseline_on")


@dataclass
class Checked:
    valid: list[tuple[int, uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    rejected: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # as the file wrote it
    columns: list[str] = field(default_factory=list)  # what each header cell means
    error: str | None = None


@dataclass(frozen=True)
class Lookups:
    """What rows are checked against: the database as it is now, within the user's scope."""

    committees: dict[str, tuple[str, str]]  # code, or a name used once → (id, community id)
    leaders: dict[str, tuple[str, str | None]]  # user name or display name → (id, community id)
    codes: frozenset[str]
    phones: frozenset[str]
    community_id: str | None  # None: an admin, any community
    # (community id, group name) → [(group id, committee id or None)]
    groups: dict[tuple[str, str], list[tuple[str, str | None]]] = field(default_factory=dict)


def _unique_names(rows: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """name → value for the names that appear once: a name two records share identifies neither."""
    seen: dict[str, list[Any]] = {}
    for name, value in rows:
        seen.setdefault(name, []).append(value)
    return {name: values[0] for name, values in seen.items() if len(values) == 1}


async def lookups(user: User) -> Lookups:
    rows = await Committee.all().values_list("id", "code", "name", "community_id")
    committees = _unique_names((str(name), (str(cid), str(comm))) for cid, _, name, comm in rows)
    committees.update({str(code): (str(cid), str(comm)) for cid, code, _, comm in rows})
    people = await User.filter(role=Role.PEER_LEADER).values_list(
        "id", "username", "display_name", "community_id"
    )
    leaders = _unique_names(
        (str(shown), (str(uid), str(comm) if comm else None)) for uid, _, shown, comm in people
    )
    leaders.update(
        {str(name): (str(uid), str(comm) if comm else None) for uid, name, _, comm in people}
    )
    groups: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for gid, name, comm, committee in await Group.all().values_list(
        "id", "name", "community_id", "committee_id"
    ):
        groups.setdefault((str(comm), str(name).strip().lower()), []).append(
            (str(gid), str(committee) if committee else None)
        )
    codes = frozenset(str(c) for c in await Participant.all().values_list("code", flat=True))
    phones = frozenset(
        str(p)
        for p in await Participant.filter(phone__isnull=False).values_list("phone", flat=True)
        if p
    )
    community = None if user.role == Role.ADMIN else str(user.community_id)  # type: ignore[attr-defined]
    return Lookups(committees, leaders, codes, phones, community, groups)


def _label(name: str, lang: str) -> str:
    return translate(lang, LABELS[name]) if name in LABELS else name


def _reason(errors: dict[str, list[str]], lang: str) -> str:
    """One row's reasons in ``lang``, each field named as the participant form names it."""
    local = localize_errors(lang, errors)
    sep = "；" if lang == "zh-CN" else "; "
    colon = "：" if lang == "zh-CN" else ": "
    return sep.join(f"{_label(name, lang)}{colon}{', '.join(msgs)}" for name, msgs in local.items())


def _read(text: str) -> tuple[list[str], list[str | None], Iterable[list[str]]]:
    """The header as written, what each header cell means (None: not a column we know), and
    the rows that follow."""
    reader = csv.reader(io.StringIO(text.lstrip(BOM)))
    header = [h.strip() for h in next(reader)]
    aliases = _aliases()
    return header, [aliases.get(_header_key(h)) for h in header], reader


def _cells(columns: list[str | None], cells: list[str]) -> dict[str, str]:
    return {
        c: (cells[i].strip() if i < len(cells) else "")
        for i, c in enumerate(columns)
        if c and c != IGNORED
    }


def _group(look: Lookups, name: str, committee: tuple[str, str]) -> str | None:
    """The group of that name in the committee's community; of two with the name, the one of
    this committee."""
    found = look.groups.get((committee[1], name.strip().lower()), [])
    if len(found) > 1:
        found = [g for g in found if g[1] == committee[0]]
    return found[0][0] if len(found) == 1 else None


def check_rows(text: str, look: Lookups, now: datetime, lang: str = "en") -> Checked:
    """Check every row of a CSV text. Pure: the database comes in as ``look``.

    Headers may be the column names, or the Chinese or English names of the template and the
    participant form (编号, 姓名, 居委会, 小组, … / Program code, Full name, …). Line numbers are
    the file's own (the header is line 1). Reasons name the field as the form does and the rule,
    never the value, in ``lang`` (the uploader reads them in the preview and the file of
    rejected rows)."""
    out = Checked()
    try:
        header, columns, reader = _read(text)
    except StopIteration:
        out.error = translate(lang, "The file is empty.")
        return out
    out.header = header
    out.columns = [c or "" for c in columns]
    unknown = [h for h, c in zip(header, columns, strict=True) if c is None and h]
    if unknown:
        out.error = translate(lang, "Unknown columns: %(columns)s", columns=", ".join(unknown))
        return out
    doubled = sorted({c for c in columns if c and c != IGNORED and columns.count(c) > 1})
    if doubled:
        out.error = translate(
            lang,
            "Two columns mean the same field: %(columns)s",
            columns=", ".join(_label(c, lang) for c in doubled),
        )
        return out
    missing = [c for c, (required, _) in COLUMNS.items() if required and c not in columns]
    if missing:
        out.error = translate(
            lang,
            "Missing columns: %(columns)s",
            columns=", ".join(
                TEMPLATE_HEADERS.get(lang, TEMPLATE_HEADERS["en"])[c] for c in missing
            ),
        )
        return out
    enums = {name: _enum_values(name) for name in _ENUM_LABELS}
    seen_codes: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        raw = _cells(columns, cells)
        errors: dict[str, list[str]] = {}
        wire: dict[str, Any] = {}
        for name, value in raw.items():
            if name in ("committee_code", "peer_leader", "group") or value == "":
                continue
            if name in _NUMERIC:
                try:
                    wire[name] = _NUMERIC[name](value.replace(",", "."))
                except ValueError:
                    errors[name] = ["must be a number"]
            elif name == "conditions":
                parts = re.split(r"[;,；，、]", value)
                wire[name] = [c.strip() for c in parts if c.strip()]
            elif name in enums:
                wire[name] = enums[name].get(value.lower(), value)
            elif name in _DATES:
                wire[name] = _date_text(value)
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
        if raw.get("group") and committee is not None:
            group_id = _group(look, raw["group"], committee)
            if group_id is None:
                errors["group"] = ["unknown group in this community"]
            else:
                wire["group_id"] = group_id
        if raw.get("peer_leader"):
            leader = look.leaders.get(raw["peer_leader"])
            if leader is None or (committee is not None and leader[1] != committee[1]):
                errors["peer_leader"] = ["unknown peer leader in this community"]
            else:
                wire["peer_leader_id"] = leader[0]
        if not raw.get("consent_on"):
            errors["consent_on"] = ["is required to enrol"]
        clean, field_errors = entities.check(
            "participant", {k: v for k, v in wire.items() if k not in errors}, now
        )
        for name, msgs in field_errors.items():
            errors.setdefault(name, []).extend(msgs)
        for name, msgs in entities.check_record("participant", clean, creating=True).items():
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


def rejected_csv(
    header: list[str],
    columns: list[str],
    rejected: Iterable[tuple[int, dict[str, str], str]],
    lang: str = "en",
) -> bytes:
    """The rejected rows as uploaded (under the file's own headers), with their line and reason
    first: fix and upload again."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv_writer(buffer)
    # A file that is itself a fixed report has its old line and reason columns dropped.
    kept = [(h, c) for h, c in zip(header, columns, strict=True) if c != IGNORED]
    writer.writerow([translate(lang, "line"), translate(lang, "reason"), *(h for h, _ in kept)])
    for number, raw, reason in rejected:
        # The rows as uploaded, but never a formula the staff member's spreadsheet would run.
        cells = (spreadsheet_text(raw.get(c) or "") for _, c in kept)
        writer.writerow([number, reason, *cells])
    return buffer.getvalue().encode("utf-8")


def template_csv(lang: str) -> bytes:
    """An empty file with the headers in ``lang``, to fill in a spreadsheet and upload."""
    buffer = io.StringIO()
    buffer.write(BOM)
    csv_writer(buffer).writerow(TEMPLATE_HEADERS[lang].values())
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


async def _page(request: Req, **context: Any) -> Template:
    return await page(
        request,
        "admin/import.html",
        {"columns": COLUMNS, "headers": TEMPLATE_HEADERS, **context},
        section="participants",
    )


@get("/admin/participants/import", name="admin-import")
async def import_page(request: Req) -> Template:
    return await _page(request, stage="upload")


@post("/admin/participants/import", status_code=200)
async def upload(request: Req, user: CurrentUser) -> Template:
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
    now = datetime.now(UTC)
    checked = check_rows(text, await lookups(user), now, language_of(request))
    if checked.error:
        return await _page(request, stage="upload", error=checked.error)
    lang = language_of(request)
    token = await _keep(
        user, data, rejected_csv(checked.header, checked.columns, checked.rejected, lang), now
    )
    return await _page(
        request,
        stage="preview",
        token=token,
        valid=len(checked.valid),
        rejected=checked.rejected[:500],
        rejected_count=len(checked.rejected),
        sample=[(n, f) for n, _, f in checked.valid[:10]],
    )


@post("/admin/participants/import/{token:str}/confirm", status_code=200)
async def confirm(request: Req, user: CurrentUser, token: FromPath[str]) -> Template:
    now, lang = datetime.now(UTC), language_of(request)
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
        _, columns, reader = _read(text)
        for number, cells in enumerate(reader, start=2):
            raw_by_line[number] = _cells(columns, cells)
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
        data=None,
        rejected_csv=rejected_csv(checked.header, checked.columns, rejected, lang),
        expires_at=now + KEEP,
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


@get("/admin/participants/import/template.csv", name="admin-import-template")
async def template_file(request: Req) -> Response[bytes]:
    """The empty template, headers in the language asked for (``?lang=``) or the reader's."""
    lang = normalize(request.query_params.get("lang")) or language_of(request)
    name = "peerlog-participants-zh.csv" if lang == "zh-CN" else "peerlog-participants-en.csv"
    return Response(
        template_csv(lang),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@get("/admin/participants/import/{token:str}/rejected.csv")
async def rejected_file(request: Req, user: CurrentUser, token: FromPath[str]) -> Response[bytes]:
    found = await _mine(user, token, datetime.now(UTC)).values_list("rejected_csv", flat=True)
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


ROUTES = [import_page, upload, confirm, template_file, rejected_file]
