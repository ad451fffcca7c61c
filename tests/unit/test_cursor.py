"""The pull cursor is opaque, round-trips, and refuses what this server did not make."""

from __future__ import annotations

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
