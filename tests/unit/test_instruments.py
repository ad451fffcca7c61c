"""Instruments are data, and an assessment's score is computed from its answers by the
instrument's rule: every item answered with a whole number within the scale."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.instruments import (
    BUILT_IN,
    DDS2,
    NEIGHBOURHOOD_SUPPORT,
    AnswerProblem,
    answer_problems,
    definition_problems,
    instrument_errors,
    item_ids,
    score,
)


def test_the_built_in_instruments_are_complete_in_both_languages() -> None:
    for slug, definition in BUILT_IN.items():
        assert definition_problems(definition) == [], slug
        for item in definition["items"]:
            assert item["text"]["zh-CN"] != item["text"]["en"]
        labels = definition["scale"]["labels"]
        low, high = definition["scale"]["min"], definition["scale"]["max"]
        assert sorted(labels, key=int) == [str(v) for v in range(low, high + 1)]


def test_dds2_is_two_items_on_a_six_point_scale_with_a_cutoff_of_three() -> None:
    assert item_ids(DDS2) == ["dds2_1", "dds2_2"]
    assert (DDS2["scale"]["min"], DDS2["scale"]["max"], DDS2["scoring"]) == (1, 6, "mean")
    assert DDS2["cutoff"]["value"] == 3
    assert DDS2["items"][0]["text"]["en"] == (
        "Feeling overwhelmed by the demands of living with diabetes"
    )
    assert (
        DDS2["items"][1]["text"]["en"] == "Feeling that I am often failing with my diabetes routine"
    )
    assert DDS2["scale"]["labels"]["6"]["en"] == "A very serious problem"


@pytest.mark.parametrize(
    ("answers", "expected", "at_cutoff"),
    [
        ({"dds2_1": 1, "dds2_2": 1}, 1.0, False),
        ({"dds2_1": 2, "dds2_2": 3}, 2.5, False),
        ({"dds2_1": 3, "dds2_2": 3}, 3.0, True),  # the cut-off itself is "moderate or more"
        ({"dds2_1": 6, "dds2_2": 5}, 5.5, True),
    ],
)
def test_dds2_scores_the_mean_and_marks_the_cutoff(
    answers: dict[str, int], expected: float, at_cutoff: bool
) -> None:
    scored = score(DDS2, answers)
    assert scored.score == expected
    assert scored.at_cutoff is at_cutoff


def test_neighbourhood_support_has_no_cutoff() -> None:
    scored = score(NEIGHBOURHOOD_SUPPORT, {"nbs_1": 4, "nbs_2": 5, "nbs_3": 2})
    assert scored.score == 11 / 3
    assert scored.at_cutoff is None


@pytest.mark.parametrize(
    ("answers", "problems"),
    [
        ({"dds2_1": 3}, {"dds2_2": AnswerProblem.MISSING}),
        ({"dds2_1": 3, "dds2_2": None}, {"dds2_2": AnswerProblem.MISSING}),
        ({"dds2_1": 3, "dds2_2": 2.5}, {"dds2_2": AnswerProblem.NOT_WHOLE}),
        ({"dds2_1": 3, "dds2_2": 2.0}, {"dds2_2": AnswerProblem.NOT_WHOLE}),
        ({"dds2_1": True, "dds2_2": 2}, {"dds2_1": AnswerProblem.NOT_WHOLE}),
        ({"dds2_1": "3", "dds2_2": 2}, {"dds2_1": AnswerProblem.NOT_WHOLE}),
        (
            {"dds2_1": 0, "dds2_2": 7},
            {"dds2_1": AnswerProblem.OUT_OF_SCALE, "dds2_2": AnswerProblem.OUT_OF_SCALE},
        ),
        ({"dds2_1": 3, "dds2_2": 2, "dds2_3": 1}, {"dds2_3": AnswerProblem.UNKNOWN}),
        ({}, {"dds2_1": AnswerProblem.MISSING, "dds2_2": AnswerProblem.MISSING}),
    ],
)
def test_each_unscorable_answer_is_named_with_its_problem(
    answers: dict[str, Any], problems: dict[str, AnswerProblem]
) -> None:
    assert answer_problems(DDS2, answers) == problems
    with pytest.raises(ValueError):
        score(DDS2, answers)


def test_a_sum_rule_and_a_fractional_cutoff_are_compared_exactly() -> None:
    three = copy.deepcopy(NEIGHBOURHOOD_SUPPORT)
    three["cutoff"] = {"value": 2.67, "label": {"zh-CN": "高", "en": "high"}}
    # 8/3 = 2.666… is below 2.67 however the float rounds.
    assert score(three, {"nbs_1": 3, "nbs_2": 3, "nbs_3": 2}).at_cutoff is False
    three["scoring"] = "sum"
    three["cutoff"]["value"] = 8
    assert score(three, {"nbs_1": 3, "nbs_2": 3, "nbs_3": 2}).score == 8.0
    assert score(three, {"nbs_1": 3, "nbs_2": 3, "nbs_3": 2}).at_cutoff is True


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d.pop("title"), "title", "needs its wording in zh-CN and en"),
        (lambda d: d["title"].pop("en"), "title", "needs its wording in zh-CN and en"),
        (lambda d: d.__setitem__("items", []), "items", "is required"),
        (
            lambda d: d["items"][1].__setitem__("id", "dds2_1"),
            "items.2.id",
            "is the id of another item",
        ),
        (
            lambda d: d["items"][0]["text"].__setitem__("zh-CN", ""),
            "items.1.text",
            "needs its wording in zh-CN and en",
        ),
        (
            lambda d: d["items"][0]["text"].__setitem__("en", "a\x00b"),
            "items.1.text.en",
            "must not contain control characters (such as NUL) or bidirectional overrides",
        ),
        (
            lambda d: d["items"][0].__setitem__("txt", {}),
            "items.1.txt",
            "unknown field for instrument",
        ),
        (lambda d: d["scale"].__setitem__("max", 1), "scale.max", "must be more than scale.min"),
        (
            lambda d: d["scale"].__setitem__("max", 20),
            "scale.max",
            "the scale may have at most 11 answers",
        ),
        (lambda d: d["scale"].__setitem__("min", 1.5), "scale.min", "must be a whole number"),
        (
            lambda d: d["scale"]["labels"].__setitem__("7", {"zh-CN": "七", "en": "seven"}),
            "scale.labels.7",
            "must be one of the scale's answers",
        ),
        (lambda d: d.__setitem__("scoring", "median"), "scoring", "must be one of mean, sum"),
        (lambda d: d["cutoff"].pop("label"), "cutoff.label", "needs its wording in zh-CN and en"),
        (lambda d: d["cutoff"].__setitem__("value", "3"), "cutoff.value", "must be a number"),
        (lambda d: d.__setitem__("id", "DDS 2"), "id", "must be a lower-case word (a-z, 0-9, _)"),
        (lambda d: d.__setitem__("id", "x" * 33), "id", "must be at most 32 characters"),
        (lambda d: d.__setitem__("socring", "mean"), "socring", "unknown field for instrument"),
    ],
)
def test_a_program_instrument_is_refused_field_by_field(
    change: Any, field: str, message: str
) -> None:
    data = {"id": "dds2_copy", **copy.deepcopy(DDS2)}
    change(data)
    _, _, errors = instrument_errors(data)
    assert list(errors) == [field]
    assert [str(m) for m in errors[field]] == [message]


def test_a_good_definition_has_no_errors_and_loses_its_id() -> None:
    slug, definition, errors = instrument_errors({"id": "phq2", **copy.deepcopy(DDS2)})
    assert (slug, errors) == ("phq2", {})
    assert definition == DDS2
    assert instrument_errors([1, 2])[2] == {"definition": ["must be an object"]}


scales = st.tuples(st.integers(-3, 5), st.integers(1, 9)).map(lambda t: (t[0], t[0] + t[1]))


@given(
    scale=scales,
    n_items=st.integers(1, 8),
    rule=st.sampled_from(["mean", "sum"]),
    data=st.data(),
)
def test_any_complete_answers_score_as_an_independent_computation(
    scale: tuple[int, int], n_items: int, rule: str, data: st.DataObject
) -> None:
    low, high = scale
    # A cut-off as a person writes it (a whole number or a half or quarter: exact in binary).
    per = n_items if rule == "sum" else 1
    quarters = data.draw(st.integers(4 * low * per, 4 * high * per))
    cutoff = quarters / 4
    definition = {
        "title": {"zh-CN": "测", "en": "T"},
        "items": [{"id": f"i{n}", "text": {"zh-CN": "问", "en": "Q"}} for n in range(n_items)],
        "scale": {"min": low, "max": high},
        "scoring": rule,
        "cutoff": {"value": cutoff, "label": {"zh-CN": "高", "en": "high"}},
    }
    values = data.draw(st.lists(st.integers(low, high), min_size=n_items, max_size=n_items))
    answers = {f"i{n}": v for n, v in enumerate(values)}
    assert answer_problems(definition, answers) == {}
    scored = score(definition, answers)
    expected = sum(values) / len(values) if rule == "mean" else float(sum(values))
    assert scored.score == expected
    assert (
        (low if rule == "mean" else low * n_items)
        <= scored.score
        <= (high if rule == "mean" else high * n_items)
    )
    # At the cut-off exactly when the total reaches it, compared in integers.
    assert scored.at_cutoff is (4 * sum(values) >= quarters * (1 if rule == "sum" else n_items))
    # Leaving out any one answer makes it unscorable, naming that item.
    gone = data.draw(st.sampled_from(sorted(answers)))
    partial = {k: v for k, v in answers.items() if k != gone}
    assert answer_problems(definition, partial) == {gone: AnswerProblem.MISSING}
