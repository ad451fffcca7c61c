"""Audit events for sign-in: ids, actions and reason codes only, never names or health data."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection

from sync.models import AuditEvent, User


async def record(
    action: str,
    *,
    actor: User | None = None,
    connection: ASGIConnection[Any, Any, Any, Any] | None = None,
    device_id: uuid.UUID | None = None,
    entity: str | None = None,
    record_id: str | None = None,
    **detail: Any,
) -> AuditEvent:
    request_id = None
    if connection is not None:
        request_id = connection.scope.get("state", {}).get("request_id")
        auth = connection.scope.get("auth")
        if device_id is None and auth is not None:
            device_id = auth.device_id
    return await AuditEvent.create(
        actor=actor,
        device_id=device_id,
        action=action,
        entity=entity,
        record_id=record_id,
        request_id=request_id,
        detail=detail,
    )
