"""Error responses: a clear JSON message for every 4xx, and nothing internal for a 5xx.

Messages come from our own exceptions, which never carry health data; a 5xx says only that
something went wrong and gives the request id to quote, while the log keeps the exception type.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from sync.validate import FORBIDDEN_IN_TEXT, printable
from sync.wire import _describe as describe_problem

log = logging.getLogger("peerlog.errors")

_CODES = {
    400: "bad_request",
    401: "signed_out",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
}


def request_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def body_limit_of(route_handler: Any) -> tuple[int | None, str]:
    """A route's ``request_max_body_size`` and the 413 message that names it: the route's
    ``opt["too_large"]`` (a template with ``{limit}``) or a plain one."""
    limit: int | None = route_handler.resolve_request_max_body_size()
    template = route_handler.opt.get("too_large", "A request body may be at most {limit} bytes.")
    return limit, template.format(limit=limit)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    body: dict[str, Any] = {"error": _CODES.get(status, "error"), "message": exc.detail}
    if status == 413 and exc.detail == "Request Entity Too Large":
        # Litestar's own refusal of a body over the route's limit: say what the limit is.
        body["message"] = body_limit_of(request.route_handler)[1]
    if isinstance(exc, ValidationException) and exc.extra:
        # Litestar's own validation: keep the field names and reasons, never the values.
        fields = [e for e in exc.extra if isinstance(e, dict)]
        body["fields"] = [{"key": e.get("key"), "message": e.get("message")} for e in fields]
        body["error"] = "invalid"
        in_body = [e for e in fields if e.get("source") == "body"]
        if in_body:
            # A body of the wrong shape: a 422 naming the place, as a malformed push's is.
            status = 422
            body["message"] = "; ".join(_body_problem(e) for e in in_body)
    if isinstance(exc.extra, dict) and "error" in exc.extra:
        body.update(exc.extra)
    body["request_id"] = request_id(request)
    return Response(
        body,
        status_code=status,
        media_type=MediaType.JSON,
        headers={"cache-control": "no-store", **(exc.headers or {})},
    )


def _body_problem(error: dict[str, Any]) -> str:
    """Litestar's report of one wrong body field (``key`` ``data`` is the body itself) in the
    push's words, e.g. ``credential.response: required`` (``sync.wire``'s describer)."""
    key = str(error.get("key") or "data")
    where = "" if key == "data" else key
    return describe_problem(f"{error.get('message', '')} - at `${'.' if where else ''}{where}`")


def where(exc: BaseException, limit: int = 12) -> str:
    """Where an exception was raised, as file:line in function, innermost last, for it and the
    exceptions it was raised from or during; never the messages (they may quote a record)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)[-limit:]
        parts.append(
            f"{type(current).__module__}.{type(current).__qualname__} at "
            + " > ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in frames)
        )
        current = current.__cause__ or current.__context__
    return "; from ".join(parts)


def _short(filename: str) -> str:
    # Paths from the project (or site-packages) on, not the host's folders.
    for marker in ("/site-packages/", "/server/", "/sync/", "/tests/"):
        if marker in filename:
            return marker.strip("/") + "/" + filename.rsplit(marker, 1)[1]
    return filename.rsplit("/", 1)[-1]


async def refuse_control_characters(request: Request[Any, Any, Any]) -> None:
    """No query or path parameter holds a NUL, another control or a bidi override (SPEC 3's
    text rule, for what pages filter by): PostgreSQL would refuse it as a 5xx deep in a query.
    A 400 names the parameter instead."""
    params = [*request.query_params.multi_items(), *request.path_params.items()]
    for name, value in params:
        for text in (name, value):
            if isinstance(text, str) and FORBIDDEN_IN_TEXT.search(text):
                raise HTTPException(
                    status_code=400,
                    detail=f"{printable(str(name))[:40]}: must not contain control characters "
                    "(such as NUL) or bidirectional overrides",
                )


def undecodable_body(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A JSON body Litestar could not decode for a handler: a string that is not UTF-8
    (``UnicodeDecodeError``) or nesting deeper than the decoder goes (``RecursionError``).
    Both come from what the client sent: a 400 that says which, not a 5xx."""
    problem = (
        "a string in it is not valid UTF-8"
        if isinstance(exc, UnicodeDecodeError)
        else "it is nested too deeply"
    )
    return http_error(
        request,
        HTTPException(status_code=400, detail=f"The request body cannot be read: {problem}."),
    )


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The exception's text may quote a record (a participant's name in an integrity error, a
    # value in a parse error): log its type and the code path, file and line, never its message.
    log.error(
        "unhandled %s on %s %s (request %s): %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id(request),
        where(exc),
    )
    return Response(
        {
            "error": "server_error",
            "message": "Something went wrong on the server. Nothing you sent was lost; try again.",
            "request_id": request_id(request),
        },
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type=MediaType.JSON,
        headers={"cache-control": "no-store"},
    )
