"""What travels on the wire: the push and pull bodies (msgspec structs) and, per entity, the
fields a mutation may set and the fields each role may read.

The structs forbid unknown keys at the envelope level (a typo in ``base_version`` must not
silently become 0). The per-entity ``fields`` object is a plain mapping here and is checked
field by field in ``sync.validate``, so that one bad field rejects one mutation, not the batch.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgspec

SCHEMA_VERSION = 1

ENTITIES = ("participant", "contact", "group_meeting")
# Read-only on the wire: pulled so the phone can show a meeting's attendance checklist.
READ_ONLY_ENTITIES = ("group",)

# Entity → fields a mutation may set (SPEC 3, "Wire fields"), in the order they are listed.
WRITABLE: dict[str, tuple[str, ...]] = {
    "participant": (
        "code",
        "full_name",
        "sex",
        "birth_year",
        "phone",
        "address",
        "committee_id",
        "group_id",
        "peer_leader_id",
        "enrolled_on",
        "consent_on",
        "status",
        "conditions",
        "hba1c_baseline",
        "hba1c_baseline_on",
        "hba1c",
        "hba1c_on",
        "bp_systolic",
        "bp_diastolic",
        "bp_on",
        "weight_kg",
        "weight_on",
        "needs_visit",
        "needs_visit_reason",
        "notes",
    ),
    "contact": (
        "participant_id",
        "occurred_at",
        "mode",
        "duration_min",
        "functions",
        "topics",
        "referral",
        "referral_reason",
        "referral_to",
        "glucose_mmol",
        "bp_systolic",
        "bp_diastolic",
        "weight_kg",
        "follow_up_on",
        "note",
        "voided",
        "void_reason",
    ),
    "group_meeting": (
        "group_id",
        "occurred_at",
        "place",
        "topic",
        "co_leader",
        "attendee_ids",
        "note",
        "voided",
        "void_reason",
    ),
}

# Fields the server maintains and sends, but no mutation may set.
SERVER_SET: dict[str, tuple[str, ...]] = {
    "participant": ("community_id", "last_contact_at", "next_follow_up_on"),
    "contact": ("peer_leader_id", "community_id", "meeting_id"),
    "group_meeting": ("peer_leader_id", "community_id"),
    "group": ("name", "community_id", "committee_id", "leader_id", "co_leader_id"),
}

# Everything a full reader (peer leader in scope, coordinator, admin) receives.
READABLE: dict[str, tuple[str, ...]] = {
    entity: WRITABLE.get(entity, ()) + SERVER_SET[entity]
    for entity in ("participant", "contact", "group_meeting", "group")
}

# A volunteer's roster: no clinical values, no notes, no contacts or meetings at all.
ROSTER_FIELDS: tuple[str, ...] = (
    "code",
    "full_name",
    "sex",
    "phone",
    "address",
    "committee_id",
    "group_id",
    "peer_leader_id",
    "status",
    "needs_visit",
    "needs_visit_reason",
    "last_contact_at",
    "next_follow_up_on",
)


# --- push ---------------------------------------------------------------------------------------


class MutationIn(msgspec.Struct, forbid_unknown_fields=True):
    mutation_id: int
    entity: str
    id: uuid.UUID
    fields: dict[str, Any]
    base_version: int = 0
    client_time: str | None = None


class PushRequest(msgspec.Struct, forbid_unknown_fields=True):
    device_id: uuid.UUID
    mutations: list[MutationIn]
    schema_version: int = SCHEMA_VERSION


class MutationResult(msgspec.Struct, omit_defaults=True):
    mutation_id: int
    id: str
    status: str
    version: int | None = None
    conflict_id: str | None = None
    errors: dict[str, list[str]] | None = None
    # Set only when the answer comes from the mutation log: the mutation was processed before.
    duplicate: bool = False


class PushResponse(msgspec.Struct):
    last_mutation_id: int
    results: list[MutationResult]


# --- pull ---------------------------------------------------------------------------------------


class Change(msgspec.Struct):
    entity: str
    id: str
    version: int
    fields: dict[str, Any]


class PullResponse(msgspec.Struct):
    changes: list[Change]
    cursor: str
    has_more: bool
    total_estimate: int


class ResyncResponse(msgspec.Struct):
    resync: bool = True


class MalformedBody(ValueError):
    """The push body is not a push request; the message names where and why (no values)."""


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)

_push_decoder = msgspec.json.Decoder(PushRequest)


def decode_push(body: bytes) -> PushRequest:
    """Decode a push body or raise ``MalformedBody`` with a message such as
    ``mutations[3].mutation_id: expected int, got str``."""
    try:
        request = _push_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise MalformedBody(_describe(str(exc))) from None
    except msgspec.DecodeError:
        raise MalformedBody("body: not valid JSON") from None
    if request.schema_version != SCHEMA_VERSION:
        raise MalformedBody(
            f"schema_version: this server speaks version {SCHEMA_VERSION}, got {request.schema_version}"
        )
    return request


def _describe(message: str) -> str:
    match = _AT.match(message)
    assert match is not None
    text, path = match.group("msg"), (match.group("path") or "").lstrip(".")
    # msgspec quotes the offending key for unknown/missing fields: keep the key, never a value.
    text = text.replace("`", "")
    if text.startswith("Object contains unknown field "):
        key = text[len("Object contains unknown field ") :]
        return f"{_join(path, key)}: unknown field"
    if text.startswith("Object missing required field "):
        key = text[len("Object missing required field ") :]
        return f"{_join(path, key)}: required"
    return f"{path or 'body'}: {text[:1].lower()}{text[1:]}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
