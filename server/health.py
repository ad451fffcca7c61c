"""``GET /healthz``: is the process up and does the database answer."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.response import Response
from tortoise import connections

from server.auth.session import public
from sync.db import dialect


@get("/healthz", opt=public())
async def healthz() -> Response[dict[str, Any]]:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:  # the probe must answer, whatever the database says
        return Response({"status": "error", "database": "unreachable"}, status_code=503)
    return Response({"status": "ok", "database": dialect()})


ROUTES = [healthz]
