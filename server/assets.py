"""Static assets under ``/static/`` with content-hashed URLs.

At start every file in ``pwa/static`` is read once. ``static_url("js/today.js")`` returns
``/static/js/today.js?v=<hash>``; a URL carrying its current hash is cached for a year (it can never
change), anything else must be revalidated. ES modules import each other by relative paths, which a
query string cannot follow, so relative ``import … from "./x.js"`` specifiers are rewritten in memory
to ``./x.js?v=<hash of x>`` and a module's hash covers the modules it imports: changing ``db.js``
gives every screen that imports it a new URL too. This is a rewrite at start, not a build step: the
files on disk are what you edit and what the browser runs.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from server.auth.session import public

STATIC_DIR = Path(__file__).resolve().parent.parent / "pwa" / "static"
_IMPORT = re.compile(
    r"""(\bimport\s*(?:[^'"();]*?\bfrom\s*)?|\bexport\s+[^'"();]*?\bfrom\s*|\bimport\()\s*(["'])(\.{1,2}/[^"'?]+\.js)\2"""
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    digest: str


_assets: dict[str, Asset] = {}


def _rules_module() -> bytes:
    import json

    from sync import entities

    return (
        "// Made by the server from sync/entities (entities.catalogue): the field rules the\n"
        "// server checks pushes with, for the phone's forms. Not a file on disk: do not copy it.\n"
        f"export default {json.dumps(entities.catalogue(), ensure_ascii=False, sort_keys=True)};\n"
    ).encode()


# Assets made at start rather than read from ``pwa/static``; hashed, served and precached like
# the files (``js/rules.js`` is under ``js/``, so the service worker stores it at install).
GENERATED: dict[str, Callable[[], bytes]] = {"js/rules.js": _rules_module}


def _media_type(path: str) -> str:
    if path.endswith(".js"):
        return "text/javascript; charset=utf-8"
    if path.endswith(".css"):
        return "text/css; charset=utf-8"
    if path.endswith(".webmanifest"):
        return "application/manifest+json"
    guessed = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _resolve(from_path: str, spec: str) -> str:
    parts = from_path.split("/")[:-1]
    for piece in spec.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def load(root: Path = STATIC_DIR) -> dict[str, Asset]:
    """Read and hash every static file (called when the app is built)."""
    raw = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }
    raw.update({path: make() for path, make in GENERATED.items()})
    done: dict[str, Asset] = {}

    def build(path: str, stack: tuple[str, ...] = ()) -> Asset:
        if path in done:
            return done[path]
        body = raw[path]
        if path.endswith(".js"):
            text = body.decode("utf-8")

            def pin(m: re.Match[str]) -> str:
                target = _resolve(path, m.group(3))
                if target not in raw or target in stack:
                    return m.group(0)
                dep = build(target, (*stack, path))
                return f"{m.group(1)}{m.group(2)}{m.group(3)}?v={dep.digest}{m.group(2)}"

            body = _IMPORT.sub(pin, text).encode("utf-8")
        asset = Asset(
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            media_type=_media_type(path),
            digest=hashlib.sha256(body).hexdigest()[:12],
        )
        done[path] = asset
        return asset

    for path in raw:
        build(path)
    return done


def assets() -> dict[str, Asset]:
    if not _assets:
        _assets.update(load())
    return _assets


def static_url(path: str) -> str:
    """The URL templates use for a static file: ``/static/<path>?v=<content hash>``."""
    path = path.lstrip("/")
    asset = assets().get(path)
    return f"/static/{path}?v={asset.digest}" if asset else f"/static/{path}"


def fingerprint(paths: list[str]) -> str:
    """One hash over several assets (the service worker's cache version uses it)."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.encode())
        h.update(assets()[path].digest.encode())
    return h.hexdigest()[:12]


def respond(request: Request[Any, Any, Any], asset: Asset, cache_control: str) -> Response[bytes]:
    headers = {
        "cache-control": cache_control,
        "etag": f'"{asset.digest}"',
        "vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == f'"{asset.digest}"':
        return Response(b"", status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "") and len(asset.gzipped) < len(body):
        body = asset.gzipped
        headers["content-encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


@get(
    "/static/{path:path}",
    opt={**public(), "cacheable": True},
    include_in_schema=False,
    sync_to_thread=False,
)
def serve_static(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
    asset = assets().get(path.lstrip("/"))
    if asset is None:
        raise NotFoundException("No such file.")
    pinned = request.query_params.get("v") == asset.digest
    return respond(request, asset, "public, max-age=31536000, immutable" if pinned else "no-cache")


@get(
    "/favicon.ico",
    opt={**public(), "cacheable": True},
    include_in_schema=False,
    sync_to_thread=False,
)
def serve_favicon(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Browsers ask for ``/favicon.ico`` on every page that names no icon (staff, sign-in)."""
    return respond(request, assets()["icons/favicon.ico"], "public, max-age=86400")


def router() -> Any:
    _assets.clear()  # re-read at every app start: a restart picks up edited files
    assets()
    return serve_static


def install(environment: Any) -> None:
    environment.globals["static_url"] = static_url
