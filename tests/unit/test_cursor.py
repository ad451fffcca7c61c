"""The pull cursor is opaque, round-trips with its database generation, reads the format from
before generations, and refuses what this server did not make."""

from __future__ import annotations

import base64

import msgspec
import pytest

from sync import cursor


def test_a_cursor_round_trips_without_any_timestamp() -> None:
    made = cursor.Cursor(seq=12345, scope="peer_leader:c:-", token=3)
    text = cursor.encode(made)
    assert cursor.decode(text) == made
    assert "12345" not in text  # opaque to the phone


@pytest.mark.parametrize(
    "text", ["", "not base64!", "bm90IGpzb24", cursor.encode(cursor.Cursor(1, "x", 1))[:-3]]
)
def test_a_damaged_cursor_is_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(cursor.BadCursor, match="cursor: "):
        cursor.decode(text)


def test_a_cursor_carries_the_database_generation() -> None:
    made = cursor.Cursor(seq=7, scope="admin:-:-", token=0, generation="5c1f0e6a-restored")
    assert cursor.decode(cursor.encode(made)).generation == "5c1f0e6a-restored"


def test_a_cursor_from_before_generations_reads_as_the_first_generation() -> None:
    old = base64.urlsafe_b64encode(msgspec.json.encode([1, 42, "admin:-:-", 3])).decode()
    assert cursor.decode(old.rstrip("=")) == cursor.Cursor(42, "admin:-:-", 3, generation="")


@pytest.mark.parametrize(
    "parts",
    [[2, 1, "x", 1], [2, 1, "x", 1, 5], [1, "1", "x", 1], [2, 1, "x", 1, "g", "extra"], []],
)
def test_a_cursor_of_the_wrong_shape_is_refused(parts: list[object]) -> None:
    text = base64.urlsafe_b64encode(msgspec.json.encode(parts)).decode()
    with pytest.raises(cursor.BadCursor, match="not a cursor this server made"):
        cursor.decode(text)


def test_a_cursor_of_a_later_format_says_so() -> None:
    text = base64.urlsafe_b64encode(msgspec.json.encode([3, 1, "x", 1, "g", 0])).decode()
    with pytest.raises(cursor.BadCursor, match="another version of the server"):
        cursor.decode(text)
