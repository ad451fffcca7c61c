"""The staff pages' only way to change a synced record: the sync engine (SPEC 6, one write path).

Pages never touch participant, contact, meeting or group rows themselves; they call here, and
here calls ``sync.engine``, which versions, merges, opens conflicts, bumps scopes and audits
exactly as it does for a phone's push.
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException

from server.auth.session import current_user


class WriteRefused(Exception):
    """The engine rejected the write; ``errors`` maps field → messages (never values)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def engine() -> Any:
    try:
        return importlib.import_module("sync.engine")
    except ModuleNotFoundError:
        raise HTTPException(
            status_code=503,
            detail="Saving from the staff pages needs the sync engine, which is not installed yet.",
        ) from None


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
) -> Any:
    """Write one record as the signed-in user; raises ``WriteRefused`` when rejected."""
    result = await engine().write(
        current_user(request), entity, record_id, fields, base_version=base_version
    )
    _check(result)
    return result


def _check(result: Any) -> None:
    status = getattr(result, "status", None) or (
        result.get("status") if isinstance(result, dict) else None
    )
    if status == "rejected":
        errors = getattr(result, "errors", None) or (
            result.get("errors") if isinstance(result, dict) else None
        )
        raise WriteRefused(dict(errors or {}))


BATCH = 500


async def write_many(
    request: Request[Any, Any, Any] | None,
    user: Any,
    entity: str,
    items: list[tuple[uuid.UUID, dict[str, Any]]],
) -> list[Any]:
    """Create many records through the engine, ``BATCH`` per transaction, one result per item
    in order. Each record is all or nothing: the engine validates every mutation before it
    writes, and a rejected one writes nothing. If a batch fails as a whole (a database
    constraint, e.g. a code taken meanwhile) it is retried one record at a time, so one bad
    row cannot take its neighbours down with it."""
    from sync import push as sync_push
    from sync.wire import MutationIn

    eng = engine()
    bulk = getattr(eng, "write_many", None)
    actor = await eng.actor_for(user)
    device = eng.server_device_id(user.id)
    rid = request_id(request) if request is not None else None
    results: list[Any] = []
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        if bulk is not None:
            results.extend(await bulk(user, entity, chunk, request_id=rid))
            continue

        def mutations(part: list[tuple[uuid.UUID, dict[str, Any]]]) -> list[Any]:
            return [
                MutationIn(mutation_id=0, entity=entity, id=rec, fields=dict(f), base_version=0)
                for rec, f in part
            ]

        try:
            response = await sync_push.push(
                actor, device, mutations(chunk), request_id=rid, device_label="web", assign_ids=True
            )
            results.extend(response.results)
        except Exception as exc:  # a constraint broke the batch: isolate the row
            if "Integrity" not in type(exc).__name__ and "Unique" not in type(exc).__name__:
                raise
            for one in chunk:
                try:
                    response = await sync_push.push(
                        actor,
                        device,
                        mutations([one]),
                        request_id=rid,
                        device_label="web",
                        assign_ids=True,
                    )
                    results.extend(response.results)
                except Exception as inner:
                    if (
                        "Integrity" not in type(inner).__name__
                        and "Unique" not in type(inner).__name__
                    ):
                        raise
                    results.append(
                        {
                            "status": "rejected",
                            "id": str(one[0]),
                            "errors": {"code": ["is already used"]},
                        }
                    )
    return results
