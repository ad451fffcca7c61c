"""A participant's baseline, latest and follow-up values come from their measurement rows by
the rules of SPEC 2: voided rows never count, a clinic value is the baseline when there is one,
a "latest" dated before the baseline never counts, and the follow-up is read within a window the
evaluator chooses (3–9 months after the baseline by default)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.models import Marker
from sync.outcomes import (
    DEFAULT_WINDOW,
    Reading,
    Window,
    add_months,
    baseline,
    change,
    contact_reading_id,
    contact_reading_key,
    contact_readings,
    follow_up,
    latest,
    local_day,
    participant_columns,
    participant_reading_id,
    too_early,
)

H = Marker.HBA1C.value
D0 = date(2026, 3, 10)


def r(
    value: float,
    on: date,
    source: str = "clinic",
    *,
    voided: bool = False,
    order: int = 0,
    marker: str = H,
) -> Reading:
    return Reading(marker, value, on, source, voided, order)


def test_the_earliest_clinic_value_is_the_baseline_even_after_a_self_report() -> None:
    rows = [r(7.9, D0, "self_report", order=1), r(9.1, D0 + timedelta(days=5), order=2)]
    assert baseline(rows, H) == rows[1]


def test_without_a_clinic_value_the_earliest_value_is_the_baseline() -> None:
    rows = [
        r(8.0, D0 + timedelta(days=9), "self_report", order=2),
        r(8.4, D0, "self_report", order=1),
    ]
    assert baseline(rows, H) == rows[1]


def test_a_voided_row_never_counts() -> None:
    rows = [
        r(12.0, D0 - timedelta(days=30), voided=True),
        r(9.0, D0),
        r(7.0, D0 + timedelta(days=200), voided=True),
    ]
    assert baseline(rows, H) == rows[1]
    assert latest(rows, H) == rows[1]
    assert follow_up(rows, H) is None
    assert baseline([rows[0]], H) is None


def test_a_latest_dated_before_the_baseline_never_counts() -> None:
    """The evaluator's case: a "latest" three months before the baseline moved a figure."""
    rows = [r(9.4, D0), r(8.2, D0 - timedelta(days=90), "self_report")]
    assert baseline(rows, H) == rows[0]
    assert latest(rows, H) == rows[0]
    assert change(rows, H) is None
    columns = participant_columns(rows)
    assert (columns["hba1c_baseline"], columns["hba1c_baseline_on"]) == (9.4, D0)
    assert columns["hba1c"] is None and columns["hba1c_on"] is None


def test_the_follow_up_is_the_newest_value_within_the_window() -> None:
    rows = [
        r(9.0, D0, order=1),
        r(8.8, add_months(D0, 3) - timedelta(days=1), order=2),  # too early
        r(8.5, add_months(D0, 3), order=3),  # first day in
        r(8.3, add_months(D0, 9), order=4),  # last day in
        r(8.0, add_months(D0, 9) + timedelta(days=1), order=5),  # too late
    ]
    assert follow_up(rows, H) == rows[3]
    assert change(rows, H) == pytest.approx(-0.7)
    assert latest(rows, H) == rows[4]
    # The evaluator's own window, and a date filter's end.
    assert follow_up(rows, H, window=Window(0, 3)) == rows[2]
    assert follow_up(rows, H, until=add_months(D0, 9) - timedelta(days=1)) == rows[2]
    assert latest(rows, H, until=D0) == rows[0]
    assert follow_up(rows, H, window=Window(10, 12)) is None


def test_rows_of_the_same_day_are_taken_in_the_order_they_were_written() -> None:
    rows = [r(8.1, D0, order=7), r(8.6, D0, order=3)]
    assert baseline(rows, H) == rows[1]
    assert latest(rows, H) == rows[0]


def test_a_window_must_run_forwards() -> None:
    with pytest.raises(ValueError):
        Window(6, 3)
    with pytest.raises(ValueError):
        Window(-1, 3)
    assert DEFAULT_WINDOW.bounds(date(2026, 5, 31)) == (date(2026, 8, 31), date(2027, 2, 28))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2026, 12, 1), 0, date(2026, 12, 1)),
    ],
)
def test_months_are_calendar_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_participant_columns_are_derived_from_the_rows() -> None:
    bp = Marker.BP_SYSTOLIC.value, Marker.BP_DIASTOLIC.value
    rows = [
        r(9.1, D0, order=1),
        r(8.4, D0 + timedelta(days=120), order=2),
        r(150, D0, marker=bp[0], order=3),
        r(95, D0, marker=bp[1], order=4),
        r(138, D0 + timedelta(days=60), "self_report", marker=bp[0], order=5),
        r(86, D0 + timedelta(days=60), "self_report", marker=bp[1], order=6),
        r(70.5, D0, marker=Marker.WEIGHT.value, order=7),
        r(5.6, D0 + timedelta(days=100), "self_report", marker=Marker.GLUCOSE.value, order=8),
    ]
    assert participant_columns(rows) == {
        "hba1c_baseline": 9.1,
        "hba1c_baseline_on": D0,
        "hba1c": 8.4,
        "hba1c_on": D0 + timedelta(days=120),
        "bp_systolic": 138,
        "bp_diastolic": 86,
        "bp_on": D0 + timedelta(days=60),
        "weight_kg": 70.5,
        "weight_on": D0,
    }
    # One HbA1c: a baseline, and no latest yet (as the column always was).
    only = participant_columns(rows[:1])
    assert only["hba1c_baseline"] == 9.1 and only["hba1c"] is None
    # Half a blood pressure on the newest day: the other half is not taken from another day.
    half = participant_columns([*rows[2:4], r(160, D0 + timedelta(days=9), marker=bp[0], order=9)])
    assert (half["bp_systolic"], half["bp_diastolic"], half["bp_on"]) == (
        160,
        None,
        D0 + timedelta(days=9),
    )
    assert participant_columns([]) == dict.fromkeys(participant_columns([]))


def test_a_measurement_long_before_enrolment_is_too_early() -> None:
    enrolled = date(2026, 6, 1)
    assert not too_early(enrolled - timedelta(days=90), enrolled)
    assert too_early(enrolled - timedelta(days=91), enrolled)
    assert not too_early(date(2000, 1, 1), None)


def test_a_contact_reports_each_value_as_its_own_reading() -> None:
    contact = {"glucose_mmol": 7.2, "bp_systolic": 142, "bp_diastolic": None, "weight_kg": 0.0}
    assert contact_readings(contact) == [
        ("glucose_mmol", Marker.GLUCOSE, 7.2),
        ("bp_systolic", Marker.BP_SYSTOLIC, 142),
        ("weight_kg", Marker.WEIGHT, 0.0),
    ]


def test_derived_row_ids_depend_only_on_their_source() -> None:
    contact = uuid.UUID("00000000-0000-4000-8000-000000000001")
    assert contact_reading_id(contact, "glucose") == contact_reading_id(str(contact), "glucose")
    assert contact_reading_id(contact, "glucose") != contact_reading_id(contact, "weight")
    assert participant_reading_id(contact, "hba1c", 3) != participant_reading_id(
        contact, "hba1c", 4
    )


@given(st.uuids(), st.sampled_from([m.value for m in Marker]))
def test_the_push_makes_the_same_reading_ids_as_uuid5(contact: uuid.UUID, marker: str) -> None:
    assert contact_reading_key(str(contact), marker) == str(contact_reading_id(contact, marker))
    assert participant_reading_id(contact, "hba1c", 3) != participant_reading_id(
        contact, "hba1c_baseline", 3
    )


def test_a_contact_late_in_the_evening_is_dated_by_the_program_s_day() -> None:
    evening = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)  # 01:30 on the 21st in Shanghai
    assert local_day(evening, ZoneInfo("Asia/Shanghai")) == date(2026, 11, 21)
    assert local_day(evening, ZoneInfo("UTC")) == date(2026, 11, 20)


# --- properties ------------------------------------------------------------------------------------

readings = st.lists(
    st.builds(
        Reading,
        marker=st.just(H),
        value=st.floats(3, 20, allow_nan=False),
        measured_on=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
        source=st.sampled_from(["clinic", "self_report"]),
        voided=st.booleans(),
        order=st.integers(0, 10**6),
    ),
    max_size=12,
    unique_by=lambda x: x.order,  # the change sequence never repeats
)
windows = st.tuples(st.integers(0, 12), st.integers(0, 12)).map(lambda t: Window(min(t), max(t)))


def _key(x: Reading) -> tuple[date, int]:
    return (x.measured_on, x.order)


@given(
    rows=readings,
    window=windows,
    until=st.none() | st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    seed=st.integers(),
)
def test_the_rules_hold_for_any_rows(
    rows: list[Reading], window: Window, until: date | None, seed: int
) -> None:
    counted = [x for x in rows if not x.voided]
    first = baseline(rows, H)
    last = latest(rows, H, until=until)
    later = follow_up(rows, H, window=window, until=until)
    if not counted:
        assert first is last is later is None
        return
    assert first is not None and not first.voided
    clinic = [x for x in counted if x.source == "clinic"]
    pool = clinic or counted
    assert first.source == ("clinic" if clinic else first.source)
    assert all(_key(first) <= _key(x) for x in pool)
    # A latest is never before the baseline nor after ``until``, and nothing counted is newer.
    if last is not None:
        assert not last.voided and last.measured_on >= first.measured_on
        assert until is None or last.measured_on <= until
        assert all(
            _key(x) <= _key(last)
            for x in counted
            if x.measured_on >= first.measured_on and (until is None or x.measured_on <= until)
        )
    start, end = window.bounds(first.measured_on)
    if later is not None:
        assert not later.voided and later is not first
        assert start <= later.measured_on <= end and (until is None or later.measured_on <= until)
        assert change(rows, H, window=window, until=until) == later.value - first.value
    else:
        assert change(rows, H, window=window, until=until) is None
    # The order the rows arrive in changes nothing.
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    assert baseline(shuffled, H) == first
    assert latest(shuffled, H, until=until) == last
    assert follow_up(shuffled, H, window=window, until=until) == later
    columns = participant_columns(rows)
    assert columns["hba1c_baseline_on"] == first.measured_on
    assert columns["hba1c_on"] is None or columns["hba1c_on"] >= columns["hba1c_baseline_on"]


@given(day=st.dates(date(2000, 1, 1), date(2090, 12, 31)), months=st.integers(0, 120))
def test_adding_months_keeps_the_day_or_the_month_s_last(day: date, months: int) -> None:
    later = add_months(day, months)
    assert (later.year - day.year) * 12 + later.month - day.month == months
    assert later.day == day.day or (later.day < day.day and (later + timedelta(days=1)).day == 1)
