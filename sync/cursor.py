"""The pull cursor: opaque to the phone, base64 of (change sequence, scope, resync token, database
generation).

It never holds a timestamp: records written in the same millisecond have distinct sequence
numbers, so paging neither skips nor repeats them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import msgspec

VERSION = 2
# Cursors made before the generation was part of them: read as the database's first generation.
VERSION_WITHOUT_GENERATION = 1


class BadCursor(ValueError):
    """The cursor was not made by this server (or was damaged on the way)."""


@dataclass(frozen=True)
class Cursor:
    seq: int
    scope: str
    token: int
    # ``sync.restore``: a new one each time the database is restored from a copy.
    generation: str = ""


# Before any change: rows written without a sequence number (seq 0) are still sent.
START = -1


def encode(cursor: Cursor) -> str:
    raw = msgspec.json.encode([VERSION, cursor.seq, cursor.scope, cursor.token, cursor.generation])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        parts = msgspec.json.decode(raw, type=list[int | str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise _damaged() from None
    version = parts[0] if parts else None
    if version not in (VERSION, VERSION_WITHOUT_GENERATION):
        if isinstance(version, int):
            raise BadCursor(
                "cursor: made by another version of the server; start again without one"
            )
        raise _damaged()
    if version == VERSION_WITHOUT_GENERATION:
        parts.append("")
    kinds = [type(p) for p in parts]
    if kinds != [int, int, str, int, str]:
        raise _damaged()
    _version, seq, scope, token, generation = parts
    return Cursor(seq=int(seq), scope=str(scope), token=int(token), generation=str(generation))


def _damaged() -> BadCursor:
    return BadCursor("cursor: not a cursor this server made; start again without one")
