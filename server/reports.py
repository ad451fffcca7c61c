"""Dashboard figures: what the program's staff need to see, computed from the central store.

Each figure is one aggregate query or a compact pass over a narrow selection (a few columns, no
ORM objects), so the whole dashboard stays well under 300 ms on ~1,300 participants and ~25k
contacts, on SQLite and PostgreSQL alike.

Definitions (shown on the page, and tested against an independent computation):

- *active participants*: status ``active``, within the filters (community, committee, peer leader
  = the participant's assigned peer leader). Status is today's status.
- *reach*: share of active participants with at least one non-voided contact in the 30 days
  ending on the range's last day.
- *contacts per participant per month*: non-voided contacts in that calendar month (inside the
  range) divided by the number of active participants. With a peer-leader filter, contacts are
  those the peer leader logged. Each month is also given *per 30 days* (divided by the days of
  the month the range covers, up to today, times 30), so a partial month — the current one, or
  the range's ends — compares with whole ones; a partial month is marked.
- *key functions*: non-voided contacts in the range, one-to-one contacts and group-meeting
  contacts (a meeting's attendances, and any contact logged in the ``group_meeting`` mode)
  counted apart; a contact counts once for every key function it addressed, and shares are of
  the contacts of its own kind.
- *modes / referrals*: non-voided contacts in the range.
- *group-meeting attendance*: non-voided meetings in the range, attendances, mean per meeting
  and distinct participants who attended at least once.
- *overdue* (today): see ``is_overdue``.
- *HbA1c*: participants within the filters (any status) whose baseline HbA1c was ≥ 8 % and whose
  latest HbA1c is dated in the range and after the baseline (a "latest" dated before the
  baseline is not a follow-up): n, mean baseline, mean latest, mean change (latest − baseline).
  ``hba1c_change`` takes plain (baseline, its day, latest, its day) values, so the measurement
  history of issue 14 can feed it in place of the participant's two columns.

Days are the program's days: calendar days in ``PEERLOG_TIMEZONE`` (Asia/Shanghai by default).
Instants are stored in UTC, so a day is the UTC range from its local midnight to the next: a
contact at 07:30 in Shanghai on 1 December (23:30 UTC on 30 November) counts in December, and
"today" turns over at local midnight, not at 08:00.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet

from sync.models import (
    Contact,
    ContactMode,
    GroupMeeting,
    KeyFunction,
    Participant,
    ParticipantStatus,
    Referral,
)
from sync.validate import BP_URGENT, GLUCOSE_SAFE

REACH_DAYS = 30
HBA1C_THRESHOLD = 8.0
URGENT_LIST_LIMIT = 50


@dataclass(frozen=True)
class Filters:
    since: date
    until: date
    community_id: uuid.UUID | None = None
    committee_id: uuid.UUID | None = None
    peer_leader_id: uuid.UUID | None = None

    @classmethod
    def default(cls, today: date, **kw: Any) -> Filters:
        """The last six calendar months up to today."""
        first = date(today.year, today.month, 1)
        for _ in range(5):
            first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
        return cls(since=first, until=today, **kw)


def today_in(zone: tzinfo, now: datetime | None = None) -> date:
    """The program's today: the calendar day in ``zone`` at ``now`` (default: the clock)."""
    return (now or datetime.now(UTC)).astimezone(zone).date()


def day_of(instant: datetime, zone: tzinfo) -> date:
    """The program's day an instant falls on."""
    return instant.astimezone(zone).date()


# UTC is the default only for callers that have no program zone yet (the audit log's filters).
def start_of(day: date, zone: tzinfo = UTC) -> datetime:
    """The first instant of ``day`` in ``zone``, as a UTC datetime.

    Returned in UTC because SQLite compares the stored ISO text, and instants are stored in
    UTC. Where a DST change skips local midnight, the day starts at the change."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def is_overdue(
    last_contact_at: datetime | None,
    next_follow_up_on: date | None,
    enrolled_on: date | None,
    today: date,
    overdue_days: int,
    zone: tzinfo,
) -> bool:
    """SPEC 3: the follow-up date has passed with no contact since, or no contact for
    ``overdue_days`` days. Someone never contacted counts from their enrolment. ``today`` and
    the last contact's day are days in ``zone``."""
    last = day_of(last_contact_at, zone) if last_contact_at else None
    if (
        next_follow_up_on is not None
        and next_follow_up_on < today
        and (last is None or last < next_follow_up_on)
    ):
        return True
    reference = last or enrolled_on
    if reference is None:
        return True
    return (today - reference).days > overdue_days


def months_between(since: date, until: date) -> list[date]:
    """First days of each calendar month touching the range."""
    months = []
    current = date(since.year, since.month, 1)
    while current <= until:
        months.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return months


def _participant_q(f: Filters) -> Q:
    q = Q()
    if f.community_id:
        q &= Q(community_id=f.community_id)
    if f.committee_id:
        q &= Q(committee_id=f.committee_id)
    if f.peer_leader_id:
        q &= Q(peer_leader_id=f.peer_leader_id)
    return q


def _contact_q(f: Filters, since: date, until: date, zone: tzinfo) -> Q:
    q = Q(
        voided=False,
        occurred_at__gte=start_of(since, zone),
        occurred_at__lt=start_of(until + timedelta(days=1), zone),
    )
    if f.community_id:
        q &= Q(community_id=f.community_id)
    if f.committee_id:
        # A subquery, not a join: Tortoise groups an aggregate over a join by every column.
        q &= Q(
            participant_id__in=Subquery(
                Participant.filter(committee_id=f.committee_id).values("id")
            )
        )
    if f.peer_leader_id:
        q &= Q(peer_leader_id=f.peer_leader_id)
    return q


async def urgent_referrals(contacts: QuerySet[Contact], zone: tzinfo) -> list[dict[str, Any]]:
    """The urgent referrals among ``contacts`` (a query that leaves out voided ones), newest
    first, at most ``URGENT_LIST_LIMIT``, their times in ``zone``: the dashboard's list and the
    staff start page's."""
    rows = await (
        contacts.filter(referral=Referral.URGENT.value)
        .order_by("-occurred_at")
        .limit(URGENT_LIST_LIMIT)
        .values(
            "id",
            "occurred_at",
            "referral_reason",
            "referral_to",
            participant_code="participant__code",
            participant_name="participant__full_name",
            peer_leader_name="peer_leader__display_name",
        )
    )
    for u in rows:
        u["occurred_at"] = u["occurred_at"].astimezone(zone)
    return rows


async def unreferred_readings(contacts: QuerySet[Contact], zone: tzinfo) -> list[dict[str, Any]]:
    """Contacts among ``contacts`` whose reported glucose or blood pressure is outside the safe
    range and that carry no urgent referral, newest first (as ``urgent_referrals``): a peer
    leader may have saved one without a referral, and a coordinator should hear of it."""
    low, high = GLUCOSE_SAFE
    out_of_range = (
        Q(glucose_mmol__lt=low)
        | Q(glucose_mmol__gt=high)
        | Q(bp_systolic__gte=BP_URGENT[0])
        | Q(bp_diastolic__gte=BP_URGENT[1])
    )
    rows = await (
        contacts.filter(out_of_range)
        .exclude(referral=Referral.URGENT.value)
        .order_by("-occurred_at")
        .limit(URGENT_LIST_LIMIT)
        .values(
            "id",
            "occurred_at",
            "referral",
            "glucose_mmol",
            "bp_systolic",
            "bp_diastolic",
            participant_code="participant__code",
            participant_name="participant__full_name",
            participant_phone="participant__phone",
            peer_leader_name="peer_leader__display_name",
        )
    )
    for u in rows:
        u["occurred_at"] = u["occurred_at"].astimezone(zone)
    return rows


def _meeting_q(f: Filters, zone: tzinfo) -> Q:
    q = Q(
        voided=False,
        occurred_at__gte=start_of(f.since, zone),
        occurred_at__lt=start_of(f.until + timedelta(days=1), zone),
    )
    if f.community_id:
        q &= Q(community_id=f.community_id)
    if f.committee_id:
        q &= Q(group__committee_id=f.committee_id)
    if f.peer_leader_id:
        q &= Q(peer_leader_id=f.peer_leader_id)
    return q


@dataclass
class BreakdownRow:
    key: uuid.UUID | None
    label: str
    active: int = 0
    reached: int = 0
    overdue: int = 0
    contacts: int = 0

    @property
    def reach(self) -> float | None:
        return self.reached / self.active if self.active else None


class MonthRow(NamedTuple):
    month: date  # its first day
    contacts: int
    rate: float  # contacts per active participant
    days: int  # days of the month the range covers, up to today
    month_days: int

    @property
    def partial(self) -> bool:
        return self.days < self.month_days

    @property
    def per_30_days(self) -> float:
        """Contacts per active participant per 30 days: partial months compare with whole ones."""
        return self.rate * 30 / self.days if self.days else 0.0


@dataclass
class Dashboard:
    filters: Filters
    today: date
    active: int = 0
    reached: int = 0
    per_month: list[MonthRow] = field(default_factory=list)
    functions: list[tuple[str, int]] = field(default_factory=list)
    modes: list[tuple[str, int]] = field(default_factory=list)
    referrals: list[tuple[str, int]] = field(default_factory=list)
    urgent: list[dict[str, Any]] = field(default_factory=list)
    contacts: int = 0
    one_to_one: int = 0  # contacts neither from a meeting's attendance nor in its mode
    meeting_functions: list[tuple[str, int]] = field(default_factory=list)
    meetings: int = 0
    attendances: int = 0
    attendees: int = 0
    overdue: int = 0
    follow_up_passed: int = 0
    hba1c_n: int = 0
    hba1c_baseline_mean: float | None = None
    hba1c_latest_mean: float | None = None
    hba1c_change_mean: float | None = None
    breakdown: list[BreakdownRow] = field(default_factory=list)

    @property
    def reach(self) -> float | None:
        return self.reached / self.active if self.active else None

    @property
    def mean_attendance(self) -> float | None:
        return self.attendances / self.meetings if self.meetings else None

    @property
    def group_contacts(self) -> int:
        """Contacts at group meetings: what key-function shares count apart."""
        return self.contacts - self.one_to_one


def hba1c_change(
    values: list[tuple[float | None, date | None, float | None, date | None]],
    since: date,
    until: date,
) -> tuple[int, float | None, float | None]:
    """n, mean baseline and mean latest among (baseline, baseline day, latest, latest day) where
    the baseline is ≥ ``HBA1C_THRESHOLD`` and the latest is dated in the range, after the
    baseline (when the baseline has a day)."""
    pairs = [
        (base, latest)
        for base, base_on, latest, latest_on in values
        if base is not None
        and base >= HBA1C_THRESHOLD
        and latest is not None
        and latest_on is not None
        and since <= latest_on <= until
        and (base_on is None or latest_on > base_on)
    ]
    if not pairs:
        return 0, None, None
    n = len(pairs)
    return n, sum(b for b, _ in pairs) / n, sum(x for _, x in pairs) / n


async def dashboard(
    f: Filters,
    *,
    today: date,
    zone: tzinfo,
    overdue_days: int,
    by: str | None = None,
    labels: dict[uuid.UUID, str] | None = None,
) -> Dashboard:
    """Every dashboard figure for these filters; with ``by`` (the participant column
    ``community_id``, ``committee_id`` or ``peer_leader_id``) also a breakdown table. The
    filters' days, the months and ``today`` are days in ``zone``; urgent referrals' times are
    given in ``zone``."""
    assert by in (None, "community_id", "committee_id", "peer_leader_id")
    d = Dashboard(filters=f, today=today)
    labels = labels or {}
    rows_by: dict[Any, BreakdownRow] = {}

    def row(key: Any) -> BreakdownRow:
        if key not in rows_by:
            rows_by[key] = BreakdownRow(key, labels.get(key, "—") if key else "—")
        return rows_by[key]

    # Reach: the 30 days ending on the range's last day, among today's active participants in
    # scope, whoever contacted them. No join: the contact's own community narrows the scan, and
    # the participant filters apply below, in the one pass over the participants.
    window = _contact_q(
        Filters(f.since, f.until, f.community_id),
        f.until - timedelta(days=REACH_DAYS - 1),
        f.until,
        zone,
    )
    contacted = set(
        await Contact.filter(window).distinct().values_list("participant_id", flat=True)
    )

    rows = await Participant.filter(_participant_q(f)).values_list(
        "id",
        by or "community_id",
        "status",
        "last_contact_at",
        "next_follow_up_on",
        "enrolled_on",
        "hba1c_baseline",
        "hba1c_baseline_on",
        "hba1c",
        "hba1c_on",
    )
    hba1c_values = []
    for pid, key, status, last, follow_up, enrolled, base, base_on, hba1c, hba1c_on in rows:
        r = row(key) if by else None
        if status == ParticipantStatus.ACTIVE.value:
            d.active += 1
            overdue = is_overdue(last, follow_up, enrolled, today, overdue_days, zone)
            d.overdue += overdue
            reached = pid in contacted
            d.reached += reached
            if r is not None:
                r.active += 1
                r.overdue += overdue
                r.reached += reached
            if follow_up is not None and follow_up < today:
                last_day = day_of(last, zone) if last else None
                if last_day is None or last_day < follow_up:
                    d.follow_up_passed += 1
        hba1c_values.append((base, base_on, hba1c, hba1c_on))
    d.hba1c_n, d.hba1c_baseline_mean, d.hba1c_latest_mean = hba1c_change(
        hba1c_values, f.since, f.until
    )
    if d.hba1c_baseline_mean is not None and d.hba1c_latest_mean is not None:
        d.hba1c_change_mean = d.hba1c_latest_mean - d.hba1c_baseline_mean

    cq = _contact_q(f, f.since, f.until, zone)
    for month in months_between(f.since, f.until):
        nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        lo, hi = max(month, f.since), min(nxt - timedelta(days=1), f.until)
        n = await Contact.filter(_contact_q(f, lo, hi, zone)).count()
        covered = max(0, (min(hi, today) - lo).days + 1)
        d.per_month.append(
            MonthRow(month, n, n / d.active if d.active else 0.0, covered, (nxt - month).days)
        )
    d.contacts = sum(m.contacts for m in d.per_month)

    modes = dict(
        await Contact.filter(cq).annotate(n=Count("id")).group_by("mode").values_list("mode", "n")
    )
    d.modes = [(m.value, int(modes.get(m.value, 0))) for m in ContactMode]
    referrals = dict(
        await Contact.filter(cq)
        .annotate(n=Count("id"))
        .group_by("referral")
        .values_list("referral", "n")
    )
    d.referrals = [(r.value, int(referrals.get(r.value, 0))) for r in Referral]

    # One pass in SQL: the JSON list's text holds each function as a quoted word, on SQLite
    # (TEXT) and PostgreSQL (jsonb cast to text) alike; group meetings (a meeting's attendances
    # and contacts logged in its mode) are counted apart from one-to-one contacts. Function and
    # mode names are our own enum values, never user input, so they are safe in the statement.
    one = f'"meeting_id" IS NULL AND "mode" <> \'{ContactMode.GROUP_MEETING.value}\''

    def count_when(condition: str) -> Sum:
        return Sum(RawSQL(f"CASE WHEN {condition} THEN 1 ELSE 0 END"))  # type: ignore[arg-type]

    def has(k: KeyFunction) -> str:
        return f'CAST("functions" AS TEXT) LIKE \'%"{k.value}"%\''

    sums = {"one_to_one": count_when(one)}
    for k in KeyFunction:
        sums[f"one_{k.value}"] = count_when(f"{one} AND {has(k)}")
        sums[f"meeting_{k.value}"] = count_when(f"NOT ({one}) AND {has(k)}")
    counted = await Contact.filter(cq).annotate(**sums).values(*sums)
    first = counted[0] if counted else {}
    d.one_to_one = int(first.get("one_to_one") or 0)
    d.functions = [(k.value, int(first.get(f"one_{k.value}") or 0)) for k in KeyFunction]
    d.meeting_functions = [
        (k.value, int(first.get(f"meeting_{k.value}") or 0)) for k in KeyFunction
    ]

    d.urgent = await urgent_referrals(Contact.filter(cq), zone)

    attendee_lists = await GroupMeeting.filter(_meeting_q(f, zone)).values_list(
        "attendee_ids", flat=True
    )
    seen: set[str] = set()
    for ids in attendee_lists:
        d.meetings += 1
        d.attendances += len(ids or ())
        seen.update(str(i) for i in ids or ())
    d.attendees = len(seen)

    if by:
        # Contacts per row: by the contact's community, its author, or its participant's
        # committee (a join, grouped by that one column).
        column = {
            "community_id": "community_id",
            "peer_leader_id": "peer_leader_id",
            "committee_id": "participant__committee_id",
        }[by]
        for key, n in (
            await Contact.filter(cq)
            .annotate(n=Count("id"))
            .group_by(column)
            .values_list(column, "n")
        ):
            row(key).contacts = int(n)
        d.breakdown = sorted(rows_by.values(), key=lambda r: r.label)
    return d
