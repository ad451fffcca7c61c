"""Program evaluation (SPEC 6): the Shanghai papers' measures beside the dashboard's figures.

Computed from the evaluation records, for the dashboard's filters (community, committee, peer
leader, period), each definition tested against an independent computation:

- *change from baseline* (HbA1c, systolic and diastolic blood pressure, weight): participants
  within the filters (any status), their non-voided measurement rows dated up to the period's
  last day; baseline and follow-up by ``sync.outcomes`` (the follow-up is the newest row within
  the evaluator's window after the baseline, 3–9 months by default), counted when the follow-up
  is dated in the period. n, mean baseline, mean follow-up, mean change; HbA1c also for those
  whose baseline is ≥ 8 %.
- *distress change* (DDS-2): the participant's earliest non-voided ``baseline`` assessment and
  newest ``follow_up`` assessment dated in the period and after the baseline's day.
- *group activities per participant per month*: non-voided group activities by channel, in each
  month of the period, divided by the active participants (as contacts are); a month is partial
  as on the contacts' panel. Committee = the activity's committee, or its group's; peer leader =
  its author.
- *supervision coverage*: active peer leaders within the filters (a committee narrows them to
  those with a participant there) with a non-voided supervision in the 30 days ending on the
  period's last day; those without one are listed, with their last supervision.
- *training*: non-voided trainings held in the period, of the community or program-wide; the
  share of the peer leaders in scope who attended at least one.
- *ratings beside outcomes*: per peer leader (the participants' assigned one), the mean of every
  item of their non-voided implementation ratings whose quarter overlaps the period, beside their
  participants' mean HbA1c change (any baseline) and mean distress change.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, cast

from tortoise.expressions import Q, Subquery
from tortoise.queryset import ValuesListQuery

from server.reports import (
    HBA1C_THRESHOLD,
    REACH_DAYS,
    Filters,
    MonthRow,
    _participant_q,
    months_between,
    start_of,
)
from sync import outcomes
from sync.entities.implementation_rating import RATED
from sync.models import (
    ActivityChannel,
    Assessment,
    Group,
    GroupActivity,
    ImplementationRating,
    Marker,
    Measurement,
    Participant,
    Role,
    Supervision,
    TimePoint,
    Training,
    User,
)

DISTRESS_INSTRUMENT = "dds2"
CHANGE_MARKERS = (Marker.HBA1C, Marker.BP_SYSTOLIC, Marker.BP_DIASTOLIC, Marker.WEIGHT)
RATING_ITEMS = RATED  # every item of a rating, key functions and committee/resource use
WINDOW_LIMIT = 24  # months: the widest follow-up window the page accepts


@dataclass
class Change:
    """Baseline and follow-up values of the participants counted."""

    pairs: list[tuple[float, float]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.pairs)

    @property
    def baseline_mean(self) -> float | None:
        return sum(b for b, _ in self.pairs) / self.n if self.pairs else None

    @property
    def follow_up_mean(self) -> float | None:
        return sum(x for _, x in self.pairs) / self.n if self.pairs else None

    @property
    def change_mean(self) -> float | None:
        return sum(x - b for b, x in self.pairs) / self.n if self.pairs else None


@dataclass
class LeaderPoint:
    id: uuid.UUID
    name: str
    ratings: list[int] = field(default_factory=list)
    hba1c: Change = field(default_factory=Change)
    distress: Change = field(default_factory=Change)

    @property
    def rating_mean(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None


@dataclass
class Evaluation:
    window: outcomes.Window
    changes: dict[str, Change] = field(default_factory=dict)  # marker, hba1c_high, distress
    activity_months: list[tuple[MonthRow, dict[str, int]]] = field(default_factory=list)
    activities: dict[str, int] = field(default_factory=dict)
    leaders: int = 0
    supervised: int = 0
    unsupervised: list[dict[str, Any]] = field(default_factory=list)
    trainings: int = 0
    training_hours: float = 0.0
    trained: int = 0
    training_attendances: int = 0
    points: list[LeaderPoint] = field(default_factory=list)

    @property
    def coverage(self) -> float | None:
        return self.supervised / self.leaders if self.leaders else None

    @property
    def trained_share(self) -> float | None:
        return self.trained / self.leaders if self.leaders else None


def quarter_bounds(period: str) -> tuple[date, date] | None:
    """First and last day of a ``YYYY-Qn`` period, or None when it is not one."""
    try:
        year, quarter = int(period[:4]), int(period[6:])
    except ValueError:
        return None
    if period[4:6] != "-Q" or not 1 <= quarter <= 4:
        return None
    first = date(year, 3 * quarter - 2, 1)
    nxt = date(year + quarter // 4, 3 * (quarter % 4) + 1, 1)
    return first, nxt - timedelta(days=1)


def _in_scope(f: Filters) -> Q:
    """Rows of participants within the filters (by a subquery, so one scan of the rows)."""
    q = Q(voided=False)
    if f.community_id:
        q &= Q(community_id=f.community_id)
    if f.committee_id or f.peer_leader_id:
        q &= Q(participant_id__in=Subquery(Participant.filter(_participant_q(f)).values("id")))
    return q


async def raw_values(query: ValuesListQuery[Any]) -> Sequence[Sequence[Any]]:
    """The rows of a ``values_list`` query as the driver gives them (indexable by position, in
    the order asked for): ids as text (SQLite) or UUIDs (PostgreSQL), days and instants as ISO
    text (SQLite) or dates and datetimes. Tortoise's per-value conversion (an ISO parse per
    date, a UUID per id) was most of the time of the ~20k measurement rows, so the wide reads
    skip it; Tortoise still builds the statement. (Private API: the same steps as
    ``ValuesListQuery.__await__``.)"""
    query._choose_db_if_not_chosen()
    query._make_query()
    _, rows = await query._db.execute_query(*query.query.get_parameterized_sql())
    # sqlite3.Row and asyncpg's Record, though typed as dicts, are sequences too.
    return cast(Sequence[Sequence[Any]], rows)


def as_day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def as_instant(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _outcome_changes(
    rows: Iterable[Sequence[Any]], f: Filters, window: outcomes.Window
) -> dict[str, dict[str, tuple[float, float]]]:
    """Participant id (text) → marker → (baseline, follow-up) for the participants counted;
    rows are (participant, marker, value, day, source, seq, id)."""
    grouped: dict[tuple[str, str], list[Sequence[Any]]] = defaultdict(list)
    for row in rows:
        grouped[str(row[0]), row[1]].append(row)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for (pid, marker), mine in grouped.items():
        if len(mine) < 2:
            continue  # a baseline alone has no follow-up
        readings = [
            outcomes.Reading(marker, r[2], as_day(r[3]), r[4], False, r[5], str(r[6])) for r in mine
        ]
        if max(r.measured_on for r in readings) < f.since:
            continue  # no follow-up can be dated in the period
        first = outcomes.baseline(readings, marker)
        later = outcomes.follow_up(readings, marker, window=window, until=f.until)
        if first is not None and later is not None and later.measured_on >= f.since:
            out.setdefault(pid, {})[marker] = (first.value, later.value)
    return out


def _distress_changes(rows: Iterable[Sequence[Any]], f: Filters) -> dict[str, tuple[float, float]]:
    """Participant id (text) → (baseline score, follow-up score); rows are (participant, time
    point, day, seq, score)."""
    by: dict[str, list[tuple[date, str, int, float]]] = defaultdict(list)
    for pid, point, on, seq, score in rows:
        by[str(pid)].append((as_day(on), point, seq, score))
    out = {}
    for pid, mine in by.items():
        mine.sort()
        base = next((r for r in mine if r[1] == TimePoint.BASELINE), None)
        if base is None:
            continue
        later = [
            r
            for r in mine
            if r[1] == TimePoint.FOLLOW_UP and f.since <= r[0] <= f.until and r[0] > base[0]
        ]
        if later:
            out[pid] = (base[3], later[-1][3])
    return out


async def evaluation(
    f: Filters,
    *,
    today: date,
    zone: tzinfo,
    active: int,
    window: outcomes.Window = outcomes.DEFAULT_WINDOW,
) -> Evaluation:
    """The evaluation figures for these filters; ``active`` is the dashboard's count of active
    participants (the denominator of the group-activity dose)."""
    ev = Evaluation(window=window)
    people = {  # participant id (text) → their peer leader's id
        str(pid): leader
        for pid, leader in await Participant.filter(_participant_q(f)).values_list(
            "id", "peer_leader_id"
        )
    }

    # Change from baseline.
    rows = await raw_values(
        Measurement.filter(
            _in_scope(f), marker__in=[m.value for m in CHANGE_MARKERS], measured_on__lte=f.until
        ).values_list("participant_id", "marker", "value", "measured_on", "source", "seq", "id")
    )
    changes = _outcome_changes(rows, f, window)
    for marker in CHANGE_MARKERS:
        ev.changes[marker.value] = Change()
    ev.changes["hba1c_high"] = Change()
    for per_marker in changes.values():
        for name, pair in per_marker.items():
            ev.changes[name].pairs.append(pair)
            if name == Marker.HBA1C and pair[0] >= HBA1C_THRESHOLD:
                ev.changes["hba1c_high"].pairs.append(pair)
    assessed = await raw_values(
        Assessment.filter(
            _in_scope(f), instrument_id=DISTRESS_INSTRUMENT, assessed_on__lte=f.until
        ).values_list("participant_id", "time_point", "assessed_on", "seq", "score")
    )
    distress = _distress_changes(assessed, f)
    ev.changes["distress"] = Change(list(distress.values()))

    # Group activities as their own dose.
    aq = Q(
        voided=False,
        occurred_at__gte=start_of(f.since, zone),
        occurred_at__lt=start_of(f.until + timedelta(days=1), zone),
    )
    if f.community_id:
        aq &= Q(community_id=f.community_id)
    if f.committee_id:
        aq &= Q(committee_id=f.committee_id) | Q(
            group_id__in=Subquery(Group.filter(committee_id=f.committee_id).values("id"))
        )
    if f.peer_leader_id:
        aq &= Q(peer_leader_id=f.peer_leader_id)
    counts: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for channel, when in await raw_values(
        GroupActivity.filter(aq).values_list("channel", "occurred_at")
    ):
        day = as_instant(when).astimezone(zone).date()
        counts[day.replace(day=1)][channel] += 1
    ev.activities = dict.fromkeys((c.value for c in ActivityChannel), 0)
    for month in months_between(f.since, f.until):
        nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        lo, hi = max(month, f.since), min(nxt - timedelta(days=1), f.until)
        by_channel = {c.value: counts[month][c.value] for c in ActivityChannel}
        n = sum(by_channel.values())
        covered = max(0, (min(hi, today) - lo).days + 1)
        ev.activity_months.append(
            (
                MonthRow(month, n, n / active if active else 0.0, covered, (nxt - month).days),
                by_channel,
            )
        )
        for c, k in by_channel.items():
            ev.activities[c] += k

    # Peer leaders in scope: supervision, training, ratings.
    lq = User.filter(role=Role.PEER_LEADER, is_active=True)
    if f.community_id:
        lq = lq.filter(community_id=f.community_id)
    if f.peer_leader_id:
        lq = lq.filter(id=f.peer_leader_id)
    if f.committee_id:
        lq = lq.filter(
            id__in=Subquery(
                Participant.filter(committee_id=f.committee_id).values("peer_leader_id")
            )
        )
    leaders = dict(await lq.order_by("display_name").values_list("id", "display_name"))
    ev.leaders = len(leaders)
    window_start = start_of(f.until - timedelta(days=REACH_DAYS - 1), zone)
    window_end = start_of(f.until + timedelta(days=1), zone)
    last_seen: dict[Any, Any] = {}
    supervised: set[Any] = set()
    for leader_id, when in await Supervision.filter(
        voided=False, peer_leader_id__in=list(leaders), occurred_at__lt=window_end
    ).values_list("peer_leader_id", "occurred_at"):
        if when >= window_start:
            supervised.add(leader_id)
        if leader_id not in last_seen or when > last_seen[leader_id]:
            last_seen[leader_id] = when
    ev.supervised = len(supervised)
    ev.unsupervised = [
        {
            "id": lid,
            "name": name,
            "last": last_seen[lid].astimezone(zone).date() if lid in last_seen else None,
        }
        for lid, name in leaders.items()
        if lid not in supervised
    ]

    tq = Training.filter(voided=False, held_on__gte=f.since, held_on__lte=f.until)
    if f.community_id:
        tq = tq.filter(Q(community_id=f.community_id) | Q(community_id=None))
    attended: set[str] = set()
    names = {str(k) for k in leaders}
    for hours, ids in await tq.values_list("hours", "attendee_ids"):
        ev.trainings += 1
        ev.training_hours += hours or 0.0
        mine = names.intersection(str(i) for i in ids or ())
        ev.training_attendances += len(mine)
        attended |= mine
    ev.trained = len(attended)

    points = {lid: LeaderPoint(lid, name) for lid, name in leaders.items()}
    for row in await ImplementationRating.filter(
        voided=False, peer_leader_id__in=list(leaders)
    ).values("peer_leader_id", "period", *RATING_ITEMS):
        bounds = quarter_bounds(row["period"])
        if bounds is None or bounds[1] < f.since or bounds[0] > f.until:
            continue
        points[row["peer_leader_id"]].ratings.extend(
            v for k in RATING_ITEMS if (v := row[k]) is not None
        )
    for pid, per_marker in changes.items():
        leader = points.get(people.get(pid))
        if leader is not None and Marker.HBA1C in per_marker:
            leader.hba1c.pairs.append(per_marker[Marker.HBA1C])
    for pid, pair in distress.items():
        leader = points.get(people.get(pid))
        if leader is not None:
            leader.distress.pairs.append(pair)
    ev.points = list(points.values())
    return ev


def parse_window(first: str | None, last: str | None) -> outcomes.Window | str:
    """The follow-up window the page asks for, or the name of the field that is wrong."""
    values = []
    for name, text, default in (
        ("window_from", first, outcomes.DEFAULT_WINDOW.first_month),
        ("window_to", last, outcomes.DEFAULT_WINDOW.last_month),
    ):
        if not text:
            values.append(default)
            continue
        try:
            value = int(text)
        except ValueError:
            return name
        if not 0 <= value <= WINDOW_LIMIT:
            return name
        values.append(value)
    if values[0] > values[1]:
        return "window_to"
    return outcomes.Window(values[0], values[1])


def scatter(points: list[LeaderPoint], key: str) -> dict[str, Any]:
    """Geometry of the ratings-beside-outcome scatter: x = mean rating (1–5), y = mean change of
    ``key`` (``hba1c`` or ``distress``); leaders without both are left out."""
    width, height, pad = 320, 220, 36
    shown = [
        (p, p.rating_mean, getattr(p, key).change_mean)
        for p in points
        if p.rating_mean is not None and getattr(p, key).change_mean is not None
    ]
    ys = [y for _, _, y in shown] or [0.0]
    low, high = min(min(ys), 0.0), max(max(ys), 0.0)
    if high - low < 1e-9:
        low, high = low - 1, high + 1

    def sx(x: float) -> float:
        return round(pad + (x - 1) / 4 * (width - 2 * pad), 1)

    def sy(y: float) -> float:
        return round(height - pad - (y - low) / (high - low) * (height - 2 * pad), 1)

    return {
        "width": width,
        "height": height,
        "pad": pad,
        "zero": sy(0.0),
        "low": low,
        "high": high,
        "ticks": [(x, sx(x)) for x in range(1, 6)],
        "dots": [
            {"name": p.name, "x": sx(x), "y": sy(y), "rating": x, "change": y} for p, x, y in shown
        ],
    }
