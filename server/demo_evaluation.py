"""The demo program's evaluation records (SPEC 2): measurement history, distress and
neighbourhood-support questionnaires, group activities, supervision, training and quarterly
implementation ratings, generated beside ``server.demo``'s program from its own random stream
(so the rows the demo always had keep their values for a seed).

What the evaluator should see in it, as in the Shanghai papers: HbA1c, blood pressure, weight and
distress improving a little, more with engaged participants and with peer leaders whose
implementation is rated higher; ratings that vary by peer leader; WeChat group sessions in 9 of
12 communities; supervision coverage that differs by community.

Every peer leader has a hidden ``quality`` (a standard normal draw): it moves their ratings, their
supervision and training attendance, and their participants' outcome changes, so the dashboard's
ratings-beside-outcomes scatter shows a slope without any figure being written in by hand.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TypeVar

from sync import instruments, outcomes
from sync.entities.implementation_rating import RATED
from sync.models import (
    ActivityChannel,
    Assessment,
    Committee,
    Community,
    Contact,
    GroupActivity,
    ImplementationRating,
    KeyFunction,
    Marker,
    Measurement,
    MeasurementSource,
    Participant,
    Supervision,
    SupervisionMode,
    TimePoint,
    Training,
    User,
)

T = TypeVar("T")
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
F = KeyFunction

WECHAT_TOPICS = (
    "今天的控糖小知识：粗粮怎么吃",
    "大家晒一晒今天的晚餐",
    "测血糖的正确方法（视频）",
    "天冷了，注意足部保暖",
    "群里答疑：漏服药怎么办",
    "本周健步走打卡",
    "社区医生直播：读懂化验单",
    "分享一个低糖菜谱",
)
NEIGHBOURHOOD_TOPICS = (
    "小区健步走",
    "健康厨房：少油少盐",
    "居委会活动室健康讲座：糖尿病足",
    "八段锦练习",
    "血糖血压免费测量",
)
ASSISTANCE_TOPICS = ("为独居老人送药上门", "发放血糖试纸和口罩", "协助预约社区医生门诊")
SUPERVISION_TOPICS = (
    ("difficult_participant", 4),
    ("referrals", 3),
    ("records", 3),
    ("group_meeting", 3),
    ("motivation", 2),
    ("self_care", 2),
)
SUPERVISION_CONCERNS = (
    "有两位组员连续一个月联系不上",
    "组员问用药调整，提醒只转介、不给医疗建议",
    "担心自己照顾家人，时间不够",
    "微信群里有人转发不实的偏方",
)
SUPERVISION_FOLLOW_UPS = (
    "下周一起上门看望",
    "请家庭医生在小组活动时答疑",
    "下个月再电话沟通一次",
    "把联系不上的组员名单交给居委会协助",
)
TRAININGS = (
    # (title, days from the program's start, hours, share of leaders attending)
    ("同伴支持者入门培训：五项关键功能", -18, 6.0, 0.95),
    ("复训：倾听与情绪支持", 85, 2.5, 0.8),
    ("复训：转介与社区资源", 160, 2.0, 0.75),
)
RATING_COMMENTS = (
    "积极联系居委会，组织了小区健步走",
    "小组活动出勤好，电话随访还可以更规律",
    "善于倾听，组员信任",
    "转介记录清楚，能及时联系社区医生",
)


@dataclass
class Led:
    """One group as the demo made it: where it is, who leads it, and its participants with the
    generator's hidden engagement (0.3 … 1.6) and the last day each takes part."""

    community: Community
    committee: Committee
    leader: User
    group_id: uuid.UUID
    people: list[tuple[Participant, float, date]]


@dataclass
class Records:
    measurements: list[Measurement] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    activities: list[GroupActivity] = field(default_factory=list)
    supervisions: list[Supervision] = field(default_factory=list)
    trainings: list[Training] = field(default_factory=list)
    ratings: list[ImplementationRating] = field(default_factory=list)


def pick_some(rng: random.Random, options: Sequence[tuple[T, int]], low: int, high: int) -> list[T]:
    """Between ``low`` and ``high`` distinct options, drawn by weight, in the listed order."""
    want = rng.randint(low, min(high, len(options)))
    chosen: set[int] = set()
    while len(chosen) < want:
        chosen.add(rng.choices(range(len(options)), [w for _, w in options])[0])
    return [options[i][0] for i in sorted(chosen)]


def clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


class Evaluation:
    def __init__(self, rng: random.Random, start: date, today: date) -> None:
        self.rng = rng
        self.start = start
        self.today = today
        self.out = Records()

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def local(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)

    def entered(self, day: date, *, late: int = 2) -> datetime:
        """When a record about ``day`` was typed in: that day or a little later, never after
        yesterday."""
        typed = min(day + timedelta(days=self.rng.randint(0, late)), self.today - timedelta(1))
        return self.local(
            max(typed, day), self.rng.randint(9, 18), self.rng.randint(0, 59)
        ).astimezone(UTC)

    def pick(self, options: Sequence[tuple[Any, int]], low: int, high: int) -> list[Any]:
        return pick_some(self.rng, options, low, high)

    # measurements ---------------------------------------------------------------------------------

    def measure(
        self,
        p: Participant,
        marker: Marker,
        value: float,
        on: date,
        by: User,
        *,
        contact: Contact | None = None,
    ) -> Measurement:
        row = Measurement(
            id=outcomes.contact_reading_id(contact.id, marker) if contact else self.new_id(),
            participant_id=p.id,
            community_id=p.community_id,  # type: ignore[attr-defined]
            entered_by_id=by.id,
            contact_id=contact.id if contact else None,
            marker=marker.value,
            value=value,
            measured_on=on,
            source=(MeasurementSource.SELF_REPORT if contact else MeasurementSource.CLINIC).value,
            voided=bool(contact and contact.voided),
            void_reason=contact.void_reason if contact and contact.voided else None,
            version=1,
            created_at=contact.created_at if contact else self.entered(on),
        )
        row.updated_at = row.created_at
        self.out.measurements.append(row)
        return row

    def history(
        self,
        p: Participant,
        quality: float,
        coordinator: User,
        leader: User,
        contacts: list[Contact],
    ) -> None:
        """The participant's clinic readings (baseline at enrolment, a three-month HbA1c for
        some, the latest the demo always had) and the values their contacts reported; then the
        participant's clinical columns derived from those rows, as the sync engine keeps them."""
        rng = self.rng
        enrolled = p.enrolled_on
        assert enrolled is not None and p.hba1c_baseline is not None
        rows: list[Measurement] = []
        assert p.hba1c_baseline_on is not None
        rows.append(
            self.measure(p, Marker.HBA1C, p.hba1c_baseline, p.hba1c_baseline_on, coordinator)
        )
        if p.hba1c is not None and p.hba1c_on is not None:
            midway = enrolled + timedelta(days=rng.randint(85, 100))
            if midway < p.hba1c_on - timedelta(days=30) and rng.random() < 0.5:
                value = p.hba1c_baseline + 0.6 * (p.hba1c - p.hba1c_baseline) + rng.gauss(0, 0.3)
                rows.append(
                    self.measure(p, Marker.HBA1C, round(clip(value, 5, 15), 1), midway, coordinator)
                )
            rows.append(self.measure(p, Marker.HBA1C, p.hba1c, p.hba1c_on, coordinator))
        at_enrolment = enrolled - timedelta(days=rng.randint(0, 14))
        if p.bp_systolic is not None and p.bp_diastolic is not None and p.bp_on is not None:
            before = (
                round(clip(p.bp_systolic + rng.gauss(3 + 2 * quality, 6), 90, 200)),
                round(clip(p.bp_diastolic + rng.gauss(1.5 + quality, 4), 50, 120)),
            )
            for marker, first, last in (
                (Marker.BP_SYSTOLIC, before[0], p.bp_systolic),
                (Marker.BP_DIASTOLIC, before[1], p.bp_diastolic),
            ):
                rows.append(self.measure(p, marker, first, at_enrolment, coordinator))
                rows.append(self.measure(p, marker, last, p.bp_on, coordinator))
        if p.weight_kg is not None and p.weight_on is not None:
            before_kg = round(clip(p.weight_kg + rng.gauss(0.6 + 0.3 * quality, 1.5), 30, 200), 1)
            rows.append(self.measure(p, Marker.WEIGHT, before_kg, at_enrolment, coordinator))
            rows.append(self.measure(p, Marker.WEIGHT, p.weight_kg, p.weight_on, coordinator))
        for c in contacts:
            for _column, marker, value in outcomes.contact_readings(c.__dict__):
                day = outcomes.local_day(c.occurred_at, SHANGHAI)  # type: ignore[arg-type]
                rows.append(self.measure(p, marker, value, day, leader, contact=c))
        readings = [
            outcomes.Reading(
                marker=r.marker,
                value=r.value,
                measured_on=r.measured_on,
                source=r.source,
                voided=r.voided,
                order=n,
                id=str(r.id),
            )
            for n, r in enumerate(rows)
        ]
        for column, value in outcomes.participant_columns(readings).items():
            setattr(p, column, value)

    # questionnaires -------------------------------------------------------------------------------

    def answers(self, definition: dict[str, Any], level: float) -> dict[str, int]:
        low, high = definition["scale"]["min"], definition["scale"]["max"]
        return {
            item: round(clip(level + self.rng.gauss(0, 0.6), low, high))
            for item in instruments.item_ids(definition)
        }

    def assess(
        self, p: Participant, by: User, instrument: str, point: TimePoint, on: date, level: float
    ) -> None:
        definition = instruments.BUILT_IN[instrument]
        answers = self.answers(definition, level)
        row = Assessment(
            id=self.new_id(),
            participant_id=p.id,
            instrument_id=instrument,
            community_id=p.community_id,  # type: ignore[attr-defined]
            entered_by_id=by.id,
            time_point=point.value,
            assessed_on=on,
            answers=answers,
            score=instruments.score(definition, answers).score,
            version=1,
            created_at=self.entered(on, late=1),
        )
        row.updated_at = row.created_at
        self.out.assessments.append(row)

    def questionnaires(
        self, p: Participant, by: User, quality: float, engagement: float, until: date
    ) -> None:
        """DDS-2 at enrolment and about five months in (falling a little, more with engaged
        participants and better-rated leaders); the neighbourhood-support set for most."""
        rng = self.rng
        assert p.enrolled_on is not None
        if rng.random() > 0.92:
            return
        first = p.enrolled_on + timedelta(days=rng.randint(0, 10))
        later = p.enrolled_on + timedelta(days=rng.randint(150, 170))
        followed = later <= min(until, self.today - timedelta(days=2)) and rng.random() < 0.82
        distress = clip(rng.gauss(2.7, 0.9), 1, 6)
        self.assess(p, by, "dds2", TimePoint.BASELINE, first, distress)
        if followed:
            eased = 0.2 + 0.15 * quality + 0.1 * (engagement - 1) + rng.gauss(0, 0.4)
            self.assess(p, by, "dds2", TimePoint.FOLLOW_UP, later, distress - eased)
        if rng.random() < 0.7:
            support = clip(rng.gauss(3.2, 0.7), 1, 5)
            self.assess(p, by, "nbsupport", TimePoint.BASELINE, first, support)
            if followed:
                grew = 0.2 + 0.1 * quality + rng.gauss(0, 0.3)
                self.assess(p, by, "nbsupport", TimePoint.FOLLOW_UP, later, support + grew)

    # group activities -----------------------------------------------------------------------------

    def activity(
        self,
        led: Led,
        channel: ActivityChannel,
        day: date,
        topic: str,
        functions: list[KeyFunction],
        *,
        group: bool,
        participants: int,
        residents: int,
        attendees: Sequence[Participant] = (),
    ) -> None:
        rng = self.rng
        when = self.local(day, rng.choice((10, 15, 19, 20)), rng.choice((0, 30)))
        voided = rng.random() < 0.01
        row = GroupActivity(
            id=self.new_id(),
            group_id=led.group_id if group else None,
            committee_id=None if group else led.committee.id,
            community_id=led.community.id,
            peer_leader_id=led.leader.id,
            channel=channel.value,
            occurred_at=when,
            topic=topic,
            functions=[f.value for f in functions],
            participants_count=participants,
            residents_count=residents,
            attendee_ids=[str(a.id) for a in attendees],
            voided=voided,
            void_reason="重复记录" if voided else None,
            version=1,
            created_at=(when + timedelta(hours=rng.randint(1, 20))).astimezone(UTC),
        )
        row.updated_at = row.created_at
        self.out.activities.append(row)

    def wechat_sessions(self, led: Led) -> None:
        """A WeChat group session every week or so, reaching some of the group."""
        rng = self.rng
        day = self.start + timedelta(days=rng.randint(7, 14))
        while day < self.today:
            size = len(led.people)
            self.activity(
                led,
                ActivityChannel.WECHAT_GROUP,
                day,
                rng.choice(WECHAT_TOPICS),
                self.pick(
                    ((F.ONGOING_SUPPORT, 4), (F.DAILY_MANAGEMENT, 4), (F.SOCIAL_EMOTIONAL, 2)), 1, 2
                ),
                group=True,
                participants=max(1, round(size * rng.uniform(0.3, 0.85))),
                residents=0,
            )
            day += timedelta(days=rng.randint(5, 10))

    def neighbourhood(self, committee_groups: list[Led]) -> None:
        """Neighbourhood activities for the committee every month or so, led by one of its peer
        leaders, with some participants named; now and then community assistance."""
        rng = self.rng
        people = [p for led in committee_groups for p, _, _ in led.people]
        day = self.start + timedelta(days=rng.randint(10, 40))
        while day < self.today:
            led = rng.choice(committee_groups)
            came = rng.sample(people, min(len(people), rng.randint(3, 10)))
            named = came if rng.random() < 0.6 else []
            self.activity(
                led,
                ActivityChannel.NEIGHBOURHOOD_ACTIVITY,
                day,
                rng.choice(NEIGHBOURHOOD_TOPICS),
                self.pick(
                    ((F.DAILY_MANAGEMENT, 4), (F.SOCIAL_EMOTIONAL, 3), (F.BEING_THERE, 2)), 1, 2
                ),
                group=False,
                participants=len(came),
                residents=rng.randint(5, 40),
                attendees=named,
            )
            day += timedelta(days=rng.randint(25, 50))
        if rng.random() < 0.25:
            led = rng.choice(committee_groups)
            self.activity(
                led,
                ActivityChannel.COMMUNITY_ASSISTANCE,
                self.start + timedelta(days=rng.randint(20, 170)),
                rng.choice(ASSISTANCE_TOPICS),
                [F.BEING_THERE, F.LINKAGE_TO_CARE],
                group=False,
                participants=rng.randint(2, 8),
                residents=rng.randint(10, 60),
            )

    # supporting the peer leaders -------------------------------------------------------------------

    def supervision(
        self, leader: User, coordinator: User, quality: float, diligence: float
    ) -> None:
        """Month by month, the coordinator supervises the leader or not, more often in diligent
        communities and with leaders who keep in touch."""
        rng = self.rng
        for month in range(7):
            day = self.start + timedelta(days=month * 30 + rng.randint(0, 27))
            if day >= self.today or rng.random() > clip(diligence + 0.08 * quality, 0.1, 0.98):
                continue
            mode = rng.choices(list(SupervisionMode), [30, 40, 20, 10])[0]
            when = self.local(day, rng.randint(9, 17), rng.choice((0, 15, 30, 45)))
            row = Supervision(
                id=self.new_id(),
                peer_leader_id=leader.id,
                supervisor_id=coordinator.id,
                community_id=leader.community_id,  # type: ignore[attr-defined]
                occurred_at=when,
                mode=mode.value,
                topics=self.pick(SUPERVISION_TOPICS, 1, 3),
                concerns=rng.choice(SUPERVISION_CONCERNS) if rng.random() < 0.25 else None,
                follow_up=rng.choice(SUPERVISION_FOLLOW_UPS) if rng.random() < 0.3 else None,
                version=1,
                created_at=self.entered(day),
            )
            row.updated_at = row.created_at
            self.out.supervisions.append(row)

    def trainings(
        self,
        community: Community,
        coordinator: User,
        leaders: list[User],
        quality: dict[uuid.UUID, float],
    ) -> None:
        rng = self.rng
        for title, offset, hours, share in TRAININGS:
            day = self.start + timedelta(days=offset + rng.randint(-4, 4))
            if day >= self.today:
                continue
            present = [
                str(u.id)
                for u in leaders
                if rng.random() < clip(share + 0.05 * quality[u.id], 0, 1)
            ]
            row = Training(
                id=self.new_id(),
                community_id=community.id,
                trainer_id=coordinator.id,
                title=title,
                held_on=day,
                attendee_ids=present,
                hours=hours,
                version=1,
                created_at=self.entered(day),
            )
            row.updated_at = row.created_at
            self.out.trainings.append(row)

    def ratings(self, leader: User, coordinator: User, quality: float) -> None:
        """A rating for each quarter of the program that has ended (and ran a month or more)."""
        rng = self.rng
        for year, quarter, first, last in quarters(self.start, self.today):
            if (last - max(first, self.start)).days < 30 or last >= self.today:
                continue
            if rng.random() > 0.9:
                continue
            # The five key functions, then use of the committee and linkage to community
            # resources: the two the papers found went most with better outcomes.
            scores = {
                name: round(clip(rng.gauss(3.1 + 0.7 * quality, 0.6), 1, 5)) for name in RATED[:5]
            }
            for name in RATED[5:]:
                scores[name] = round(clip(rng.gauss(3.0 + 0.9 * quality, 0.6), 1, 5))
            row = ImplementationRating(
                id=self.new_id(),
                peer_leader_id=leader.id,
                community_id=leader.community_id,  # type: ignore[attr-defined]
                rated_by_id=coordinator.id,
                period=f"{year}-Q{quarter}",
                comment=rng.choice(RATING_COMMENTS) if rng.random() < 0.2 else None,
                version=1,
                created_at=self.entered(
                    min(last + timedelta(days=rng.randint(5, 15)), self.today - timedelta(1)),
                    late=0,
                ),
                **scores,
            )
            row.updated_at = row.created_at
            self.out.ratings.append(row)


def quarters(start: date, end: date) -> list[tuple[int, int, date, date]]:
    """(year, quarter, first day, last day) of each calendar quarter from ``start``'s to ``end``'s."""
    out = []
    year, quarter = start.year, (start.month - 1) // 3 + 1
    while date(year, 3 * quarter - 2, 1) <= end:
        first = date(year, 3 * quarter - 2, 1)
        nxt = date(year + quarter // 4, 3 * (quarter % 4) + 1, 1)
        out.append((year, quarter, first, nxt - timedelta(days=1)))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return out


def generate(
    rng: random.Random,
    start: date,
    today: date,
    groups: list[Led],
    contacts: list[Contact],
    coordinators: dict[uuid.UUID, User],
    quality: dict[uuid.UUID, float],
) -> Records:
    """Every evaluation record of the demo program; sets the participants' derived clinical
    columns from their measurement rows."""
    ev = Evaluation(rng, start, today)
    by_participant: dict[uuid.UUID, list[Contact]] = {}
    for c in contacts:
        by_participant.setdefault(c.participant_id, []).append(c)  # type: ignore[attr-defined]
    communities = {led.community.id: led.community for led in groups}
    wechat = set(rng.sample(sorted(communities), k=round(len(communities) * 9 / 12)))
    diligence = {cid: rng.uniform(0.5, 0.95) for cid in sorted(communities)}
    for led in groups:
        coordinator = coordinators[led.community.id]
        q = quality[led.leader.id]
        for p, engagement, until in led.people:
            ev.history(p, q, coordinator, led.leader, by_participant.get(p.id, []))
            ev.questionnaires(p, led.leader, q, engagement, until)
        if led.community.id in wechat:
            ev.wechat_sessions(led)
    by_committee: dict[uuid.UUID, list[Led]] = {}
    for led in groups:
        by_committee.setdefault(led.committee.id, []).append(led)
    for committee_groups in by_committee.values():
        ev.neighbourhood(committee_groups)
    leaders_of: dict[uuid.UUID, dict[uuid.UUID, User]] = {}
    for led in groups:
        leaders_of.setdefault(led.community.id, {})[led.leader.id] = led.leader
    for cid, leaders in leaders_of.items():
        coordinator = coordinators[cid]
        ev.trainings(communities[cid], coordinator, list(leaders.values()), quality)
        for leader in leaders.values():
            ev.supervision(leader, coordinator, quality[leader.id], diligence[cid])
            ev.ratings(leader, coordinator, quality[leader.id])
    return ev.out
