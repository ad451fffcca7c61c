"""``POST /api/sync/push`` and ``GET /api/sync/pull``: thin HTTP over ``sync.engine``.

The push body is declared as ``sync.wire.PushRequest`` (so the OpenAPI document describes it)
and decoded by ``PushBody``, a DTO that hands the raw bytes to ``sync.wire.decode_push``: the
size limit is checked before any decoding, the types are strict (``"5"`` is no mutation id) and
a malformed body gets a message naming the place, e.g. ``mutations[3].mutation_id: expected
int, got str``. The answers are the wire structs too.

A rejected mutation's ``errors`` (field → messages, SPEC 3) are written in the request's
language (``server.i18n.language_of``: the ``lang`` cookie, else ``Accept-Language``, else
zh-CN; the phone's fetches carry both, so they match the language of its pages). Replays
(``duplicate``) are rendered in the language of the request that asks again: the mutation log
keeps each message's English text and its template. Only rejected results are touched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Generator
from typing import Any

import msgspec
from litestar import MediaType, Response, Router, get, post
from litestar.background_tasks import BackgroundTask
from litestar.dto import AbstractDTO
from litestar.dto.data_structures import DTOFieldDefinition
from litestar.exceptions import ClientException, PermissionDeniedException
from litestar.openapi.spec import Reference, Schema
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK
from litestar.typing import FieldDefinition

from server.auth.invites import device_notice
from server.auth.session import roles
from server.deps import AppSettings, CurrentUser, Req
from server.errors import http_error, request_id
from server.i18n import language_of, localize_errors
from server.settings import Settings
from sync import engine, outbox
from sync.wire import (
    MalformedBody,
    PullResponse,
    PushRequest,
    PushResponse,
    ResyncResponse,
    decode_push,
    errors_json,
)

log = logging.getLogger("peerlog.sync")
NO_STORE = {"cache-control": "no-store"}
NOTICE_HEADER = "x-peerlog-notice"


class ConflictStatuses(msgspec.Struct):
    """``GET /api/sync/conflicts``: conflict id → ``open``, ``resolved`` or ``dismissed``."""

    conflicts: dict[str, str]


class RefusedPush(ClientException):
    """A push body refused before the handler runs: its answer still keeps the phone's outbox
    report (``refused_push`` below)."""


class PushBody(AbstractDTO[PushRequest]):
    """The push body: the raw bytes, size-checked, through ``decode_push`` (strict types,
    messages naming the place). Litestar reads the body (the route's ``request_max_body_size``
    bounds it); the OpenAPI schema is ``PushRequest``'s own."""

    def decode_bytes(self, value: bytes) -> PushRequest:
        try:
            return decode_push(value)
        except MalformedBody as exc:
            raise _invalid(str(exc), RefusedPush) from None

    def decode_builtins(self, value: dict[str, Any]) -> PushRequest:
        return decode_push(msgspec.json.encode(value))

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        return None

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Reference | Schema:
        schema: Reference | Schema = schema_creator.for_field_definition(
            FieldDefinition.from_annotation(PushRequest)
        )
        return schema

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False


def refused_push(request: Req, exc: ClientException) -> Response[Any]:
    """A push refused as a whole (a 413, or a 422 from ``PushBody``), keeping the phone's
    outbox report after the answer (the handler, which would have kept it, may never have run)."""
    response = http_error(request, exc)
    response.background = BackgroundTask(
        _remember, request, outbox.parse(request.headers.get(outbox.HEADER))
    )
    return response


def _too_large(what: str, kind: type[ClientException] = ClientException) -> ClientException:
    return kind(status_code=413, detail=what, extra={"error": "too_large"})


def _invalid(message: str, kind: type[ClientException] = ClientException) -> ClientException:
    return kind(status_code=422, detail=message, extra={"error": "invalid"})


def _localized(response: PushResponse, lang: str) -> PushResponse:
    # Also makes the messages plain ``str`` for the encoder; valid results have no errors. The
    # templates go along, for a phone that later switches language.
    for result in response.results:
        if result.errors:
            result.templates = errors_json(result.errors)
            result.errors = localize_errors(lang, result.errors)
    return response


@post(
    "/push",
    status_code=HTTP_200_OK,
    dto=PushBody,
    return_dto=None,
    exception_handlers={RefusedPush: refused_push, 413: refused_push},
    too_large="A push may be at most {limit} bytes; send the queue in smaller batches.",
)
async def push(
    request: Req, user: CurrentUser, settings: AppSettings, data: JSONBody[PushRequest]
) -> Response[PushResponse]:
    report = outbox.parse(request.headers.get(outbox.HEADER))
    batch = data
    if len(batch.mutations) > settings.max_push_mutations:
        raise _too_large(
            f"A push may hold at most {settings.max_push_mutations} mutations; "
            f"this one has {len(batch.mutations)}. Send the queue in smaller batches."
        )
    try:
        response = await engine.push(user, batch, request_id=request_id(request), outbox=report)
    except engine.DeviceForbidden as exc:
        raise PermissionDeniedException(
            detail=str(exc), extra={"error": "device_revoked"}
        ) from None
    except engine.MutationGap as exc:
        await _remember(request, report)
        raise ClientException(
            status_code=409,
            detail=str(exc),
            extra={"error": "mutation_gap", "last_mutation_id": exc.last},
        ) from None
    except Exception:
        # A batch the server fails on keeps failing: that phone above all must show as at risk.
        await _remember(request, report)
        raise
    lang = language_of(request)
    headers = {**NO_STORE, "content-language": lang, "vary": "Cookie, Accept-Language"}
    return Response(_localized(response, lang), media_type=MediaType.JSON, headers=headers)


@get("/pull")
async def pull(
    request: Req,
    user: CurrentUser,
    settings: AppSettings,
    cursor: str | None = None,
    limit: str | None = None,
) -> Response[PullResponse | ResyncResponse]:
    size = engine.DEFAULT_LIMIT
    if limit is not None:
        # ASCII digits only: "4²" and "٣" pass ``str.isdigit`` but not ``int``.
        if not (limit.isascii() and limit.isdigit()) or int(limit) < 1:
            raise _invalid("limit: must be a whole number from 1 to 1000")
        size = min(int(limit), engine.MAX_LIMIT)
    device = request.auth.device_id
    try:
        page = await engine.pull(
            user,
            cursor or None,
            size,
            device_id=str(device) if device else None,
            request_id=request_id(request),
            outbox=outbox.parse(request.headers.get(outbox.HEADER)),
        )
    except engine.BadCursor as exc:
        raise _invalid(str(exc)) from None
    # Every sync ends with a pull: the place to tell the phone what its user must know.
    notice = await device_notice(str(device), settings) if device else None
    headers = {**NO_STORE, NOTICE_HEADER: notice} if notice else NO_STORE
    return Response(page, media_type=MediaType.JSON, headers=headers)


async def _remember(request: Req, report: outbox.OutboxReport | None) -> None:
    """A push refused before its transaction still leaves the phone's report on its row (the
    device the session names: the body may not be readable). A failing write must not turn
    the refusal into a 5xx."""
    device, user = request.auth.device_id, request.user
    if report is None or device is None or user is None:
        return
    try:
        await outbox.remember(device, user.id, report)
    except Exception:  # the answer the phone needs is the refusal itself
        log.warning("push: the outbox report could not be kept", exc_info=True)


@get("/conflicts")
async def conflicts(user: CurrentUser, id: list[str] | None = None) -> Response[ConflictStatuses]:
    """``?id=…&id=…``: the status of conflicts the signed-in user's pushes opened, as
    ``{"conflicts": {id: "open" | "resolved" | "dismissed"}}``; unknown ids and other users'
    are left out. (An addition to SPEC 3, for the phone's "needs attention".)"""
    wanted: list[uuid.UUID] = []
    for value in id or []:
        try:
            wanted.append(uuid.UUID(value))
        except ValueError:
            raise _invalid(f"id: {value[:40]!r} is not a conflict id (UUID)") from None
    if len(wanted) > engine.MAX_CONFLICT_IDS:
        raise _invalid(f"id: at most {engine.MAX_CONFLICT_IDS} at a time")
    statuses = await engine.conflict_statuses(user, wanted)
    return Response(ConflictStatuses(statuses), media_type=MediaType.JSON, headers=NO_STORE)


def router(settings: Settings) -> Router:
    """The sync API: any signed-in role (each push and pull is scoped by the engine), in the
    published contract; a push body may be at most ``max_push_bytes``."""
    return Router(
        "/api/sync",
        route_handlers=[push, pull, conflicts],
        opt=roles(),
        tags=["sync"],
        request_max_body_size=settings.max_push_bytes,
    )
