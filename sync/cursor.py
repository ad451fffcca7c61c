"""The pull cursor: opaque to the phone, base64 of (change sequence, scope, resync token).

It never holds a timestamp: records written in the same millisecond have distinct sequence
numbers, so paging neither skips nor repeats them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import msgspec

VERSION = 1


class BadCursor(ValueError):
    """The cursor was not made by this server (or was damaged on the way)."""


@dataclass(frozen=True)
class Cursor:
    seq: int
    scope: str
    token: int


# Before any change: rows written without a sequence number (seq 0) are still sent.
START = -1


def encode(cursor: Cursor) -> str:
    raw = msgspec.json.encode([VERSION, cursor.seq, cursor.scope, cursor.token])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        version, seq, scope, token = msgspec.json.decode(raw, type=tuple[int, int, str, int])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BadCursor("cursor: not a cursor this server made; start again without one") from None
    if version != VERSION:
        raise BadCursor("cursor: made by another version of the server; start again without one")
    return Cursor(seq=seq, scope=scope, token=token)
