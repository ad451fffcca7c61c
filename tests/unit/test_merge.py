"""The three-way merge: only a field changed on both sides to different values conflicts."""

from __future__ import annotations

from sync.merge import APPLIED, CONFLICT, MERGED, FieldConflict, changed_since, merge


def test_a_new_record_is_applied_whole() -> None:
    decision = merge(
        base_version=0, current_version=0, current=None, proposed={"a": 1}, changed_since_base={}
    )
    assert (decision.status, decision.write, decision.conflicts) == (APPLIED, {"a": 1}, {})


def test_an_edit_from_the_current_version_is_applied_whatever_it_changes() -> None:
    decision = merge(
        base_version=3,
        current_version=3,
        current={"a": 1, "b": 2},
        proposed={"a": 5, "b": 6},
        changed_since_base={"a": 0},
    )
    assert decision.status == APPLIED
    assert decision.write == {"a": 5, "b": 6}


def test_a_stale_edit_of_untouched_fields_is_merged() -> None:
    decision = merge(
        base_version=1,
        current_version=2,
        current={"phone": "new", "address": "old"},
        proposed={"address": "moved"},
        changed_since_base={"phone": "old"},
    )
    assert decision.status == MERGED
    assert decision.write == {"address": "moved"}


def test_the_same_field_changed_on_both_sides_is_a_conflict_and_the_rest_is_written() -> None:
    decision = merge(
        base_version=1,
        current_version=2,
        current={"phone": "server", "address": "a"},
        proposed={"phone": "device", "address": "b"},
        changed_since_base={"phone": "base"},
    )
    assert decision.status == CONFLICT
    assert decision.write == {"address": "b"}
    assert decision.conflicts == {
        "phone": FieldConflict(base="base", server="server", device="device")
    }


def test_both_sides_reaching_the_same_value_is_not_a_conflict() -> None:
    decision = merge(
        base_version=1,
        current_version=2,
        current={"phone": "same"},
        proposed={"phone": "same"},
        changed_since_base={"phone": "base"},
    )
    assert decision.status == MERGED and decision.conflicts == {} and decision.write == {}


def test_a_device_resending_its_base_value_does_not_undo_a_newer_server_value() -> None:
    decision = merge(
        base_version=1,
        current_version=2,
        current={"phone": "server"},
        proposed={"phone": "base"},
        changed_since_base={"phone": "base"},
    )
    assert decision.status == MERGED and decision.write == {} and decision.conflicts == {}


def test_changed_since_takes_the_value_at_the_base_from_the_first_later_change() -> None:
    history = [
        (3, {"phone": ["v2", "v3"]}),
        (1, {"phone": [None, "v1"], "name": [None, "n"]}),
        (2, {"phone": ["v1", "v2"], "address": ["a1", "a2"]}),
    ]
    assert changed_since(history, 1) == {"phone": "v1", "address": "a1"}
    assert changed_since(history, 3) == {}
    # Versions without history (records made before the log existed) are simply absent.
    assert changed_since([], 1) == {}
