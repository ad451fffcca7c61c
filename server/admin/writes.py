"""The staff pages' only way to change a synced record: the sync engine (SPEC 6, one write path).

Pages never touch participant, contact, meeting or group rows themselves; they call here, and
here calls ``sync.engine``, which versions, merges, opens conflicts, bumps scopes and audits
exactly as it does for a phone's push.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.exceptions import PermissionDeniedException

from server.auth.session import current_user
from sync import engine
from sync.models import User
from sync.wire import MutationResult


def _revoked() -> PermissionDeniedException:
    # The device that stands for the user's pages (``engine.server_device_id``) was revoked on
    # the devices page: the engine takes no write for it, and the page answers 403, not 500.
    return PermissionDeniedException(
        "The web device of this account was revoked, so changes cannot be saved from here."
    )


class WriteRefused(Exception):
    """The engine rejected the write; ``errors`` maps field → messages (never values)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def request_id(request: Request[Any, Any, Any]) -> str | None:
    rid = request.scope.get("state", {}).get("request_id")
    return str(rid) if rid else None


async def write(
    request: Request[Any, Any, Any],
    entity: str,
    record_id: uuid.UUID,
    fields: dict[str, Any],
    *,
    base_version: int | None = None,
) -> MutationResult:
    """Write one record as the signed-in user; raises ``WriteRefused`` when rejected."""
    try:
        result = await engine.write(
            current_user(request),
            entity,
            record_id,
            fields,
            base_version,
            request_id=request_id(request),
        )
    except engine.DeviceForbidden:
        raise _revoked() from None
    if result.status == "rejected":
        raise WriteRefused(dict(result.errors or {}))
    return result


async def write_many(
    request: Request[Any, Any, Any] | None,
    user: User,
    entity: str,
    items: list[tuple[uuid.UUID, Mapping[str, Any]]],
) -> list[MutationResult]:
    """Create many records as ``user`` (``engine.write_many``), one result per item in order."""
    rid = request_id(request) if request is not None else None
    try:
        return await engine.write_many(user, entity, items, request_id=rid)
    except engine.DeviceForbidden:
        raise _revoked() from None
