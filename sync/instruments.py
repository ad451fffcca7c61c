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
(phones and past assessments hold the old wording meanwhile). A program adds its own
(``engine.add_instrument``: ``peerlog instrument add``, ``/admin/instruments``) once
``instrument_errors`` finds nothing wrong with it; its file holds the definition and its ``id``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sync.validate import (
    NOT_LIST,
    NOT_NUMBER,
    NOT_OPTION,
    NOT_WHOLE,
    NOT_WORD,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    UNKNOWN_FIELD,
    Invalid,
    clean_text,
    printable,
)
from sync.wire import Message, Template, template

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


# --- a program's own instrument (``engine.add_instrument``) -------------------------------------

# What an instrument a program adds may hold: the phone draws one button per answer of the
# scale, one fieldset per item, on a 360-pixel screen.
MAX_ITEMS = 50
MAX_ANSWERS = 11
MAX_TEXT = 500
ID_LENGTH = 32  # the ``instrument`` table's key
LANGUAGES = ("zh-CN", "en")
SCORING = ("mean", "sum")

NOT_OBJECT = template("must be an object")
BOTH_LANGUAGES = template("needs its wording in zh-CN and en")
NOT_ABOVE_MIN = template("must be more than scale.min")
SCALE_TOO_LONG = template("the scale may have at most %(max)s answers")
ITEM_ID_AGAIN = template("is the id of another item")
NOT_ON_THE_SCALE = template("must be one of the scale's answers")
INSTRUMENT_TAKEN = template("is already used by another questionnaire")

# A definition's keys, and those of its parts (anything else is refused: a typo would be lost).
_KEYS = {
    "": ("id", "title", "prompt", "items", "scale", "scoring", "cutoff"),
    "scale": ("min", "max", "labels"),
    "cutoff": ("value", "label"),
    "item": ("id", "text"),
}


def instrument_errors(data: Any) -> tuple[str, dict[str, Any], dict[str, list[Message]]]:
    """Check an instrument a program wants to add, as its JSON file holds it: ``id`` (a
    lower-case word) and the definition's keys (the shape above). Returns the id, the
    definition (without ``id``) and the messages by field, a field being a path such as
    ``items.2.text`` (items are counted from 1) or ``scale.labels.4``; none when it can be used."""
    errors: dict[str, list[Message]] = {}

    def bad(name: str, message: Template, **params: Any) -> None:
        errors.setdefault(name, []).append(Message(message, **params))

    if not isinstance(data, Mapping):
        bad("definition", NOT_OBJECT)
        return "", {}, errors
    _unknown(data, "", "", bad)
    slug = data.get("id")
    if slug in (None, ""):
        bad("id", REQUIRED)
    elif not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        bad("id", NOT_WORD)
    elif len(slug) > ID_LENGTH:
        bad("id", TOO_LONG, max=ID_LENGTH)
    _bilingual_text(data, "title", "title", bad, required=True)
    _bilingual_text(data, "prompt", "prompt", bad, required=False)
    items = data.get("items")
    if items in (None, []):
        bad("items", REQUIRED)
    elif not isinstance(items, list):
        bad("items", NOT_LIST)
    elif len(items) > MAX_ITEMS:
        bad("items", TOO_MANY, max=MAX_ITEMS)
    else:
        seen: set[str] = set()
        for n, item in enumerate(items, start=1):
            where = f"items.{n}"
            if not isinstance(item, Mapping):
                bad(where, NOT_OBJECT)
                continue
            _unknown(item, "item", where + ".", bad)
            item_id = item.get("id")
            if item_id in (None, ""):
                bad(f"{where}.id", REQUIRED)
            elif not isinstance(item_id, str) or not _SLUG.fullmatch(item_id):
                bad(f"{where}.id", NOT_WORD)
            elif item_id in seen:
                bad(f"{where}.id", ITEM_ID_AGAIN)
            else:
                seen.add(item_id)
            _bilingual_text(item, "text", f"{where}.text", bad, required=True)
    _scale(data.get("scale"), bad)
    scoring = data.get("scoring")
    if scoring in (None, ""):
        bad("scoring", REQUIRED)
    elif scoring not in SCORING:
        bad("scoring", NOT_OPTION, options=SCORING)
    cutoff = data.get("cutoff")
    if cutoff is not None:
        if not isinstance(cutoff, Mapping):
            bad("cutoff", NOT_OBJECT)
        else:
            _unknown(cutoff, "cutoff", "cutoff.", bad)
            value = cutoff.get("value")
            if value is None:
                bad("cutoff.value", REQUIRED)
            elif isinstance(value, bool) or not isinstance(value, int | float):
                bad("cutoff.value", NOT_NUMBER)
            _bilingual_text(cutoff, "label", "cutoff.label", bad, required=True)
    definition = {k: v for k, v in data.items() if k != "id"}
    return (slug if isinstance(slug, str) else ""), definition, errors


def definition_problems(definition: Any) -> list[str]:
    """The fields of ``definition`` (an instrument without its ``id``) that cannot be used."""
    data = {**definition, "id": "x"} if isinstance(definition, Mapping) else definition
    return sorted(instrument_errors(data)[2])


_SLUG = re.compile(r"[a-z0-9_]+")
Bad = Callable[..., None]


def _unknown(part: Mapping[str, Any], kind: str, prefix: str, bad: Bad) -> None:
    for key in part:
        if key not in _KEYS[kind]:
            bad(prefix + printable(str(key)), UNKNOWN_FIELD, entity="instrument")


def _bilingual_text(
    part: Mapping[str, Any], key: str, name: str, bad: Bad, *, required: bool
) -> None:
    text = part.get(key)
    if text is None and not required:
        return
    if not isinstance(text, Mapping) or not all(
        isinstance(text.get(lang), str) and text[lang].strip() for lang in LANGUAGES
    ):
        bad(name, BOTH_LANGUAGES)
        return
    for lang in LANGUAGES:
        try:
            clean_text(text[lang])
        except Invalid as exc:
            bad(f"{name}.{lang}", exc.message.template, **exc.message.params)
            continue
        if len(text[lang]) > MAX_TEXT:
            bad(f"{name}.{lang}", TOO_LONG, max=MAX_TEXT)


def _scale(scale: Any, bad: Bad) -> range | None:
    if scale is None:
        bad("scale", REQUIRED)
        return None
    if not isinstance(scale, Mapping):
        bad("scale", NOT_OBJECT)
        return None
    _unknown(scale, "scale", "scale.", bad)
    ends = []
    for end in ("min", "max"):
        value = scale.get(end)
        if value is None:
            bad(f"scale.{end}", REQUIRED)
        elif isinstance(value, bool) or not isinstance(value, int):
            bad(f"scale.{end}", NOT_WHOLE)
        else:
            ends.append(value)
    if len(ends) < 2:
        return None
    low, high = ends
    if high <= low:
        bad("scale.max", NOT_ABOVE_MIN)
        return None
    if high - low + 1 > MAX_ANSWERS:
        bad("scale.max", SCALE_TOO_LONG, max=MAX_ANSWERS)
        return None
    answers = range(low, high + 1)
    labels = scale.get("labels")
    if labels is None:
        return answers
    if not isinstance(labels, Mapping):
        bad("scale.labels", NOT_OBJECT)
        return answers
    for key in labels:
        name = f"scale.labels.{printable(str(key))}"
        if key not in {str(v) for v in answers}:
            bad(name, NOT_ON_THE_SCALE)
        else:
            _bilingual_text(labels, key, name, bad, required=True)
    return answers


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
