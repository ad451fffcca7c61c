"""``peerlog demo``: a realistic synthetic peer-support program, deterministic from a seed.

The shape follows the Shanghai Integration Model: 12 communities (each served by one community
health centre), about 60 residential committees, about 120 peer leaders each leading a community
self-management group of 8–15 participants, about 1,300 participants, and six months of contacts
(phone calls and WeChat most, home visits, monthly group meetings), with baseline HbA1c values of
which a good share is ≥ 8 % and latest values that mostly improve a little (about −0.5 points among
those ≥ 8 %, as in the published program: 9.09 % → 8.50 %).

Everything is synthetic: names, phone numbers and addresses are drawn from lists, never real people.

The same seed and the same ``today`` give identical rows, ids and timestamps included (ids come
from the seeded generator; the contacts a group meeting expands into get the ids the sync engine
derives for them).
The six months end on ``today`` so the demo always looks current: follow-ups due, a few overdue.

This module writes rows directly with bulk inserts instead of going through the sync engine (SPEC
section 6: "one write path"). That is deliberate: it seeds a synthetic program into an empty
database, where there is nothing to merge, no device and no user to audit, and 30,000 contacts
pushed one mutation at a time would take minutes instead of seconds. It keeps the engine's
invariants by hand: every synced row has ``version = 1`` and a ``seq`` from the global change
sequence (allocated once, inside the writing transaction, so pull finds every row), and each
participant's ``last_contact_at`` / ``next_follow_up_on`` match their latest non-voided contact.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.transactions import in_transaction

from server import demo_evaluation
from server.auth.invites import create_invite, invite_link
from server.console import UserError
from server.settings import Settings
from sync.entities.group_meeting import MEETING_CONTACT_NS
from sync.models import (
    Assessment,
    Committee,
    Community,
    Contact,
    ContactMode,
    Group,
    GroupActivity,
    GroupMeeting,
    ImplementationRating,
    KeyFunction,
    Measurement,
    Participant,
    ParticipantStatus,
    Referral,
    Role,
    Supervision,
    Training,
    User,
)
from sync.sequence import allocate

DEFAULT_SEED = 2026
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
PROGRAM_DAYS = 182  # six months of contacts, ending yesterday
BATCH = 1000

# Stable usernames of the demo accounts; `run` prints an invite link for each.
DEMO_USERS = ("admin", "coordinator", "peer", "volunteer")

# --- vocabularies (stored values are these lower-case codes) ------------------------------------

# Codes as the participant form and CSV import suggest them ("t2d, hypertension").
TYPE_2_DIABETES = "t2d"
CONDITIONS_OFTEN = (
    ("hypertension", 0.62),
    ("dyslipidaemia", 0.38),
    ("overweight", 0.30),
    ("coronary_heart_disease", 0.12),
    ("retinopathy", 0.07),
    ("neuropathy", 0.08),
    ("kidney_disease", 0.06),
)

# The topics the contact form offers (pwa/templates/app/macros.html).
TOPICS = (
    ("diet", 30),
    ("physical_activity", 18),
    ("medication", 16),
    ("glucose_monitoring", 15),
    ("stress", 7),
    ("foot_care", 5),
    ("sleep", 4),
    ("smoking", 2),
)

# Individual contacts (group meetings come from the meetings themselves), weighted like the
# program: phone calls and WeChat most, then home visits, then the rest.
MODES: tuple[tuple[ContactMode, int, tuple[int, int]], ...] = (
    (ContactMode.PHONE_CALL, 36, (5, 20)),
    (ContactMode.WECHAT_GROUP, 26, (5, 20)),
    (ContactMode.HOME_VISIT, 13, (30, 60)),
    (ContactMode.TEXT_MESSAGE, 8, (2, 10)),
    (ContactMode.WALK_OR_EXERCISE, 7, (30, 60)),
    (ContactMode.COMMUNITY_ASSISTANCE, 4, (20, 60)),
    (ContactMode.CLINIC_ACCOMPANIMENT, 3, (60, 180)),
    (ContactMode.SHOPPING_OR_COOKING, 3, (45, 90)),
)

F = KeyFunction
FUNCTIONS_BY_MODE: dict[ContactMode, tuple[tuple[KeyFunction, int], ...]] = {
    ContactMode.PHONE_CALL: (
        (F.ONGOING_SUPPORT, 5),
        (F.DAILY_MANAGEMENT, 4),
        (F.SOCIAL_EMOTIONAL, 3),
        (F.BEING_THERE, 2),
        (F.LINKAGE_TO_CARE, 1),
    ),
    ContactMode.WECHAT_GROUP: (
        (F.ONGOING_SUPPORT, 5),
        (F.DAILY_MANAGEMENT, 4),
        (F.SOCIAL_EMOTIONAL, 3),
        (F.BEING_THERE, 1),
    ),
    ContactMode.TEXT_MESSAGE: ((F.ONGOING_SUPPORT, 5), (F.DAILY_MANAGEMENT, 2)),
    ContactMode.HOME_VISIT: (
        (F.BEING_THERE, 5),
        (F.SOCIAL_EMOTIONAL, 4),
        (F.DAILY_MANAGEMENT, 4),
        (F.LINKAGE_TO_CARE, 2),
        (F.ONGOING_SUPPORT, 2),
    ),
    ContactMode.WALK_OR_EXERCISE: (
        (F.DAILY_MANAGEMENT, 5),
        (F.SOCIAL_EMOTIONAL, 3),
        (F.BEING_THERE, 1),
    ),
    ContactMode.COMMUNITY_ASSISTANCE: (
        (F.BEING_THERE, 4),
        (F.LINKAGE_TO_CARE, 3),
        (F.SOCIAL_EMOTIONAL, 2),
    ),
    ContactMode.CLINIC_ACCOMPANIMENT: ((F.LINKAGE_TO_CARE, 9), (F.BEING_THERE, 2)),
    ContactMode.SHOPPING_OR_COOKING: ((F.DAILY_MANAGEMENT, 6), (F.SOCIAL_EMOTIONAL, 2)),
}

ROUTINE_REFERRALS = (
    ("血糖控制不理想，建议到社区卫生服务中心复诊调整用药", "chc_doctor"),
    ("已三个月未复查糖化血红蛋白，提醒预约复查", "chc_doctor"),
    ("足部皮肤干裂，建议请家庭医生检查", "chc_doctor"),
    ("视物模糊，建议做眼底检查", "hospital"),
    ("血压偏高，建议复诊", "chc_doctor"),
    ("想参加社区健身活动，介绍到街道体育指导站", "community_resource"),
    ("独居，生活有困难，转介居委会助老服务", "community_resource"),
)
URGENT_REFERRALS = (
    ("自测血糖过低，伴心慌出汗", "hospital", "low"),
    ("自测血糖很高，口干多尿明显", "hospital", "high"),
    ("血压很高，伴头晕", "chc_doctor", "bp"),
    ("足部伤口红肿不愈", "hospital", None),
    ("胸闷气短", "hospital", None),
)

CONTACT_NOTES = (
    "最近饮食控制得不错，主食减量",
    "每天晚饭后散步半小时",
    "忘记服药两次，约定用手机提醒",
    "老伴住院，心情低落，多聊了一会",
    "已预约下周社区医生门诊",
    "询问血糖仪试纸领取办法",
    "分享了低糖点心的做法",
    "儿子帮忙装了微信，可以参加群里的活动了",
    "天气热，提醒多喝水",
    "血糖记录本已记满，送了新的一本",
)
VOID_REASONS = ("重复记录", "记错了参与者", "日期记错了")

MEETING_TOPICS = (
    "饮食控制与食物交换份",
    "如何正确自我监测血糖",
    "低血糖的识别与处理",
    "糖尿病足的预防与日常护理",
    "适合老年人的运动：八段锦与健步走",
    "按时服药与胰岛素注射",
    "情绪与压力：和糖尿病好好相处",
    "节假日饮食怎么安排",
    "读懂化验单：糖化血红蛋白是什么",
    "睡眠与血糖",
)

PARTICIPANT_NOTES = (
    "独居，子女在外地",
    "听力不好，电话请说慢一点",
    "白天在帮忙带孙子，晚上联系",
    "不用智能手机，请电话联系",
    "喜欢参加小组活动",
)
NEEDS_VISIT_REASONS = ("连续两次电话未接通", "家属说近期身体不好", "新搬入本小区，需上门核实地址")

# --- places and names -----------------------------------------------------------------------------

# (street / subdistrict, code). Synthetic programme; the place names are ordinary Shanghai
# subdistrict names.
COMMUNITIES = (
    ("长风", "CF"),
    ("曹杨", "CY"),
    ("凉城", "LC"),
    ("江川", "JC"),
    ("田林", "TL"),
    ("枫林", "FL"),
    ("五角场", "WJC"),
    ("周家桥", "ZJQ"),
    ("新华路", "XHL"),
    ("斜土", "XT"),
    ("石门二路", "SME"),
    ("殷行", "YX"),
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Word lists, space-separated so they stay compact.
NEIGHBOURHOODS = _words(
    "春晖 梅园 兰苑 桂林 松柏 华阳 白玉 金杨 康乐 和平 友谊 幸福 光明 德惠 安顺 永和 锦秋 明珠 "
    "翠竹 景云 长乐 建设 工农 曙光 朝阳 丰收 南新 北新 东风 凌云 宜山 漕溪 古美 龙华 天钥 徐虹 "
    "鹤庆 虹梅 平凉 控江 延吉 长白 定海 国和 政立 三门 广中 曲阳 玉田 欧阳 嘉兴 江浦 鞍山 同济 "
    "四平 辽源 阜新 民星 开鲁 市光 嫩江 兰花 紫薇 芙蓉 海棠 银杏 香樟 枫桥 柳营 杨柳"
)
ESTATE_SUFFIXES = _words("新村 一村 二村 三村 苑 小区 坊 花园")
ROADS = _words(
    "大渡河路 云岭东路 金沙江路 枣阳路 兰溪路 梅岭北路 杏山路 武宁路 凉城路 车站北路 水电路 "
    "江川路 沧源路 剑川路 田林路 钦州路 宜山路 桂林路 零陵路 东安路 医学院路 国权路 政通路 "
    "邯郸路 淞沪路 长宁路 安化路 番禺路 淮海西路 定西路 斜土路 瑞金南路 制造局路 陕西北路 "
    "威海路 延平路 殷行路 国和路 开鲁路 民京路 控江路 鞍山路 四平路 延吉中路 平凉路 临平路 "
    "广中路 曲阳路"
)
# Surnames common in Shanghai, with rough weights.
SURNAMES = tuple(
    (entry[0], int(entry[1:]))
    for entry in _words(
        "王9 张8 陈8 李7 徐6 朱6 沈5 周5 顾5 陆5 吴5 钱3 金3 孙4 曹3 杨4 黄4 刘4 胡3 蒋2 姚2 "
        "范2 施2 唐2 许2 俞2 潘2 郑2 汪2 冯1 丁1 严1 马1 赵2 倪1 叶1 郭1 何1 费1 邵1"
    )
)
# Given names typical of people born in the 1940s–1970s.
GIVEN_FEMALE = _words(
    "秀英 桂英 玉兰 凤英 美华 丽华 秀珍 雅芳 惠芳 国英 金凤 月娥 彩娣 根娣 宝娣 静芳 佩华 敏 琴 "
    "慧珍 雪芳 梅 萍 红 建英 爱华 丽娟 素珍 莉 玉珍"
)
GIVEN_MALE = _words(
    "建国 国强 伟民 志明 德明 建华 国良 根宝 福根 永康 海生 金龙 家明 立新 卫东 伟 勇 明 雪根 "
    "荣生 培德 正华 国平 宝根 忠 敏华 振华 兴发 伟国 文彬"
)
MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 156 158 159 180 181 186 187 188 189"
)

T = TypeVar("T")


# --- the generator --------------------------------------------------------------------------------


@dataclass
class Program:
    """The demo's rows, unsaved, in the order they are written."""

    communities: list[Community] = field(default_factory=list)
    committees: list[Committee] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    meetings: list[GroupMeeting] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    evaluation: demo_evaluation.Records = field(default_factory=demo_evaluation.Records)

    def synced(self) -> list[Model]:
        e = self.evaluation
        return [
            *self.groups,
            *self.participants,
            *self.meetings,
            *self.contacts,
            *e.measurements,
            *e.assessments,
            *e.activities,
            *e.supervisions,
            *e.trainings,
            *e.ratings,
        ]


@dataclass
class _Person:
    """What the generator knows about a participant beyond their row."""

    row: Participant
    engagement: float  # 0.3 (rarely reached) … 1.6 (very engaged)
    active_until: date  # the last day they take part (status change, or lapsing)


class _Gen:
    def __init__(self, seed: int, today: date, scale: float) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.start = today - timedelta(days=PROGRAM_DAYS)
        self.scale = scale
        self.phones: set[str] = set()
        self.p = Program()
        # The evaluation records draw from a stream of their own (server/demo_evaluation.py):
        # adding them left every row the demo had before unchanged for a seed.
        self.evaluation_rng = random.Random(seed * 1_000_003 + 17)
        self.quality: dict[uuid.UUID, float] = {}
        self.coordinators: dict[uuid.UUID, User] = {}
        self.led: list[demo_evaluation.Led] = []

    # small helpers ------------------------------------------------------------------------------

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def weighted(self, options: Sequence[tuple[T, int]]) -> T:
        return self.rng.choices([o for o, _ in options], [w for _, w in options])[0]

    def pick_some(self, options: Sequence[tuple[T, int]], low: int, high: int) -> list[T]:
        return demo_evaluation.pick_some(self.rng, options, low, high)

    def name(self, sex: str) -> str:
        given = GIVEN_FEMALE if sex == "female" else GIVEN_MALE
        return self.weighted(SURNAMES) + self.rng.choice(given)

    def phone(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def local(self, day: date, hour: int, minute: int, second: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)

    def stamp(self, day: date) -> datetime:
        """A deterministic creation time for rows that describe the program's set-up."""
        return self.local(day, 9, 0).astimezone(UTC)

    # the program --------------------------------------------------------------------------------

    def build(self) -> Program:
        rng = self.rng
        n_communities = max(1, min(len(COMMUNITIES), round(len(COMMUNITIES) * self.scale)))
        # Committee and group counts are fixed totals (60 committees, 120 groups at full
        # scale) shuffled across places, so the counts stay in range for every seed.
        committees_per_community = [4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6]
        rng.shuffle(committees_per_community)
        # 1–3 groups a committee, two on average.
        self.groups_per_committee = [1] * 15 + [2] * 30 + [3] * 15
        rng.shuffle(self.groups_per_committee)
        neighbourhoods = rng.sample(NEIGHBOURHOODS, len(NEIGHBOURHOODS))
        setup = self.stamp(self.start - timedelta(days=60))

        self.p.users.append(
            User(
                id=self.uuid(),
                username="admin",
                display_name="项目管理员",
                role=Role.ADMIN,
                created_at=setup,
            )
        )
        for ci, (street, code) in enumerate(COMMUNITIES[:n_communities]):
            community = Community(id=self.uuid(), name=f"{street}街道", code=code, created_at=setup)
            self.p.communities.append(community)
            coordinator_sex = rng.choice(("female", "female", "male"))
            coordinator = User(
                id=self.uuid(),
                username="coordinator" if ci == 0 else f"{code.lower()}-coordinator",
                display_name=self.name(coordinator_sex),
                role=Role.COORDINATOR,
                community_id=community.id,
                created_at=setup,
            )
            self.p.users.append(coordinator)
            self.coordinators[community.id] = coordinator
            # CHC staff who co-lead group meetings.
            staff = [f"家庭医生 {self.name(rng.choice(('female', 'male')))}" for _ in range(3)]
            n_committees = committees_per_community[ci]
            for ri in range(n_committees):
                self.committee(community, ri, neighbourhoods.pop(), staff, setup)
        self.p.evaluation = demo_evaluation.generate(
            self.evaluation_rng,
            self.start,
            self.today,
            self.led,
            self.p.contacts,
            self.coordinators,
            self.quality,
        )
        return self.p

    def committee(
        self,
        community: Community,
        index: int,
        neighbourhood: str,
        staff: list[str],
        setup: datetime,
    ) -> None:
        rng = self.rng
        committee = Committee(
            id=self.uuid(),
            community_id=community.id,
            name=f"{neighbourhood}{rng.choice(ESTATE_SUFFIXES)}居委会",
            code=f"{community.code}-{index + 1:02d}",
            created_at=setup,
        )
        self.p.committees.append(committee)
        first_committee = len(self.p.committees) == 1
        self.p.users.append(
            User(
                id=self.uuid(),
                username="volunteer" if first_committee else f"{committee.code.lower()}-volunteer",
                display_name=self.name(rng.choice(("female", "female", "male"))),
                role=Role.VOLUNTEER,
                community_id=community.id,
                committee_id=committee.id,
                created_at=setup,
            )
        )
        roads = rng.sample(ROADS, 2)
        lanes = [rng.randint(10, 1200) for _ in roads]
        n_groups = self.groups_per_committee[len(self.p.committees) - 1]
        leaders: list[User] = []
        for gi in range(n_groups):
            sex = rng.choice(("female", "female", "male"))
            leader = User(
                id=self.uuid(),
                username="peer"
                if first_committee and gi == 0
                else f"{committee.code.lower()}-leader{gi + 1}",
                display_name=self.name(sex),
                role=Role.PEER_LEADER,
                community_id=community.id,
                created_at=setup,
            )
            self.p.users.append(leader)
            leaders.append(leader)
            # How well this leader carries out the program, hidden (demo_evaluation.py).
            self.quality[leader.id] = max(-2.0, min(2.0, self.evaluation_rng.gauss(0, 1)))
        for gi, leader in enumerate(leaders):
            # About one group in six has a second peer leader from the same committee.
            co = leaders[gi - 1] if len(leaders) > 1 and rng.random() < 0.17 else None
            group = Group(
                id=self.uuid(),
                community_id=community.id,
                committee_id=committee.id,
                name=f"{committee.name.removesuffix('居委会')}自我管理小组"
                + (f"（{gi + 1}组）" if len(leaders) > 1 else ""),
                leader_id=leader.id,
                co_leader_id=co.id if co else None,
                version=1,
                created_at=setup,
                updated_at=setup,
            )
            self.p.groups.append(group)
            people = [
                self.participant(community, committee, group, leader, roads, lanes)
                for _ in range(rng.randint(8, 14))
            ]
            first_contact = len(self.p.contacts)
            self.meetings(community, committee, group, leader, people, staff)
            for person in people:
                self.contacts(community, leader, person)
            if leader.username == "peer":
                self.recent_urgent_referral(self.p.contacts[first_contact:])
            self.derive(people, self.p.contacts[first_contact:])
            self.led.append(
                demo_evaluation.Led(
                    community,
                    committee,
                    leader,
                    group.id,
                    [(p.row, p.engagement, p.active_until) for p in people],
                )
            )

    def participant(
        self,
        community: Community,
        committee: Committee,
        group: Group,
        leader: User,
        roads: list[str],
        lanes: list[int],
    ) -> _Person:
        rng = self.rng
        sex = "female" if rng.random() < 0.56 else "male"
        road = rng.randrange(len(roads))
        address = (
            f"{roads[road]}{lanes[road]}弄{rng.randint(1, 40)}号"
            f"{rng.randint(1, 6)}{rng.randint(1, 4):02d}室"
        )
        enrolled = self.start - timedelta(days=rng.randint(0, 28))
        conditions = [TYPE_2_DIABETES] + [
            c for c, share in CONDITIONS_OFTEN if rng.random() < share
        ]
        # Baseline HbA1c: a right-skewed spread around 8 %, with a good share ≥ 8 %
        # (the program's target group; their mean was about 9.1 %).
        baseline = round(min(14.5, max(5.8, rng.lognormvariate(2.06, 0.17))), 1)
        engagement = min(1.6, max(0.3, rng.gauss(1.0, 0.3)))
        # Latest HbA1c, about five months in: a little better on average, more so for people
        # who started high and for the engaged (-0.5 points or so among those ≥ 8 %), and for
        # the peer leaders who carry out the program well.
        quality = self.quality[leader.id]
        if baseline >= 8:
            change = rng.gauss(-0.3 - 0.2 * engagement - 0.15 * quality, 0.7)
        else:
            change = rng.gauss(-0.05 - 0.1 * engagement - 0.05 * quality, 0.4)
        latest = round(min(15.0, max(5.0, baseline + change)), 1)
        status = self.weighted(
            (
                (ParticipantStatus.ACTIVE, 920),
                (ParticipantStatus.PAUSED, 35),
                (ParticipantStatus.MOVED, 22),
                (ParticipantStatus.WITHDRAWN, 18),
                (ParticipantStatus.DECEASED, 5),
            )
        )
        if status is ParticipantStatus.ACTIVE:
            # About one active participant in fourteen has lapsed: no contact for 5–10 weeks.
            lapsing = rng.random() < 0.07
            active_until = self.today - timedelta(days=rng.randint(35, 75) if lapsing else 1)
        else:
            active_until = self.start + timedelta(days=rng.randint(40, PROGRAM_DAYS - 20))
        remeasured = status is ParticipantStatus.ACTIVE and rng.random() < 0.88
        hypertensive = "hypertension" in conditions
        weight = rng.gauss(68 if sex == "male" else 60, 9) + (
            5 if "overweight" in conditions else 0
        )
        needs_visit = status is ParticipantStatus.ACTIVE and rng.random() < 0.02
        number = len(self.p.participants) + 1
        row = Participant(
            id=self.uuid(),
            code=f"{community.code}{number:05d}",
            full_name=self.name(sex),
            sex=sex,
            birth_year=min(1975, max(1938, round(rng.gauss(1956, 7)))),
            phone=self.phone(),
            address=address,
            community_id=community.id,
            committee_id=committee.id,
            group_id=group.id,
            peer_leader_id=leader.id,
            enrolled_on=enrolled,
            consent_on=enrolled - timedelta(days=rng.randint(0, 7)),
            status=status.value,
            conditions=conditions,
            hba1c_baseline=baseline,
            hba1c_baseline_on=enrolled - timedelta(days=rng.randint(0, 30)),
            hba1c=latest if remeasured else None,
            hba1c_on=self.today - timedelta(days=rng.randint(3, 40)) if remeasured else None,
            bp_systolic=round(rng.gauss(142 if hypertensive else 126, 10)),
            bp_diastolic=round(rng.gauss(86 if hypertensive else 78, 6)),
            bp_on=self.today - timedelta(days=rng.randint(3, 90)),
            weight_kg=round(weight, 1),
            weight_on=self.today - timedelta(days=rng.randint(3, 120)),
            needs_visit=needs_visit,
            needs_visit_reason=rng.choice(NEEDS_VISIT_REASONS) if needs_visit else None,
            notes=rng.choice(PARTICIPANT_NOTES) if rng.random() < 0.12 else None,
            version=1,
            created_at=self.stamp(enrolled),
        )
        row.updated_at = row.created_at
        self.p.participants.append(row)
        return _Person(row, engagement, active_until)

    def meetings(
        self,
        community: Community,
        committee: Committee,
        group: Group,
        leader: User,
        people: list[_Person],
        staff: list[str],
    ) -> None:
        """One meeting a month; each attendee also gets a ``group_meeting`` contact."""
        rng = self.rng
        topics = rng.sample(MEETING_TOPICS, 6)
        places = (f"{committee.name}活动室", f"{community.name}社区卫生服务中心健康教育室")
        hour, minute = rng.choice(((9, 30), (14, 0), (15, 0)))
        for month in range(6):
            day = self.start + timedelta(days=month * 30 + rng.randint(5, 24))
            if day >= self.today:
                continue
            when = self.local(day, hour, minute)
            attendees = [
                p
                for p in people
                if day <= p.active_until and rng.random() < min(0.95, 0.45 + 0.3 * p.engagement)
            ]
            topic = topics[month]
            meeting = GroupMeeting(
                id=self.uuid(),
                group_id=group.id,
                community_id=community.id,
                peer_leader_id=leader.id,
                occurred_at=when,
                place=places[0] if rng.random() < 0.7 else places[1],
                topic=topic,
                co_leader=rng.choice(staff) if rng.random() < 0.6 else None,
                attendee_ids=[str(p.row.id) for p in attendees],
                note=None,
                version=1,
                created_at=(when + timedelta(hours=2)).astimezone(UTC),
            )
            meeting.updated_at = meeting.created_at
            self.p.meetings.append(meeting)
            for p in attendees:
                # Exactly the contact the sync engine makes when a meeting is pushed (same id,
                # same fields), so editing a demo meeting later updates these contacts.
                self.p.contacts.append(
                    Contact(
                        id=uuid.uuid5(MEETING_CONTACT_NS, f"{meeting.id}:{p.row.id}"),
                        participant_id=p.row.id,
                        peer_leader_id=leader.id,
                        community_id=community.id,
                        meeting_id=meeting.id,
                        occurred_at=when,
                        mode=ContactMode.GROUP_MEETING.value,
                        referral=Referral.NONE.value,
                        version=1,
                        created_at=meeting.created_at,
                        updated_at=meeting.created_at,
                    )
                )

    def contacts(self, community: Community, leader: User, person: _Person) -> None:
        """Individual contacts: roughly every one to three weeks, more often for the engaged."""
        rng = self.rng
        p = person.row
        assert p.hba1c_baseline is not None
        # Typical glucose for this person, from HbA1c (estimated average glucose, mmol/L).
        usual_glucose = 1.59 * p.hba1c_baseline - 2.59
        hypertensive = "hypertension" in p.conditions
        day = self.start + timedelta(days=rng.randint(0, 6))
        while day <= person.active_until:
            mode, _, (low, high) = rng.choices(MODES, [w for _, w, _ in MODES])[0]
            # Seconds are never zero: meeting contacts are on the minute, so no two of a
            # participant's contacts share a timestamp and "latest" is never a tie.
            when = self.local(day, rng.randint(8, 19), rng.randint(0, 59), rng.randint(1, 59))
            functions = self.pick_some(FUNCTIONS_BY_MODE[mode], 1, 3)
            if mode is ContactMode.CLINIC_ACCOMPANIMENT and F.LINKAGE_TO_CARE not in functions:
                functions.insert(0, F.LINKAGE_TO_CARE)
            glucose = (
                round(max(3.2, rng.gauss(usual_glucose, 1.6)), 1) if rng.random() < 0.3 else None
            )
            bp: tuple[int | None, int | None] = (None, None)
            if rng.random() < (0.25 if hypertensive else 0.08):
                bp = (
                    round(rng.gauss(140 if hypertensive else 124, 11)),
                    round(rng.gauss(85 if hypertensive else 77, 7)),
                )
            referral, reason, referral_to = Referral.NONE, None, None
            roll = rng.random()
            if roll < 0.006:
                referral = Referral.URGENT
                reason, referral_to, kind = rng.choice(URGENT_REFERRALS)
                if kind == "low":
                    glucose = round(rng.uniform(2.4, 3.6), 1)
                elif kind == "high":
                    glucose = round(rng.uniform(17.0, 24.0), 1)
                elif kind == "bp":
                    bp = (rng.randint(182, 200), rng.randint(110, 118))
            elif roll < 0.09:
                referral = Referral.ROUTINE
                reason, referral_to = rng.choice(ROUTINE_REFERRALS)
            # The peer leader agrees when to be in touch next and mostly keeps to it; a few
            # contacts set no date, and a few next contacts come late (overdue follow-ups).
            gap = max(2, round(rng.choice((4, 7, 7, 10, 14, 14, 21, 28)) / person.engagement))
            if referral is Referral.URGENT:
                gap = rng.choice((1, 2, 3))
            follow_up_days = gap if rng.random() < 0.88 else 0
            voided = rng.random() < 0.006
            created = (when + timedelta(minutes=rng.randint(5, 600))).astimezone(UTC)
            self.p.contacts.append(
                Contact(
                    id=self.uuid(),
                    participant_id=p.id,
                    peer_leader_id=leader.id,
                    community_id=community.id,
                    occurred_at=when,
                    mode=mode.value,
                    duration_min=rng.randint(low, high),
                    functions=[f.value for f in functions],
                    topics=self.pick_some(TOPICS, 1, 3),
                    referral=referral.value,
                    referral_reason=reason,
                    referral_to=referral_to,
                    glucose_mmol=glucose,
                    bp_systolic=bp[0],
                    bp_diastolic=bp[1],
                    weight_kg=round(p.weight_kg + rng.gauss(0, 1), 1)
                    if p.weight_kg and rng.random() < 0.04
                    else None,
                    follow_up_on=day + timedelta(days=follow_up_days) if follow_up_days else None,
                    note=rng.choice(CONTACT_NOTES) if rng.random() < 0.18 else None,
                    voided=voided,
                    void_reason=rng.choice(VOID_REASONS) if voided else None,
                    version=1,
                    created_at=created,
                    updated_at=created,
                )
            )
            slip = rng.choices((0, rng.randint(1, 3), rng.randint(4, 10)), (70, 22, 8))[0]
            day += timedelta(days=gap + slip)

    def recent_urgent_referral(self, contacts: list[Contact]) -> None:
        """Urgent referrals are rare, so chance alone may leave the demo users none to see: make
        the demo peer leader's latest contact a phone call with an urgent referral."""
        own = [c for c in contacts if c.meeting_id is None and not c.voided]  # type: ignore[attr-defined]
        if not own:
            return
        call = max(own, key=lambda c: c.occurred_at)
        call.mode = ContactMode.PHONE_CALL.value
        call.duration_min = 15
        call.referral = Referral.URGENT.value
        call.referral_reason, call.referral_to, _ = URGENT_REFERRALS[0]
        call.glucose_mmol = 3.1
        call.follow_up_on = call.occurred_at.date() + timedelta(days=1)

    def derive(self, people: list[_Person], contacts: list[Contact]) -> None:
        """The server-maintained fields: latest non-voided contact and its follow-up date."""
        latest: dict[uuid.UUID, Contact] = {}
        for c in contacts:
            pid = c.participant_id  # type: ignore[attr-defined]
            if c.voided:
                continue
            seen = latest.get(pid)
            if seen is None or c.occurred_at > seen.occurred_at:
                latest[pid] = c
        for person in people:
            last = latest.get(person.row.id)
            person.row.last_contact_at = last.occurred_at.astimezone(UTC) if last else None
            person.row.next_follow_up_on = last.follow_up_on if last else None


def generate(seed: int = DEFAULT_SEED, today: date | None = None, scale: float = 1.0) -> Program:
    """The demo program as unsaved rows. Pure: no database access (the ORM must be initialised)."""
    return _Gen(seed, today or date.today(), scale).build()


async def write(program: Program) -> None:
    """Insert the program in one transaction, numbering every synced row from the change sequence."""
    synced = program.synced()
    async with in_transaction() as conn:
        first = await allocate(conn, len(synced))
        for offset, row in enumerate(synced):
            row.seq = first + offset
        tables: list[tuple[type[Model], list[Any]]] = [
            (Community, program.communities),
            (Committee, program.committees),
            (User, program.users),
            (Group, program.groups),
            (Participant, program.participants),
            (GroupMeeting, program.meetings),
            (Contact, program.contacts),
            (Measurement, program.evaluation.measurements),
            (Assessment, program.evaluation.assessments),
            (GroupActivity, program.evaluation.activities),
            (Supervision, program.evaluation.supervisions),
            (Training, program.evaluation.trainings),
            (ImplementationRating, program.evaluation.ratings),
        ]
        for model, rows in tables:
            await model.bulk_create(rows, batch_size=BATCH, using_db=conn)
            # ``updated_at`` is auto_now, so the ORM stamped it with the wall clock; put back the
            # generated value (the creation time) so the same seed gives the same rows.
            if "updated_at" in model._meta.fields_map:
                await conn.execute_query(
                    f"UPDATE {model._meta.db_table} SET updated_at = created_at"
                )


async def is_empty() -> bool:
    return not await User.exists()


async def run(
    settings: Settings,
    *,
    seed: int = DEFAULT_SEED,
    if_empty: bool = False,
    today: date | None = None,
    scale: float = 1.0,
    echo: Callable[[str], Any] = print,
) -> Program | None:
    """Fill an empty database with the demo program and print invite links for the demo users."""
    if not await is_empty():
        if if_empty:
            echo("Demo data is already there; for a fresh sign-in link run `peerlog invite admin`.")
            return None
        raise UserError(
            "the database already has users: `peerlog demo` fills an empty database only"
        )
    started = time.perf_counter()
    # The six months end on the program's today, not the server machine's.
    program = generate(seed, today or datetime.now(settings.zone).date(), scale)
    await write(program)
    elapsed = time.perf_counter() - started
    echo(
        f"Demo program (seed {seed}): {len(program.communities)} communities, "
        f"{len(program.committees)} residential committees, {len(program.groups)} groups, "
        f"{len(program.participants)} participants, {len(program.contacts)} contacts, "
        f"{len(program.meetings)} group meetings, "
        f"{len(program.evaluation.measurements)} measurements, "
        f"{len(program.evaluation.assessments)} questionnaires, "
        f"{len(program.evaluation.activities)} group activities, "
        f"{len(program.evaluation.supervisions)} supervisions, "
        f"{len(program.evaluation.trainings)} trainings, "
        f"{len(program.evaluation.ratings)} implementation ratings; "
        f"written in {elapsed:.1f} s."
    )
    echo(
        "Open a link on this machine to register a passkey "
        f"(each works once, for {settings.invite_days} days):"
    )
    users = {u.username: u for u in await User.filter(username__in=DEMO_USERS)}
    for username in DEMO_USERS:
        user = users[username]
        invite = await create_invite(user, settings)
        echo(f"  {username:<12} {user.role.value:<12} {invite_link(settings, invite.code)}")
    return program
