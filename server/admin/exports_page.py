"""``/admin/exports``: the evaluation CSVs, streamed and audited."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Stream, Template

from server import exports
from server.admin.common import communities_for, community_scope, page, parse_date
from server.admin.writes import request_id
from server.auth.session import get_auth
from server.deps import AppSettings, CurrentUser, Req
from sync.models import Community


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
    """``/admin/exports/contacts.csv?community=…&since=…&until=…`` (and participants, meetings)."""
    spec = exports.KINDS.get(filename.removesuffix(".csv"))
    if spec is None:
        raise NotFoundException("No such export.")
    q = request.query_params
    community_id = community_scope(user, q.get("community"))
    community = await Community.get_or_none(id=community_id) if community_id else None
    f = exports.ExportFilters(
        community_id,
        parse_date(q.get("since")),
        parse_date(q.get("until")),
        zone=settings.zone,
    )
    rid, device = request_id(request), get_auth(request).device_id

    async def done(count: int, complete: bool) -> None:
        await exports.audit_export(
            user,
            spec.name,
            f,
            count,
            complete=complete,
            source="web",
            request_id=rid,
            device_id=device,
            community_code=community.code if community else None,
        )

    parts = [spec.name, community.code if community else "all"]
    if f.since:
        parts.append(f.since.isoformat())
    if f.until:
        parts.append(f.until.isoformat())
    return Stream(
        exports.csv_chunks(spec, f, done),
        # Litestar adds the charset of a text/* type itself: naming it here said it twice.
        media_type="text/csv",
        headers={
            "content-disposition": exports.attachment(f"peerlog-{'-'.join(parts)}.csv"),
            "cache-control": "no-store",
        },
    )


ROUTES = [exports_page, export_csv]
