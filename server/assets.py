"""Static assets under ``/static/`` (owned by the PWA issue: content-hashed names come here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).resolve().parent.parent / "pwa" / "static"


def static_url(path: str) -> str:
    """The URL templates use for a static file."""
    return f"/static/{path.lstrip('/')}"


def router() -> Any:
    return create_static_files_router(path="/static", directories=[STATIC_DIR], opt={"public": True},
                                      include_in_schema=False)


def install(environment: Any) -> None:
    environment.globals["static_url"] = static_url
