"""Questionnaires as data (SPEC 2, "Assessment"), and how an assessment's answers are scored.
Pure: no database, no HTTP.

An instrument's ``definition`` (the ``instrument`` table's JSON, pulled by phones as is)::

    {"title": {"zh-CN": …, "en": …},
     "prompt": {"zh-CN": …, "en": …},                  # optional: said before the items
     "items": [{"id": "dds2_1", "text": {"zh-CN": …, "en": …}}, …],
     "scale": {"min": 1, "max": 6, "labels": {"1": {"zh-CN": …, "en": …}, …}},
     "scoring": "mean" | "sum",
     "cutoff": {"value": 3, "label": {"zh-CN": …, "en": …}}}   # optional: score ≥ value

Every item must be answered with a whole number within the scale; the score is the mean or the
sum of the answers. The built-in definitions below are written into the database by migration
0010; changing one later takes a migration that updates the row and raises its ``version``
(phones and past assessments hold the old wording meanwhile).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

Definition = Mapping[str, Any]


class AnswerProblem(StrEnum):
    """Why one item's answer cannot be scored (the entity module turns these into messages)."""

    MISSING = "missing"  # an item of the instrument was not answered
    UNKNOWN = "unknown"  # an answer to an item the instrument does not have
    NOT_WHOLE = "not_whole"  # not a whole number
    OUT_OF_SCALE = "out_of_scale"  # below the scale's min or above its max


@dataclass(frozen=True)
class Scored:
    score: float
    # Whether the score is at or above the instrument's cut-off; None when it has none.
    at_cutoff: bool | None


def item_ids(definition: Definition) -> list[str]:
    return [str(item["id"]) for item in definition["items"]]


def answer_problems(definition: Definition, answers: Mapping[str, Any]) -> dict[str, AnswerProblem]:
    """Item id → what is wrong with its answer; empty when every item has a scorable answer."""
    low, high = definition["scale"]["min"], definition["scale"]["max"]
    ids = item_ids(definition)
    problems: dict[str, AnswerProblem] = {}
    for item in ids:
        value = answers.get(item)
        if value is None:
            problems[item] = AnswerProblem.MISSING
        elif isinstance(value, bool) or not isinstance(value, int):
            # JSON has one number type: 2.0 is refused like 2.5, since a phone that sends
            # a fraction for a tapped button has a bug worth seeing.
            problems[item] = AnswerProblem.NOT_WHOLE
        elif not low <= value <= high:
            problems[item] = AnswerProblem.OUT_OF_SCALE
    for item in answers:
        if item not in ids:
            problems[str(item)] = AnswerProblem.UNKNOWN
    return problems


def score(definition: Definition, answers: Mapping[str, int]) -> Scored:
    """The instrument's score for complete, valid answers (``answer_problems`` is empty).

    The cut-off is compared exactly (a mean of 8/3 is below a cut-off of 2.67 whatever the
    float's last digit), and the score is the correctly rounded float of the exact value, so
    ``sum(answers) / len(answers)`` computed anywhere else gives the same number."""
    problems = answer_problems(definition, answers)
    if problems:
        raise ValueError(f"answers cannot be scored: {sorted(problems)}")
    values = [answers[item] for item in item_ids(definition)]
    rule = definition["scoring"]
    if rule == "mean":
        exact = Fraction(sum(values), len(values))
    elif rule == "sum":
        exact = Fraction(sum(values))
    else:
        raise ValueError(f"unknown scoring rule {rule!r}")
    cutoff = definition.get("cutoff")
    at_cutoff = None if cutoff is None else exact >= Fraction(str(cutoff["value"]))
    return Scored(float(exact), at_cutoff)


def definition_problems(definition: Any) -> list[str]:
    """What is wrong with a definition a program wants to add (empty when it can be used)."""
    if not isinstance(definition, Mapping):
        return ["the definition must be an object"]
    out: list[str] = []
    for key in ("title", "items", "scale", "scoring"):
        if key not in definition:
            out.append(f"{key} is missing")
    if out:
        return out
    if not _bilingual(definition["title"]):
        out.append("title needs zh-CN and en")
    items = definition["items"]
    if not isinstance(items, list) or not items:
        out.append("items must be a non-empty list")
    else:
        ids = [item.get("id") if isinstance(item, Mapping) else None for item in items]
        if any(not isinstance(i, str) or not i for i in ids) or len(set(ids)) != len(ids):
            out.append("every item needs its own id")
        if not all(isinstance(item, Mapping) and _bilingual(item.get("text")) for item in items):
            out.append("every item's text needs zh-CN and en")
    scale = definition["scale"]
    low = scale.get("min") if isinstance(scale, Mapping) else None
    high = scale.get("max") if isinstance(scale, Mapping) else None
    if not (isinstance(low, int) and isinstance(high, int) and low < high):
        out.append("scale needs whole numbers min < max")
    if definition["scoring"] not in ("mean", "sum"):
        out.append("scoring must be mean or sum")
    cutoff = definition.get("cutoff")
    if cutoff is not None and not (
        isinstance(cutoff, Mapping)
        and isinstance(cutoff.get("value"), int | float)
        and _bilingual(cutoff.get("label"))
    ):
        out.append("cutoff needs a value and a label in zh-CN and en")
    return out


def _bilingual(text: Any) -> bool:
    return isinstance(text, Mapping) and all(
        isinstance(text.get(lang), str) and text[lang] for lang in ("zh-CN", "en")
    )


def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en": en}


# The two-item Diabetes Distress Scale (Fisher et al., Ann Fam Med 2008;6:246): items 1 and 11
# of the DDS17, the DDS17's six-point problem scale, mean score, ≥ 3 = moderate distress or
# more. The Chinese wording follows the DDS17's item and scale wording; a program with the
# validated Chinese DDS at hand can replace it by a migration.
DDS2: dict[str, Any] = {
    "title": _t("糖尿病痛苦筛查（DDS-2）", "Diabetes distress screen (DDS-2)"),
    "prompt": _t(
        "过去一个月里，下面每一项让您感到困扰或苦恼的程度有多大？",
        "During the past month, how much has each of the following bothered or distressed you?",
    ),
    "items": [
        {
            "id": "dds2_1",
            "text": _t(
                "觉得糖尿病生活中的种种要求让我喘不过气来",
                "Feeling overwhelmed by the demands of living with diabetes",
            ),
        },
        {
            "id": "dds2_2",
            "text": _t(
                "觉得自己在糖尿病日常管理上常常做不好",
                "Feeling that I am often failing with my diabetes routine",
            ),
        },
    ],
    "scale": {
        "min": 1,
        "max": 6,
        "labels": {
            "1": _t("不是问题", "Not a problem"),
            "2": _t("轻微的问题", "A slight problem"),
            "3": _t("中等程度的问题", "A moderate problem"),
            "4": _t("有些严重的问题", "Somewhat serious problem"),
            "5": _t("严重的问题", "A serious problem"),
            "6": _t("非常严重的问题", "A very serious problem"),
        },
    },
    "scoring": "mean",
    "cutoff": {"value": 3, "label": _t("中度及以上痛苦", "Moderate distress or more")},
}

# A short neighbourhood-support item set (the Shanghai papers report neighbourhood support
# beside distress): three statements, a five-point agreement scale, mean score, no cut-off.
NEIGHBOURHOOD_SUPPORT: dict[str, Any] = {
    "title": _t("邻里支持", "Neighbourhood support"),
    "prompt": _t("您在多大程度上同意下面的说法？", "How much do you agree with each statement?"),
    "items": [
        {
            "id": "nbs_1",
            "text": _t(
                "我住的小区里，邻居们愿意互相帮助",
                "People in my neighbourhood are willing to help one another",
            ),
        },
        {
            "id": "nbs_2",
            "text": _t(
                "在控制糖尿病上需要帮助时，附近有人可以依靠",
                "When I need help with my diabetes, there is someone nearby I can count on",
            ),
        },
        {
            "id": "nbs_3",
            "text": _t(
                "居委会或邻居帮我参加有益健康的活动",
                "My residential committee or neighbours help me take part in healthy activities",
            ),
        },
    ],
    "scale": {
        "min": 1,
        "max": 5,
        "labels": {
            "1": _t("非常不同意", "Strongly disagree"),
            "2": _t("不同意", "Disagree"),
            "3": _t("说不清", "Neither agree nor disagree"),
            "4": _t("同意", "Agree"),
            "5": _t("非常同意", "Strongly agree"),
        },
    },
    "scoring": "mean",
}

# Instrument id → definition, as migration 0010 writes them.
BUILT_IN: dict[str, dict[str, Any]] = {"dds2": DDS2, "nbsupport": NEIGHBOURHOOD_SUPPORT}
