"""The research export (SPEC 6): one zip of pseudonymised, long-format CSV tables, lookups and a
codebook, for an evaluator's R, Stata, SPSS or pandas.

What is in it, for a window (``since``..``until``, days in the program's time zone) and
optionally one community:

- activity tables, one row per event in the window (voided records left out): ``contacts``,
  ``meetings`` and ``meeting_attendance`` (one row per meeting and attendee);
- ``participants``: everyone with any activity in the window (a row in an activity table), and
  everyone in scope enrolled in it: a participant enrolled years ago and contacted last week is in;
- lookups: ``groups``, ``peer_leaders``, ``committees``, ``communities``: every code any table
  uses, and every one in scope;
- ``codebook.csv``: every column of every table (meaning in English and Chinese, type, unit,
  allowed values, the lookup a code refers to), and ``README.txt``.

Pseudonymised: participants by their program code, peer leaders and groups by a code made from
their id (``PL-…``, ``G-…``; the ordinary ``peer_leaders`` and ``groups`` exports give the same
code next to the name, for the program's own key). No name, phone, address, notes, free-text
reason, topic, place or co-leader name: a column is in only when the codebook can say what
every value means. Clinical values and dates stay (pseudonymised, not anonymised data).

Format, chosen so that ``read.csv``, Stata's ``import delimited``, SPSS and ``pandas.read_csv``
load each file as it is:

- UTF-8 **without** a byte-order mark. A BOM becomes part of the first column's name in R's
  ``read.csv`` (``X.U.FEFF.participant_code`` unless ``fileEncoding="UTF-8-BOM"``) and in older
  Stata's ``import delimited``; pandas and SPSS read UTF-8 either way. Only place names and the
  codebook's Chinese column are not ASCII; every code, value and header is. (The ordinary exports
  keep the BOM: they are for Excel, which needs it.)
- Headers are lower-case ASCII, at most 32 characters (Stata's limit), unique in their table.
- Missing = an empty, unquoted cell. Numbers bare (``8.6``), text in double quotes with no line
  breaks (Stata's default quote handling breaks on them), yes/no as ``1``/``0``, dates
  ``YYYY-MM-DD``, instants ISO 8601 with the program's offset. Text that a spreadsheet would run
  as a formula is neutralised as in every export (``server.exports.spreadsheet_text``).

Adding a table is a few lines: ``record_table`` for a record with a date (a ``Table`` with
``window_rows`` for one made otherwise: ``_answer_rows`` and ``_attendance_rows`` make a long
table from a parent's mapping or list) and its ``Column``s, then one entry in
``ACTIVITY_TABLES``. The measurements table is the example::

    MEASUREMENTS = record_table(
        ("measurements", Measurement, "measured_on", False, "measurement_id"),
        "One dated value of a clinical marker …",
        "临床指标的一次测量值 …",
        (
            participant_code(),
            community_code(),
            Column("marker", "marker", CATEGORY, "Clinical marker", "指标", allowed=_enum(Marker)),
            Column("value", "value", NUMBER, …),
            …
        ),
    )

``participant_code()`` records each participant it writes, so they join the ``participants``
table (a participant with only a measurement in the window is in it); ``peer_leader_code()``,
``group_code_column()``, ``community_code()`` do the same for their lookups, and a ``Column``
with ``refers=`` names the table its values are keys of (the codebook says so, and the tests
check every value is there). Leave free text out (``note``, ``void_reason``, ``topic``, names);
``window_rows`` drops voided rows. For the ordinary participants export, a record that makes a
participant active also goes into ``server.exports.ACTIVITY_SOURCES``.
"""

from __future__ import annotations

import io
import math
import sys
import tempfile
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import IO, Any

from tortoise.expressions import Q

from server.exports import (
    ExportError,
    ExportFilters,
    audit_export,
    filters_from_args,
    group_code,
    leader_code,
    period_q,
    spreadsheet_text,
    write_output,
)
from server.reports import day_of
from sync.models import (
    ActivityChannel,
    Assessment,
    Committee,
    Community,
    Contact,
    ContactMode,
    Group,
    GroupActivity,
    GroupMeeting,
    ImplementationRating,
    Instrument,
    KeyFunction,
    Marker,
    Measurement,
    MeasurementSource,
    Participant,
    ParticipantStatus,
    Referral,
    Role,
    Sex,
    Supervision,
    SupervisionMode,
    TimePoint,
    Training,
    User,
)

BATCH = 2000
# Where a referral went, as the phone's pick-list offers it; anything else typed is ``other``.
REFERRAL_TO = ("chc_doctor", "hospital", "community_resource")

# Column types, as the codebook states them.
STRING = "string"
CATEGORY = "category"  # text from a fixed list (``allowed``)
CODE = "code"  # text that is a key of a lookup table (``refers``)
INTEGER = "integer"
NUMBER = "number"
FLAG = "integer 0/1"
DATE = "date (YYYY-MM-DD)"
INSTANT = "datetime (ISO 8601 with offset)"


# The window: ``since``..``until`` (days in ``zone``, either end open) and one community or all.
Window = ExportFilters


@dataclass
class Run:
    """One export in progress: the window and the keys the tables written so far refer to."""

    window: Window
    # lookup name → keys seen (participant codes, user ids, group ids, committee/community codes)
    seen: dict[str, set[Any]] = field(
        default_factory=lambda: {
            "participants": set(),
            "peer_leaders": set(),
            "groups": set(),
            "committees": set(),
            "communities": set(),
        }
    )
    counts: dict[str, int] = field(default_factory=dict)


Convert = Callable[[Any, Run], Any]


@dataclass(frozen=True)
class Column:
    name: str
    source: str  # a path Tortoise's ``values()`` reads (``participant__code``)
    type: str
    en: str
    zh: str
    unit: str = ""
    allowed: str = ""
    refers: str = ""  # the table whose key this column holds
    convert: Convert | None = None


# The rows of a table: dicts keyed by the ``values()`` paths asked for (and ``id``).
RowSource = Callable[[Run, list[str]], AsyncIterator[dict[str, Any]]]


@dataclass(frozen=True)
class Table:
    name: str
    en: str
    zh: str
    rows: RowSource
    columns: tuple[Column, ...]

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(c.source for c in self.columns))


def _record(kind: str, value: Any, run: Run) -> None:
    if value is not None:
        run.seen[kind].add(value)


def _seen(kind: str) -> Convert:
    def convert(value: Any, run: Run) -> Any:
        _record(kind, value, run)
        return value

    return convert


def _leader(value: Any, run: Run) -> str | None:
    if value is None:
        return None
    _record("peer_leaders", str(value), run)
    return leader_code(value)


def _group(value: Any, run: Run) -> str | None:
    if value is None:
        return None
    _record("groups", str(value), run)
    return group_code(value)


def _flag(value: Any, run: Run) -> int | None:
    return None if value is None else int(bool(value))


def _code(refers: str, name: str, source: str, en: str, zh: str, convert: Convert) -> Column:
    return Column(name, source, CODE, en, zh, refers=refers, convert=convert)


def participant_code() -> Column:
    """The participant's program code; who it names joins ``participants``."""
    return _code(
        "participants",
        "participant_code",
        "participant__code",
        "Participant's program code",
        "参与者项目编号",
        _seen("participants"),
    )


def peer_leader_code(
    source: str = "peer_leader_id",
    name: str = "peer_leader_code",
    en: str = "Peer leader who recorded it (research code)",
    zh: str = "记录该条目的同伴组长（研究编号）",
) -> Column:
    return _code("peer_leaders", name, source, en, zh, _leader)


def community_code(source: str = "community__code") -> Column:
    en, zh = "Community (community health centre)", "社区（社区卫生服务中心）"
    return _code("communities", "community_code", source, en, zh, _seen("communities"))


def committee_code(source: str = "committee__code") -> Column:
    en, zh = "Residential committee", "居委会"
    return _code("committees", "committee_code", source, en, zh, _seen("committees"))


def group_code_column(
    source: str = "group_id",
    en: str = "Self-management group (research code)",
    zh: str = "自我管理小组（研究编号）",
) -> Column:
    return _code("groups", "group_code", source, en, zh, _group)


def _instant_day(value: Any, run: Run) -> date | None:
    return day_of(value, run.window.zone) if value is not None else None


def occurred_columns(what_en: str, what_zh: str) -> tuple[Column, Column]:
    return (
        Column(
            "occurred_at", "occurred_at", INSTANT, f"When the {what_en} happened", f"{what_zh}时间"
        ),
        Column(
            "occurred_on",
            "occurred_at",
            DATE,
            f"Day of the {what_en} in the program's time zone",
            f"{what_zh}日期（项目时区）",
            convert=_instant_day,
        ),
    )


def _has_voided(model: Any) -> bool:
    return "voided" in model._meta.fields_map


async def _paged(query_for: Callable[[], Any], sources: list[str]) -> AsyncIterator[dict[str, Any]]:
    """Rows of a query, ``BATCH`` at a time by primary key (memory stays flat)."""
    names = {f"c{i}": s for i, s in enumerate(["id", *sources])}
    after: Any = None
    while True:
        query = query_for()
        if after is not None:
            query = query.filter(id__gt=after)
        batch = await query.order_by("id").limit(BATCH).values(**names)
        for raw in batch:
            yield {s: raw[k] for k, s in names.items()}
        if len(batch) < BATCH:
            return
        after = batch[-1]["c0"]


def window_rows(model: Any, date_field: str, *, instant: bool) -> RowSource:
    """Rows of ``model`` in the window and community, voided ones left out."""

    def rows(run: Run, sources: list[str]) -> AsyncIterator[dict[str, Any]]:
        w = run.window

        def query() -> Any:
            q = period_q(w, date_field, instant)
            if w.community_id:
                q &= Q(community_id=w.community_id)
            if _has_voided(model):
                q &= Q(voided=False)
            return model.filter(q)

        return _paged(query, sources)

    return rows


def record_table(
    what: tuple[Any, Any, str, bool, str], en: str, zh: str, columns: tuple[Column, ...]
) -> Table:
    """A table of one record type in the window: ``(name, model, date field, is an instant,
    id column)``, its meaning, and its columns after the record's id."""
    name, model, date_field, instant, id_name = what
    return Table(
        name,
        en,
        zh,
        window_rows(model, date_field, instant=instant),
        (Column(id_name, "id", STRING, "Record id", "记录编号"), *columns),
    )


def _function_flag(name: str) -> Convert:
    return lambda value, run: int(name in (value or ()))


FUNCTIONS_ZH = ("陪伴在场", "日常管理帮助", "社会心理支持", "链接医疗与社区资源", "持续支持")


def function_flags() -> tuple[Column, ...]:
    """One 0/1 column per key function (``fn_being_there``, …) from a ``functions`` list."""
    return tuple(
        Column(
            f"fn_{k.value}",
            "functions",
            FLAG,
            f"Key function addressed: {k.value.replace('_', ' ')}",
            f"涉及的关键功能：{zh}",
            allowed="0|1",
            convert=_function_flag(k.value),
        )
        for k, zh in zip(KeyFunction, FUNCTIONS_ZH, strict=True)
    )


def _referral_to(value: Any, run: Run) -> str | None:
    if not value:
        return None
    return value if value in REFERRAL_TO else "other"


def _enum(values: Iterable[Any]) -> str:
    return "|".join(str(getattr(v, "value", v)) for v in values)


CONTACTS = record_table(
    ("contacts", Contact, "occurred_at", True, "contact_id"),
    "One contact between a peer leader and a participant (voided ones left out)",
    "同伴组长与参与者的一次联系（已作废的不含）",
    (
        participant_code(),
        peer_leader_code(),
        community_code(),
        Column(
            "meeting_id",
            "meeting_id",
            STRING,
            "Group meeting this attendance belongs to (empty: not from a meeting)",
            "所属小组活动（空：非小组活动）",
            refers="meetings",
        ),
        *occurred_columns("contact", "联系"),
        Column(
            "mode",
            "mode",
            CATEGORY,
            "How the contact was made",
            "联系方式",
            allowed=_enum(ContactMode),
        ),
        Column("duration_min", "duration_min", INTEGER, "Duration", "时长", unit="minutes"),
        *function_flags(),
        Column(
            "topics",
            "topics",
            STRING,
            "Topics discussed, separated by ';'",
            "讨论的话题，以“;”分隔",
            allowed="lower-case words",
        ),
        Column("referral", "referral", CATEGORY, "Referral made", "转诊", allowed=_enum(Referral)),
        Column(
            "referral_to",
            "referral_to",
            CATEGORY,
            "Where the referral went",
            "转诊去向",
            allowed=_enum((*REFERRAL_TO, "other")),
            convert=_referral_to,
        ),
        Column(
            "glucose_mmol",
            "glucose_mmol",
            NUMBER,
            "Reported blood glucose",
            "自报血糖",
            unit="mmol/L",
        ),
        Column(
            "bp_systolic",
            "bp_systolic",
            INTEGER,
            "Reported systolic blood pressure",
            "自报收缩压",
            unit="mmHg",
        ),
        Column(
            "bp_diastolic",
            "bp_diastolic",
            INTEGER,
            "Reported diastolic blood pressure",
            "自报舒张压",
            unit="mmHg",
        ),
        Column("weight_kg", "weight_kg", NUMBER, "Reported weight", "自报体重", unit="kg"),
        Column("follow_up_on", "follow_up_on", DATE, "Next follow-up agreed", "约定的下次随访日期"),
    ),
)

MEETINGS = record_table(
    ("meetings", GroupMeeting, "occurred_at", True, "meeting_id"),
    "One group meeting (voided ones left out)",
    "一次小组活动（已作废的不含）",
    (
        group_code_column(),
        community_code(),
        peer_leader_code(
            en="Peer leader who led it (research code)", zh="主持的同伴组长（研究编号）"
        ),
        *occurred_columns("meeting", "活动"),
        Column(
            "co_led",
            "co_leader",
            FLAG,
            "Co-led by a staff member",
            "是否由医务人员共同主持",
            allowed="0|1",
            convert=lambda value, run: int(bool((value or "").strip())),
        ),
        Column(
            "attendees",
            "attendee_ids",
            INTEGER,
            "Participants who attended",
            "参加的参与者人数",
            unit="people",
            convert=lambda value, run: len(value or ()),
        ),
    ),
)


async def _attendance_rows(run: Run, sources: list[str]) -> AsyncIterator[dict[str, Any]]:
    """One row per meeting and attendee, from the meetings in the window."""
    source = window_rows(GroupMeeting, "occurred_at", instant=True)
    pending: list[dict[str, Any]] = []

    async def resolved() -> list[dict[str, Any]]:
        ids = {a for m in pending for a in m["attendee_ids"] or ()}
        codes = dict(
            await Participant.filter(id__in=list(ids)).values_list("id", "code") if ids else []
        )
        codes = {str(k): v for k, v in codes.items()}
        out = [
            {"id": m["id"], "participant__code": codes[str(a)], "occurred_at": m["occurred_at"]}
            for m in pending
            for a in m["attendee_ids"] or ()
            if str(a) in codes
        ]
        pending.clear()
        return out

    async for meeting in source(run, ["occurred_at", "attendee_ids"]):
        pending.append(meeting)
        if len(pending) >= 500:
            for row in await resolved():
                yield row
    for row in await resolved():
        yield row


ATTENDANCE = Table(
    "meeting_attendance",
    "One row per group meeting and participant who attended it",
    "每次小组活动的每位参加者一行",
    _attendance_rows,
    (
        Column("meeting_id", "id", CODE, "Group meeting", "小组活动", refers="meetings"),
        participant_code(),
        Column(
            "occurred_on",
            "occurred_at",
            DATE,
            "Day of the meeting in the program's time zone",
            "活动日期（项目时区）",
            convert=_instant_day,
        ),
    ),
)

UNITS = {
    Marker.HBA1C.value: "%",
    Marker.BP_SYSTOLIC.value: "mmHg",
    Marker.BP_DIASTOLIC.value: "mmHg",
    Marker.WEIGHT.value: "kg",
    Marker.GLUCOSE.value: "mmol/L",
}


def entered_by_code() -> Column:
    en, zh = (
        "Who entered it (research code; empty: carried over)",
        "录入者（研究编号；空：迁移而来）",
    )
    return peer_leader_code("entered_by_id", "entered_by_code", en, zh)


MEASUREMENTS = record_table(
    ("measurements", Measurement, "measured_on", False, "measurement_id"),
    "One dated value of a clinical marker (voided ones left out); a blood pressure is two rows",
    "临床指标的一次测量值（已作废的不含）；一次血压为两行",
    (
        participant_code(),
        community_code(),
        Column("marker", "marker", CATEGORY, "Clinical marker", "指标", allowed=_enum(Marker)),
        Column("value", "value", NUMBER, "Value, in the unit of its marker", "数值（单位见 unit）"),
        Column(
            "unit",
            "marker",
            CATEGORY,
            "Unit of the value",
            "数值单位",
            allowed="|".join(dict.fromkeys(UNITS.values())),
            convert=lambda marker, run: UNITS.get(marker),
        ),
        Column("measured_on", "measured_on", DATE, "Day measured", "测量日期"),
        Column(
            "source",
            "source",
            CATEGORY,
            "Clinic record or reported by the participant",
            "来源：门诊记录或本人自报",
            allowed=_enum(MeasurementSource),
        ),
        Column(
            "contact_id",
            "contact_id",
            STRING,
            "Contact it was reported on (in contacts when that is in the window)",
            "报告该值的联系记录（在时间范围内时见 contacts）",
        ),
        entered_by_code(),
    ),
)

ASSESSMENTS = record_table(
    ("assessments", Assessment, "assessed_on", False, "assessment_id"),
    "One questionnaire a participant answered (voided ones left out); answers in assessment_answers",
    "参与者完成的一份问卷（已作废的不含）；各题答案见 assessment_answers",
    (
        participant_code(),
        community_code(),
        Column(
            "instrument",
            "instrument_id",
            CODE,
            "Questionnaire",
            "问卷",
            refers="instrument_items",
        ),
        Column(
            "time_point", "time_point", CATEGORY, "Time point", "时间点", allowed=_enum(TimePoint)
        ),
        Column("assessed_on", "assessed_on", DATE, "Day answered", "填写日期"),
        Column(
            "score",
            "score",
            NUMBER,
            "Score by the questionnaire's rule (see instrument_items)",
            "按问卷规则计算的得分（见 instrument_items）",
        ),
        entered_by_code(),
    ),
)


async def _answer_rows(run: Run, sources: list[str]) -> AsyncIterator[dict[str, Any]]:
    """One row per assessment and item, from the assessments in the window."""
    source = window_rows(Assessment, "assessed_on", instant=False)
    async for assessment in source(run, ["instrument_id", "answers"]):
        for item, answer in sorted((assessment["answers"] or {}).items()):
            yield {**assessment, "item": item, "answer": answer}


ASSESSMENT_ANSWERS = Table(
    "assessment_answers",
    "One row per assessment and questionnaire item answered",
    "每份问卷的每道题一行",
    _answer_rows,
    (
        Column("assessment_id", "id", CODE, "Assessment", "问卷记录", refers="assessments"),
        Column(
            "instrument", "instrument_id", CODE, "Questionnaire", "问卷", refers="instrument_items"
        ),
        Column("item", "item", CODE, "Item", "题目", refers="instrument_items"),
        Column("answer", "answer", INTEGER, "Answer on the item's scale", "按量表作答的分值"),
    ),
)


async def _item_rows(run: Run, sources: list[str]) -> AsyncIterator[dict[str, Any]]:
    """Every item of every questionnaire, with its wording and scale."""
    for instrument_id, definition in (
        await Instrument.all().order_by("id").values_list("id", "definition")
    ):
        scale, cutoff = definition.get("scale", {}), definition.get("cutoff") or {}
        for item in definition.get("items", ()):
            yield {
                "instrument": instrument_id,
                "title_en": definition.get("title", {}).get("en"),
                "item": item["id"],
                "text_en": item["text"].get("en"),
                "text_zh": item["text"].get("zh-CN"),
                "scale_min": scale.get("min"),
                "scale_max": scale.get("max"),
                "scoring": definition.get("scoring"),
                "cutoff": cutoff.get("value"),
            }


INSTRUMENT_ITEMS = Table(
    "instrument_items",
    "Every questionnaire item: wording, answer scale, scoring rule and cut-off",
    "问卷的每道题：措辞、量表、计分规则和切点",
    _item_rows,
    (
        Column("instrument", "instrument", CODE, "Questionnaire", "问卷"),
        Column("title_en", "title_en", STRING, "Questionnaire title (English)", "问卷名称（英文）"),
        Column("item", "item", CODE, "Item", "题目"),
        Column("text_en", "text_en", STRING, "Item wording (English)", "题目措辞（英文）"),
        Column("text_zh", "text_zh", STRING, "Item wording (Chinese)", "题目措辞（中文）"),
        Column("scale_min", "scale_min", INTEGER, "Lowest answer", "最低分值"),
        Column("scale_max", "scale_max", INTEGER, "Highest answer", "最高分值"),
        Column(
            "scoring", "scoring", CATEGORY, "How the score is made", "计分方法", allowed="mean|sum"
        ),
        Column(
            "cutoff",
            "cutoff",
            NUMBER,
            "Score at or above which the questionnaire flags (empty: none)",
            "得分达到或超过该值即提示（空：无）",
        ),
    ),
)

GROUP_ACTIVITIES = record_table(
    ("group_activities", GroupActivity, "occurred_at", True, "activity_id"),
    "A WeChat group session, neighbourhood activity or community assistance for a group or a "
    "committee: its own kind of dose, not a contact per person (voided ones left out)",
    "微信群活动、邻里活动或社区协助（针对一个小组或居委会）：单独计算的干预剂量，不按人计为联系（已作废的不含）",
    (
        group_code_column(en="Group (empty: a committee's activity)", zh="小组（空：居委会活动）"),
        _code(
            "committees",
            "committee_code",
            "committee__code",
            "Residential committee (empty: a group's activity)",
            "居委会（空：小组活动）",
            _seen("committees"),
        ),
        community_code(),
        peer_leader_code(
            en="Peer leader who led it (research code)", zh="组织的同伴组长（研究编号）"
        ),
        *occurred_columns("activity", "活动"),
        Column(
            "channel",
            "channel",
            CATEGORY,
            "Kind of activity",
            "活动类型",
            allowed=_enum(ActivityChannel),
        ),
        *function_flags(),
        Column(
            "participants_count",
            "participants_count",
            INTEGER,
            "Enrolled participants reached",
            "覆盖的在组参与者人数",
            unit="people",
        ),
        Column(
            "residents_count",
            "residents_count",
            INTEGER,
            "Other residents reached",
            "覆盖的其他居民人数",
            unit="people",
        ),
        Column(
            "named_attendees",
            "attendee_ids",
            INTEGER,
            "Participants named as attending",
            "登记姓名的参加者人数",
            unit="people",
            convert=lambda value, run: len(value or ()),
        ),
    ),
)

SUPERVISIONS = record_table(
    ("supervisions", Supervision, "occurred_at", True, "supervision_id"),
    "A coordinator's supervision contact with a peer leader (voided ones left out)",
    "协调员对同伴组长的一次督导（已作废的不含）",
    (
        peer_leader_code(
            en="Peer leader supervised (research code)", zh="接受督导的同伴组长（研究编号）"
        ),
        peer_leader_code(
            "supervisor_id", "supervisor_code", "Supervisor (research code)", "督导者（研究编号）"
        ),
        community_code(),
        *occurred_columns("supervision", "督导"),
        Column("mode", "mode", CATEGORY, "How", "方式", allowed=_enum(SupervisionMode)),
        Column(
            "topics",
            "topics",
            STRING,
            "Topics, separated by ';'",
            "话题，以“;”分隔",
            allowed="lower-case words",
        ),
    ),
)


def _quarters(since: date | None, until: date | None) -> list[str] | None:
    """The ``YYYY-Qn`` periods the window touches (None: no window, every period)."""
    if since is None or until is None:
        return None  # one end open: every period (a quarter list to year 9999 would be long)
    first, last = since or date(2000, 1, 1), until or date(9999, 12, 31)
    out, year, q = [], first.year, (first.month - 1) // 3 + 1
    while (year, q) <= (last.year, (last.month - 1) // 3 + 1):
        out.append(f"{year}-Q{q}")
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)
    return out


async def _rating_rows(run: Run, sources: list[str]) -> AsyncIterator[dict[str, Any]]:
    q = _community_q(run) & Q(voided=False)
    periods = _quarters(run.window.since, run.window.until)
    if periods is not None:
        q &= Q(period__in=periods)
    async for row in _paged(lambda: ImplementationRating.filter(q), sources):
        yield row


RATING_ITEMS = (
    ("being_there", "Being there", "陪伴在场"),
    ("daily_management", "Help with daily management", "日常管理帮助"),
    ("social_emotional", "Social and emotional support", "社会心理支持"),
    ("linkage_to_care", "Linkage to clinical care and community resources", "链接医疗与社区资源"),
    ("ongoing_support", "Ongoing support", "持续支持"),
    ("committee_use", "Use of the residential committee", "对居委会的利用"),
    ("resource_linkage", "Linkage to community resources", "链接社区资源"),
)

IMPLEMENTATION_RATINGS = Table(
    "implementation_ratings",
    "A coordinator's quarterly rating of a peer leader (or a community), quarters touching the window",
    "协调员对同伴组长（或社区）的季度实施评分，与时间范围相交的季度",
    _rating_rows,
    (
        Column("rating_id", "id", STRING, "Record id", "记录编号"),
        peer_leader_code(
            en="Peer leader rated (empty: the community)", zh="被评分的同伴组长（空：评社区）"
        ),
        community_code(),
        Column("period", "period", STRING, "Quarter rated", "评分季度", allowed="YYYY-Qn"),
        *(
            Column(
                name, name, INTEGER, f"Rating: {en}", f"评分：{zh}", unit="1–5", allowed="1|2|3|4|5"
            )
            for name, en, zh in RATING_ITEMS
        ),
        peer_leader_code(
            "rated_by_id", "rated_by_code", "Who rated (research code)", "评分者（研究编号）"
        ),
    ),
)


def _training_q(run: Run) -> Q:
    """Trainings held in the window: the community's own and the program-wide ones."""
    q = period_q(run.window, "held_on", False) & Q(voided=False)
    if run.window.community_id:
        q &= Q(community_id=run.window.community_id) | Q(community_id=None)
    return q


async def _training_rows(run: Run, sources: list[str]) -> AsyncIterator[dict[str, Any]]:
    q = _training_q(run)
    async for row in _paged(lambda: Training.filter(q), sources):
        yield row


async def _training_attendance_rows(run: Run, sources: list[str]) -> AsyncIterator[dict[str, Any]]:
    """One row per training and peer leader who attended (with a community, its peer leaders
    only: a program-wide training names peer leaders of every community)."""
    q = _training_q(run)
    async for training in _paged(lambda: Training.filter(q), ["held_on", "attendee_ids"]):
        ids = [str(i) for i in training["attendee_ids"] or ()]
        leaders = User.filter(id__in=ids)
        if run.window.community_id:
            leaders = leaders.filter(community_id=run.window.community_id)
        known = {str(i) for i in await leaders.values_list("id", flat=True)} if ids else set()
        for leader in ids:
            if leader in known:
                yield {
                    "id": training["id"],
                    "peer_leader_id": leader,
                    "held_on": training["held_on"],
                }


TRAININGS = Table(
    "trainings",
    "A training session for peer leaders held in the window (voided ones left out)",
    "时间范围内为同伴组长举办的一次培训（已作废的不含）",
    _training_rows,
    (
        Column("training_id", "id", STRING, "Record id", "记录编号"),
        _code(
            "communities",
            "community_code",
            "community__code",
            "Community that held it (empty: the whole program)",
            "举办的社区（空：全项目）",
            _seen("communities"),
        ),
        peer_leader_code(
            "trainer_id", "trainer_code", "Trainer (research code)", "培训者（研究编号）"
        ),
        Column("held_on", "held_on", DATE, "Day of the training", "培训日期"),
        Column("hours", "hours", NUMBER, "Length", "时长", unit="hours"),
        Column(
            "attendees",
            "attendee_ids",
            INTEGER,
            "Peer leaders who attended",
            "参加的同伴组长人数",
            unit="people",
            convert=lambda value, run: len(value or ()),
        ),
    ),
)

TRAINING_ATTENDANCE = Table(
    "training_attendance",
    "One row per training and peer leader who attended it",
    "每次培训的每位参加的同伴组长一行",
    _training_attendance_rows,
    (
        Column("training_id", "id", CODE, "Training", "培训", refers="trainings"),
        peer_leader_code(
            en="Peer leader who attended (research code)", zh="参加的同伴组长（研究编号）"
        ),
        Column("held_on", "held_on", DATE, "Day of the training", "培训日期"),
    ),
)

# The tables of events in the window: everyone they name is in ``participants``.
ACTIVITY_TABLES: tuple[Table, ...] = (
    CONTACTS,
    MEETINGS,
    ATTENDANCE,
    MEASUREMENTS,
    ASSESSMENTS,
    ASSESSMENT_ANSWERS,
    GROUP_ACTIVITIES,
    SUPERVISIONS,
    IMPLEMENTATION_RATINGS,
    TRAININGS,
    TRAINING_ATTENDANCE,
)


def _by_keys(model: Any, key: str, kind: str, scope: Callable[[Run], Q]) -> RowSource:
    """Rows of ``model`` in scope, and those whose ``key`` a written table referred to."""

    def rows(run: Run, sources: list[str]) -> AsyncIterator[dict[str, Any]]:
        return _keyed_rows(run, sources, model, key, kind, scope(run))

    return rows


async def _keyed_rows(
    run: Run, sources: list[str], model: Any, key: str, kind: str, scope: Q
) -> AsyncIterator[dict[str, Any]]:
    in_scope = set(await model.filter(scope).values_list(key, flat=True))
    keys = sorted({str(k) for k in in_scope} | {str(k) for k in run.seen[kind]})
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        batch = await model.filter(**{f"{key}__in": chunk}).order_by(key).values(*sources)
        for raw in batch:
            yield raw


def _community_q(run: Run, column: str = "community_id") -> Q:
    cid = run.window.community_id
    return Q(**{column: cid}) if cid else Q()  # type: ignore[arg-type]


def _participant_scope(run: Run) -> Q:
    # In scope without activity: enrolled in the window (everyone, with no window).
    return _community_q(run) & period_q(run.window, "enrolled_on", False)


def _on(value: Any, run: Run) -> date | None:
    return day_of(value, run.window.zone) if value is not None else None


PARTICIPANTS = Table(
    "participants",
    "One row per participant with any activity in the window, or enrolled in it",
    "时间范围内有任何活动或在其中入组的参与者，每人一行",
    _by_keys(Participant, "code", "participants", _participant_scope),
    (
        Column("participant_code", "code", CODE, "Participant's program code", "参与者项目编号"),
        community_code(),
        committee_code(),
        group_code_column(
            en="Self-management group now (research code)", zh="目前所在的自我管理小组（研究编号）"
        ),
        peer_leader_code(
            en="Assigned peer leader now (research code)", zh="目前负责的同伴组长（研究编号）"
        ),
        Column("sex", "sex", CATEGORY, "Sex", "性别", allowed=_enum(Sex)),
        Column("birth_year", "birth_year", INTEGER, "Year of birth", "出生年份", unit="year"),
        Column("enrolled_on", "enrolled_on", DATE, "Enrolled on", "入组日期"),
        Column("consent_on", "consent_on", DATE, "Consent recorded on", "知情同意日期"),
        Column(
            "status",
            "status",
            CATEGORY,
            "Status today",
            "目前状态",
            allowed=_enum(ParticipantStatus),
        ),
        Column(
            "conditions",
            "conditions",
            STRING,
            "Conditions, separated by ';'",
            "所患疾病，以“;”分隔",
            allowed="lower-case words (t2d, hypertension, …)",
        ),
        Column(
            "hba1c_baseline",
            "hba1c_baseline",
            NUMBER,
            "Baseline HbA1c",
            "基线糖化血红蛋白",
            unit="%",
        ),
        Column(
            "hba1c_baseline_on",
            "hba1c_baseline_on",
            DATE,
            "Day of the baseline HbA1c",
            "基线糖化血红蛋白日期",
        ),
        Column("hba1c_latest", "hba1c", NUMBER, "Latest HbA1c", "最近一次糖化血红蛋白", unit="%"),
        Column(
            "hba1c_latest_on",
            "hba1c_on",
            DATE,
            "Day of the latest HbA1c",
            "最近一次糖化血红蛋白日期",
        ),
        Column(
            "bp_systolic",
            "bp_systolic",
            INTEGER,
            "Latest systolic blood pressure",
            "最近一次收缩压",
            unit="mmHg",
        ),
        Column(
            "bp_diastolic",
            "bp_diastolic",
            INTEGER,
            "Latest diastolic blood pressure",
            "最近一次舒张压",
            unit="mmHg",
        ),
        Column("bp_on", "bp_on", DATE, "Day of the latest blood pressure", "最近一次血压日期"),
        Column("weight_kg", "weight_kg", NUMBER, "Latest weight", "最近一次体重", unit="kg"),
        Column("weight_on", "weight_on", DATE, "Day of the latest weight", "最近一次体重日期"),
    ),
)

GROUPS = Table(
    "groups",
    "Self-management groups: every group code used, and every group in scope",
    "自我管理小组：所有用到的小组编号及范围内的全部小组",
    _by_keys(Group, "id", "groups", _community_q),
    (
        Column(
            "group_code",
            "id",
            CODE,
            "Group (research code)",
            "小组（研究编号）",
            convert=lambda v, run: group_code(v),
        ),
        community_code(),
        committee_code(),
        peer_leader_code(
            "leader_id",
            name="leader_code",
            en="Group leader (research code)",
            zh="组长（研究编号）",
        ),
        peer_leader_code(
            "co_leader_id",
            name="co_leader_code",
            en="Second peer leader of the group (research code)",
            zh="第二位组长（研究编号）",
        ),
    ),
)


def _leader_scope(run: Run) -> Q:
    return _community_q(run) & Q(role=Role.PEER_LEADER.value)


PEER_LEADERS = Table(
    "peer_leaders",
    "Peer leaders (and any other user who recorded or led something in the export)",
    "同伴组长（以及在本导出中记录或主持过活动的其他用户）",
    _by_keys(User, "id", "peer_leaders", _leader_scope),
    (
        Column(
            "peer_leader_code",
            "id",
            CODE,
            "Peer leader (research code)",
            "同伴组长（研究编号）",
            convert=lambda v, run: leader_code(v),
        ),
        community_code(),
        Column("role", "role", CATEGORY, "Role", "角色", allowed=_enum(Role)),
        Column(
            "active",
            "is_active",
            FLAG,
            "Account active today",
            "账号目前有效",
            allowed="0|1",
            convert=_flag,
        ),
        Column(
            "started_on",
            "created_at",
            DATE,
            "Day the account was made",
            "账号建立日期",
            convert=_on,
        ),
        Column(
            "ended_on",
            "deactivated_at",
            DATE,
            "Day the account was closed",
            "账号停用日期",
            convert=_on,
        ),
    ),
)

COMMITTEES = Table(
    "committees",
    "Residential committees",
    "居委会",
    _by_keys(Committee, "code", "committees", _community_q),
    (
        Column("committee_code", "code", CODE, "Residential committee", "居委会"),
        community_code(),
        Column("name", "name", STRING, "Name", "名称"),
    ),
)

COMMUNITIES = Table(
    "communities",
    "Communities (one community health centre each)",
    "社区（各由一个社区卫生服务中心服务）",
    _by_keys(Community, "code", "communities", lambda run: _community_q(run, "id")),
    (
        Column("community_code", "code", CODE, "Community", "社区"),
        Column("name", "name", STRING, "Name", "名称"),
    ),
)

# In this order: each table's codes are collected before the lookup that lists them is written.
TABLES: tuple[Table, ...] = (
    *ACTIVITY_TABLES,
    INSTRUMENT_ITEMS,
    PARTICIPANTS,
    GROUPS,
    PEER_LEADERS,
    COMMITTEES,
    COMMUNITIES,
)

CODEBOOK_COLUMNS = (
    "table",
    "column",
    "type",
    "unit",
    "allowed_values",
    "refers_to",
    "meaning_en",
    "meaning_zh",
    "table_meaning_en",
    "table_meaning_zh",
)


def codebook_rows(tables: Iterable[Table] = TABLES) -> list[list[Any]]:
    return [
        [t.name, c.name, c.type, c.unit, c.allowed, c.refers, c.en, c.zh, t.en, t.zh]
        for t in tables
        for c in t.columns
    ]


def value_cell(value: Any, zone: tzinfo) -> str:
    """One cell as it goes into the file: see the module's notes on the format."""
    if value is None:
        return ""
    if type(value) is str:  # most cells: codes and enum values
        text = value
    elif isinstance(value, bool):
        return "1" if value else "0"
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    elif isinstance(value, datetime):
        text = value.astimezone(zone).isoformat()
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        text = ";".join(str(v) for v in value)
    else:
        text = str(value)
    text = spreadsheet_text(" ".join(text.splitlines()))
    if not text:
        return ""  # an empty list or text is missing too, not a quoted nothing
    return '"' + text.replace('"', '""') + '"'


def csv_line(values: Iterable[Any], zone: tzinfo) -> str:
    return ",".join(value_cell(v, zone) for v in values) + "\r\n"


async def write_table(out: IO[bytes], table: Table, run: Run) -> int:
    zone = run.window.zone
    out.write(csv_line((c.name for c in table.columns), zone).encode())
    count = 0
    lines: list[str] = []
    async for raw in table.rows(run, table.sources):
        values = []
        for column in table.columns:
            value = raw[column.source]
            if column.convert is not None:
                value = column.convert(value, run)
            values.append(value)
        lines.append(csv_line(values, zone))
        count += 1
        if len(lines) >= 500:
            out.write("".join(lines).encode())
            lines.clear()
    out.write("".join(lines).encode())
    return count


def readme(run: Run, community: str | None, made_at: datetime) -> str:
    w = run.window
    tables = "\n".join(
        f"  {t.name}.csv  {run.counts.get(t.name, 0)} rows  {t.en} / {t.zh}" for t in TABLES
    )
    return f"""Peerlog research export / 研究数据导出

Made / 生成时间: {made_at.astimezone(w.zone).isoformat(timespec="seconds")}
Window / 时间范围: {w.since.isoformat() if w.since else "(start)"} .. {w.until.isoformat() if w.until else "(end)"} ({w.zone})
Community / 社区: {community or "all / 全部"}

{tables}
  codebook.csv  every column: meaning (English, 中文), type, unit, allowed values, lookup it refers to

Pseudonymised: participants by program code, peer leaders and groups by research code; no names,
phones, addresses or free-text notes. 已假名化：参与者以项目编号、同伴组长和小组以研究编号表示，不含姓名、电话、住址和备注。

Files are UTF-8 without a byte-order mark; missing values are empty cells; 0/1 for yes/no;
dates YYYY-MM-DD. 文件为无 BOM 的 UTF-8；缺失值为空；是/否记为 1/0；日期格式为 YYYY-MM-DD。
  R:      read.csv("contacts.csv", encoding = "UTF-8")
  Stata:  import delimited using contacts.csv, encoding("utf-8") varnames(1) clear
  SPSS:   GET DATA /TYPE=TXT /FILE="contacts.csv" /ENCODING='UTF8' /DELIMITERS="," /QUALIFIER='"' /FIRSTCASE=2 ...
  pandas: pandas.read_csv("contacts.csv")
"""


async def build(out: IO[bytes], window: Window, community: str | None = None) -> Run:
    """Write the export's zip to ``out``; the returned run holds each table's row count."""
    run = Run(window)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for table in TABLES:
            with zf.open(f"{table.name}.csv", "w") as member:
                run.counts[table.name] = await write_table(member, table, run)
        book = io.StringIO()
        book.write(csv_line(CODEBOOK_COLUMNS, window.zone))
        for row in codebook_rows():
            book.write(csv_line(row, window.zone))
        zf.writestr("codebook.csv", book.getvalue().encode())
        zf.writestr("README.txt", readme(run, community, datetime.now(UTC)).encode())
    return run


async def zip_chunks(
    window: Window,
    community: str | None,
    on_done: Callable[[Run, bool], Awaitable[Any]],
    chunk: int = 256 * 1024,
) -> AsyncIterator[bytes]:
    """The zip, built in a temporary file (in memory up to 16 MiB) and then sent in chunks;
    ``on_done(run, complete)`` is awaited at the end, also when the client goes away."""
    run: Run | None = None
    complete = False
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        try:
            run = await build(spool, window, community)
            spool.seek(0)
            while data := spool.read(chunk):
                yield data
            complete = True
        finally:
            await on_done(run or Run(window), complete)


def total_rows(run: Run) -> int:
    return sum(run.counts.values())


async def cli_export(args: Any, zone: tzinfo) -> None:
    """``peerlog export research --from D --to D [--community CODE] --output FILE.zip``."""
    from server.console import UserError

    try:
        window, community = await filters_from_args(args.community, args.since, args.until, zone)
    except ExportError as exc:
        raise UserError(str(exc)) from None
    if not args.output and sys.stdout.isatty():
        raise UserError("the research export is a zip file: name it with --output FILE.zip")
    run: Run | None = None

    async def done(finished: Run, complete: bool) -> None:
        nonlocal run
        run = finished
        await audit_export(
            None,
            "research",
            window,
            total_rows(finished),
            complete=complete,
            source="cli",
            community_code=community,
            tables=finished.counts,
        )

    await write_output(args.output, zip_chunks(window, community, done))
    if args.output and run is not None:
        counts = ", ".join(f"{n} {name}" for name, n in run.counts.items())
        print(f"wrote {args.output}: {counts}", file=sys.stderr)
