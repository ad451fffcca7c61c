"""CSV exports of contacts, participants and group meetings for evaluation.

Every file is UTF-8 with a byte-order mark (so Excel shows Chinese correctly), one row per record,
a header row with the column names below, streamed in batches (never the whole table in memory),
and audited (who, kind, filters, row count: never a value).

Filters: ``community`` (code or id), ``since`` / ``until`` (inclusive days in the program's time
zone, ``PEERLOG_TIMEZONE``). Contacts and meetings are filtered by ``occurred_at``: "from
1 December" in Shanghai starts at 00:00 +08:00 (16:00 UTC the day before). Participants are
exported when they were active in the period: enrolled in it (``enrolled_on``, a plain date) or
with a non-voided contact, measurement or assessment in it (a meeting's attendance is a
contact too; see ``ACTIVITY_SOURCES``), so someone enrolled last year and contacted last week is in. Peer leaders,
groups and places (residential committees with their community) take the community filter only:
they match the codes and ids of the other files to names.

Text cells are in double quotes and never start like a formula: one that would (``=``, ``+``,
``-``, ``@``, tab, CR, LF or a full-width ``＝＋－＠``) gets a leading ``'``, as OWASP advises
against CSV injection; numeric columns (an int or float in the database) are bare numbers.

Columns (lists are joined with ``;``; empty cell = no value). Instants (``occurred_at``,
``last_contact_at``) are ISO 8601 in the program's time zone with its offset written out, e.g.
``2026-12-01T07:30:00+08:00``: the day a reader sees is the program's day, and the instant is
still exact. Dates (``follow_up_on``, ``enrolled_on``, …) are ``YYYY-MM-DD``.

contacts
    id, occurred_at, participant_id, participant_code, peer_leader_id, peer_leader,
    community_code, meeting_id, mode, duration_min, functions, topics, referral, referral_reason,
    referral_to, glucose_mmol, bp_systolic, bp_diastolic, weight_kg, follow_up_on, note, voided,
    void_reason, version
participants
    id, code, full_name, sex, birth_year, phone, address, community_code, committee_code,
    group_id, peer_leader_id, peer_leader, enrolled_on, consent_on, status, conditions,
    hba1c_baseline, hba1c_baseline_on, hba1c, hba1c_on, bp_systolic, bp_diastolic, bp_on,
    weight_kg, weight_on, needs_visit, needs_visit_reason, last_contact_at, next_follow_up_on,
    notes, version
meetings
    id, occurred_at, group_id, group, community_code, peer_leader_id, peer_leader, place, topic,
    co_leader, attendee_ids, attendees, note, voided, void_reason, version
peer_leaders
    id, research_code, username, display_name, community_code, is_active, created_at,
    deactivated_at
groups
    id, research_code, name, community_code, committee_code, leader_id, leader,
    leader_research_code, co_leader_id, co_leader, version
places
    id, code, name, community_id, community_code, community_name

``research_code`` is the code the pseudonymised research export (``server.research``) gives a
peer leader or a group: these files are the program's key from those codes to names.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from tortoise.expressions import Q, Subquery

from server.reports import start_of
from sync.models import (
    Assessment,
    AuditEvent,
    Committee,
    Community,
    Contact,
    Group,
    GroupMeeting,
    Measurement,
    Participant,
    Role,
    User,
)
from sync.validate import FORBIDDEN_IN_TEXT

BOM = "\ufeff"
BATCH = 2000

CONTACT_COLUMNS: dict[str, str] = {
    "id": "id",
    "occurred_at": "occurred_at",
    "participant_id": "participant_id",
    "participant_code": "participant__code",
    "peer_leader_id": "peer_leader_id",
    "peer_leader": "peer_leader__username",
    "community_code": "community__code",
    "meeting_id": "meeting_id",
    "mode": "mode",
    "duration_min": "duration_min",
    "functions": "functions",
    "topics": "topics",
    "referral": "referral",
    "referral_reason": "referral_reason",
    "referral_to": "referral_to",
    "glucose_mmol": "glucose_mmol",
    "bp_systolic": "bp_systolic",
    "bp_diastolic": "bp_diastolic",
    "weight_kg": "weight_kg",
    "follow_up_on": "follow_up_on",
    "note": "note",
    "voided": "voided",
    "void_reason": "void_reason",
    "version": "version",
}
PARTICIPANT_COLUMNS: dict[str, str] = {
    "id": "id",
    "code": "code",
    "full_name": "full_name",
    "sex": "sex",
    "birth_year": "birth_year",
    "phone": "phone",
    "address": "address",
    "community_code": "community__code",
    "committee_code": "committee__code",
    "group_id": "group_id",
    "peer_leader_id": "peer_leader_id",
    "peer_leader": "peer_leader__username",
    "enrolled_on": "enrolled_on",
    "consent_on": "consent_on",
    "status": "status",
    "conditions": "conditions",
    "hba1c_baseline": "hba1c_baseline",
    "hba1c_baseline_on": "hba1c_baseline_on",
    "hba1c": "hba1c",
    "hba1c_on": "hba1c_on",
    "bp_systolic": "bp_systolic",
    "bp_diastolic": "bp_diastolic",
    "bp_on": "bp_on",
    "weight_kg": "weight_kg",
    "weight_on": "weight_on",
    "needs_visit": "needs_visit",
    "needs_visit_reason": "needs_visit_reason",
    "last_contact_at": "last_contact_at",
    "next_follow_up_on": "next_follow_up_on",
    "notes": "notes",
    "version": "version",
}
MEETING_COLUMNS: dict[str, str] = {
    "id": "id",
    "occurred_at": "occurred_at",
    "group_id": "group_id",
    "group": "group__name",
    "community_code": "community__code",
    "peer_leader_id": "peer_leader_id",
    "peer_leader": "peer_leader__username",
    "place": "place",
    "topic": "topic",
    "co_leader": "co_leader",
    "attendee_ids": "attendee_ids",
    "attendees": "attendee_ids",  # the count, computed below
    "note": "note",
    "voided": "voided",
    "void_reason": "void_reason",
    "version": "version",
}
PEER_LEADER_COLUMNS: dict[str, str] = {
    "id": "id",
    "research_code": "id",
    "username": "username",
    "display_name": "display_name",
    "community_code": "community__code",
    "is_active": "is_active",
    "created_at": "created_at",
    "deactivated_at": "deactivated_at",
}
GROUP_COLUMNS: dict[str, str] = {
    "id": "id",
    "research_code": "id",
    "name": "name",
    "community_code": "community__code",
    "committee_code": "committee__code",
    "leader_id": "leader_id",
    "leader": "leader__username",
    "leader_research_code": "leader_id",
    "co_leader_id": "co_leader_id",
    "co_leader": "co_leader__username",
    "version": "version",
}
PLACE_COLUMNS: dict[str, str] = {
    "id": "id",
    "code": "code",
    "name": "name",
    "community_id": "community_id",
    "community_code": "community__code",
    "community_name": "community__name",
}


def _research_code(prefix: str) -> Callable[[Any], Any]:
    # Cached: a research export asks for the same few hundred codes tens of thousands of times.
    @functools.cache
    def code(value: Any) -> Any:
        return None if value is None else f"{prefix}{uuid.UUID(str(value)).hex[:8].upper()}"

    return code


# The research export's codes for a peer leader and a group (``server.research`` uses these).
leader_code = _research_code("PL-")
group_code = _research_code("G-")


@dataclass(frozen=True)
class ExportKind:
    name: str
    model: Any
    columns: dict[str, str]
    date_field: str | None  # the field the date range applies to; None: no date filter
    is_instant: bool = False
    # column → how its cell is computed from its source value (a count, a code)
    derived: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    # rows always left out or kept (e.g. only peer leaders among the users)
    base: dict[str, Any] = field(default_factory=dict)
    # the date filter, when it is more than ``date_field`` in the range
    window: Callable[[ExportFilters], Q] | None = None


def _attendees(ids: Any) -> int:
    return len(ids or ())


KINDS: dict[str, ExportKind] = {}


def _kinds(*kinds: ExportKind) -> None:
    KINDS.update((k.name, k) for k in kinds)


@dataclass(frozen=True)
class ExportFilters:
    community_id: uuid.UUID | None = None
    since: date | None = None
    until: date | None = None
    # The program's time zone: what since/until and the instant cells mean.
    zone: tzinfo = field(kw_only=True)

    def describe(self, community_code: str | None = None) -> dict[str, Any]:
        return {
            "community": community_code or (str(self.community_id) if self.community_id else None),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "timezone": str(self.zone),
        }


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"), and the full-width
# forms a Chinese input method types, which some spreadsheets read the same way.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def spreadsheet_text(text: str) -> str:
    """A text cell no spreadsheet runs: NUL, other controls and bidi overrides dropped (rows
    stored before the text rule may hold them), and a leading quote when it would start like
    a formula, also after spaces. Numbers never come here: see ``cell``."""
    text = FORBIDDEN_IN_TEXT.sub("", text)
    if text.lstrip(" ").startswith(FORMULA_START):
        return "'" + text
    return text


def cell(value: Any, zone: tzinfo) -> str | int | float:
    """One CSV cell: lists joined with ``;``, instants in ISO 8601 in ``zone`` with its offset,
    booleans as true/false, text made safe for a spreadsheet (``spreadsheet_text``).

    Numbers are decided by the column's type in the database, not by how a value looks: an int
    or float stays a number (written unquoted, so ``-0.3`` is minus 0.3 to R, pandas and Excel
    alike), and a text that looks like a number (``"-0.3"`` typed in a note) is text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return spreadsheet_text(";".join(str(v) for v in value))
    return spreadsheet_text(str(value))


def csv_writer(buffer: io.StringIO) -> Any:
    """Every text cell in double quotes (OWASP: a ``;`` inside a cell must not start a new one
    where a spreadsheet splits on semicolons), numbers bare."""
    return csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` for ``filename`` that any header can carry: an ASCII name, and
    the real one (a community's code may be Chinese) as RFC 6266's ``filename*``."""
    plain = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in filename
    )
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def period_q(f: ExportFilters, date_field: str, is_instant: bool) -> Q:
    """``date_field`` within the filters' days (an instant: from the first day's local midnight)."""
    q = Q()
    if f.since:
        bound: Any = start_of(f.since, f.zone) if is_instant else f.since
        q &= Q(**{f"{date_field}__gte": bound})
    if f.until:
        if is_instant:
            end = start_of(f.until + timedelta(days=1), f.zone)
            q &= Q(**{f"{date_field}__lt": end})  # type: ignore[arg-type]
        else:
            q &= Q(**{f"{date_field}__lte": f.until})  # type: ignore[arg-type]
    return q


# Records that make a participant active on their day: (model, its date field, is an instant).
# A group meeting's attendance is a ``group_meeting`` contact, so contacts cover meetings.
ACTIVITY_SOURCES: list[tuple[Any, str, bool]] = [
    (Contact, "occurred_at", True),
    (Measurement, "measured_on", False),
    (Assessment, "assessed_on", False),
]


def active_participants_q(f: ExportFilters) -> Q:
    """Participants active in the filters' period: enrolled in it, or with a (non-voided)
    activity record in it. With no period, everyone."""
    if not (f.since or f.until):
        return Q()
    q = period_q(f, "enrolled_on", False)
    for model, date_field, is_instant in ACTIVITY_SOURCES:
        done = model.filter(period_q(f, date_field, is_instant), voided=False)
        q |= Q(id__in=Subquery(done.values("participant_id")))
    return q


def _query(kind: ExportKind, f: ExportFilters) -> Any:
    q = Q(**kind.base)
    if f.community_id:
        q &= Q(community_id=f.community_id)
    if kind.window is not None:
        q &= kind.window(f)
    elif kind.date_field is not None:
        q &= period_q(f, kind.date_field, kind.is_instant)
    return kind.model.filter(q)


_kinds(
    ExportKind("contacts", Contact, CONTACT_COLUMNS, "occurred_at", True),
    ExportKind(
        "participants",
        Participant,
        PARTICIPANT_COLUMNS,
        "enrolled_on",
        window=active_participants_q,
    ),
    ExportKind(
        "meetings", GroupMeeting, MEETING_COLUMNS, "occurred_at", True, {"attendees": _attendees}
    ),
    ExportKind(
        "peer_leaders",
        User,
        PEER_LEADER_COLUMNS,
        None,
        derived={"research_code": leader_code},
        base={"role": Role.PEER_LEADER.value},
    ),
    ExportKind(
        "groups",
        Group,
        GROUP_COLUMNS,
        None,
        derived={"research_code": group_code, "leader_research_code": leader_code},
    ),
    ExportKind("places", Committee, PLACE_COLUMNS, None),
)


async def rows(kind: ExportKind, f: ExportFilters) -> AsyncIterator[list[Any]]:
    """The export's rows, header first, paging by primary key so memory stays flat."""
    yield list(kind.columns)
    sources = list(dict.fromkeys(kind.columns.values()))
    after: Any = None
    while True:
        query = _query(kind, f)
        if after is not None:
            query = query.filter(id__gt=after)
        batch = (
            await query.order_by("id")
            .limit(BATCH)
            .values(**{f"c{i}": s for i, s in enumerate(sources)})
        )
        if not batch:
            return
        for raw in batch:
            record = {s: raw[f"c{i}"] for i, s in enumerate(sources)}
            out = []
            for column, source in kind.columns.items():
                value = record[source]
                if column in kind.derived:
                    value = kind.derived[column](value)
                out.append(cell(value, f.zone))
            yield out
        after = batch[-1]["c0"]
        if len(batch) < BATCH:
            return


async def csv_chunks(
    kind: ExportKind,
    f: ExportFilters,
    on_done: Callable[[int, bool], Any],
) -> AsyncIterator[bytes]:
    """UTF-8 CSV (BOM first) in chunks of a few hundred rows; ``on_done(rows, complete)`` is
    awaited at the end, also when the client goes away half-way (then ``complete`` is false)."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    buffer.write(BOM)
    count = -1  # the header is not a record
    complete = False
    try:
        async for row in rows(kind, f):
            writer.writerow(row)
            count += 1
            if count % 500 == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        complete = True
        tail = buffer.getvalue()
        if tail:
            yield tail.encode("utf-8")
    finally:
        await on_done(max(count, 0), complete)


async def audit_export(
    actor: User | None,
    kind: str,
    f: ExportFilters,
    count: int,
    *,
    complete: bool,
    source: str,
    request_id: str | None = None,
    device_id: uuid.UUID | None = None,
    community_code: str | None = None,
    tables: dict[str, int] | None = None,
) -> None:
    """One audit row per export: who, what, the filters and how many rows (per table for a
    zip of several), never a value."""
    await AuditEvent.create(
        actor=actor,
        device_id=device_id,
        action="export",
        entity=kind,
        request_id=request_id,
        detail={
            "kind": kind,
            **f.describe(community_code),
            "rows": count,
            "complete": complete,
            "source": source,
            **({"tables": tables} if tables is not None else {}),
        },
    )


class ExportError(ValueError):
    """A bad export request; the message is safe to show."""


async def filters_from_args(
    community: str | None, since: str | None, until: str | None, zone: tzinfo
) -> tuple[ExportFilters, str | None]:
    community_id = None
    code = None
    if community:
        found = await Community.get_or_none(code=community)
        if found is None:
            raise ExportError(f"no community with code {community!r}")
        community_id, code = found.id, found.code
    try:
        since_d = date.fromisoformat(since) if since else None
        until_d = date.fromisoformat(until) if until else None
    except ValueError:
        raise ExportError("dates must be YYYY-MM-DD") from None
    if since_d and until_d and until_d < since_d:
        raise ExportError("--until is before --since")
    return ExportFilters(community_id, since_d, until_d, zone=zone), code


def open_output(path: str) -> Any:
    return open(path, "wb")


async def write_output(path: str | None, chunks: AsyncIterator[bytes]) -> None:
    """``peerlog export``'s output: the file ``path`` (a user error when it cannot be made), or
    standard output."""
    from server.console import UserError

    if path:
        try:
            out = open_output(path)
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror}") from None
    else:
        out = sys.stdout.buffer
    try:
        async for chunk in chunks:
            out.write(chunk)
        out.flush()
    finally:
        if path:
            out.close()


def export_filename(kind: str, community_code: str | None, f: ExportFilters, ext: str) -> str:
    """``peerlog-contacts-SH-XH-2026-10-01-2026-10-31.csv``: what, where and when."""
    parts = [kind, community_code or "all"]
    if f.since:
        parts.append(f.since.isoformat())
    if f.until:
        parts.append(f.until.isoformat())
    return f"peerlog-{'-'.join(parts)}.{ext}"


async def cli_export(args: argparse.Namespace, zone: tzinfo) -> None:
    """``peerlog export KIND [--community CODE] [--since D] [--until D] [-o FILE]``; the days
    and the instant cells are in ``zone``, the program's time zone. (``peerlog export research``
    is ``server.research.cli_export``.)"""
    from server.console import UserError

    try:
        f, code = await filters_from_args(args.community, args.since, args.until, zone)
    except ExportError as exc:
        raise UserError(str(exc)) from None
    kind = KINDS[args.kind]
    count_box = {"rows": 0}

    async def done(count: int, complete: bool) -> None:
        count_box["rows"] = count
        await audit_export(
            None, kind.name, f, count, complete=complete, source="cli", community_code=code
        )

    await write_output(args.output, csv_chunks(kind, f, done))
    if args.output:
        print(f"wrote {count_box['rows']} {kind.name} to {args.output}", file=sys.stderr)
