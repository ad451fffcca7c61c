"""``/admin/exports``: the evaluation CSVs and the research zip, streamed and audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Stream, Template

from server import exports, research
from server.admin.common import communities_for, community_scope, page, parse_date
from server.admin.writes import request_id
from server.auth.session import get_auth
from server.deps import AppSettings, CurrentUser, Req
from server.settings import Settings
from sync.models import Community, User


@get("/admin/exports", name="admin-exports")
async def exports_page(request: Req, user: CurrentUser, settings: AppSettings) -> Template:
    return await page(
        request,
        "admin/exports.html",
        {
            "communities": await communities_for(user),
            "kinds": exports.KINDS,
            "timezone": settings.timezone,
            # How an instant cell looks: now, to the second, with the program's offset.
            "instant_example": datetime.now(UTC)
            .astimezone(settings.zone)
            .isoformat(timespec="seconds"),
        },
        section="exports",
    )


@get("/admin/exports/{filename:str}", name="admin-export-csv")
async def export_csv(
    request: Req,
    user: CurrentUser,
    settings: AppSettings,
    filename: FromPath[str],
) -> Stream:
    """``/admin/exports/contacts.csv?community=…&since=…&until=…`` (and the other kinds)."""
    spec = exports.KINDS.get(filename.removesuffix(".csv"))
    if spec is None:
        raise NotFoundException("No such export.")
    f, community = await _filters(request, user, settings)
    audit = _auditor(request, user, spec.name, f, community)

    async def done(count: int, complete: bool) -> None:
        await audit(count, complete, None)

    return _download(
        exports.csv_chunks(spec, f, done),
        # Litestar adds the charset of a text/* type itself: naming it here said it twice.
        "text/csv",
        exports.export_filename(spec.name, community.code if community else None, f, "csv"),
    )


@get("/admin/exports/research.zip", name="admin-export-research")
async def export_research(request: Req, user: CurrentUser, settings: AppSettings) -> Stream:
    """The pseudonymised research export (``server.research``): one zip, audited."""
    f, community = await _filters(request, user, settings)
    audit = _auditor(request, user, "research", f, community)

    async def done(run: research.Run, complete: bool) -> None:
        await audit(research.total_rows(run), complete, run.counts)

    code = community.code if community else None
    return _download(
        research.zip_chunks(f, code, done),
        "application/zip",
        exports.export_filename("research", code, f, "zip"),
    )


async def _filters(
    request: Req, user: User, settings: Settings
) -> tuple[exports.ExportFilters, Community | None]:
    """The query's filters, the community pinned to a coordinator's own."""
    q = request.query_params
    community_id = community_scope(user, q.get("community"))
    community = await Community.get_or_none(id=community_id) if community_id else None
    f = exports.ExportFilters(
        community_id,
        parse_date(q.get("since")),
        parse_date(q.get("until")),
        zone=settings.zone,
    )
    return f, community


def _auditor(
    request: Req, user: User, kind: str, f: exports.ExportFilters, community: Community | None
) -> Any:
    rid, device = request_id(request), get_auth(request).device_id

    async def audit(count: int, complete: bool, tables: dict[str, int] | None) -> None:
        await exports.audit_export(
            user,
            kind,
            f,
            count,
            complete=complete,
            source="web",
            request_id=rid,
            device_id=device,
            community_code=community.code if community else None,
            tables=tables,
        )

    return audit


def _download(chunks: Any, media_type: str, filename: str) -> Stream:
    return Stream(
        chunks,
        media_type=media_type,
        headers={
            "content-disposition": exports.attachment(filename),
            "cache-control": "no-store",
        },
    )


# The research zip before the CSVs' catch-all path.
ROUTES = [exports_page, export_research, export_csv]
