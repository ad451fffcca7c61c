"""The audit log page: filters by user, action, record and date; pages; coordinators see their
community's people only; and nothing anywhere can change an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from litestar import Litestar

from server.settings import Settings
from sync.models import AuditEvent, Role
from tests import factories


async def test_filters_and_pages(client: httpx.AsyncClient, settings: Settings) -> None:
    community = await factories.community()
    ana = await factories.user(Role.PEER_LEADER, community=community, username="ana")
    bo = await factories.user(Role.PEER_LEADER, community=community, username="bo")
    admin = await factories.user(Role.ADMIN)
    for i in range(60):
        await AuditEvent.create(
            actor=ana, action="sync.push", entity="contact", record_id=f"rec-{i}"
        )
    await AuditEvent.create(actor=bo, action="export", entity="contacts", detail={"rows": 3})
    old = await AuditEvent.create(actor=bo, action="signin", detail={})
    await AuditEvent.filter(id=old.id).update(at=datetime.now(UTC) - timedelta(days=40))
    await factories.sign_in(client, admin, settings)

    def rows(html: str) -> int:
        return (
            html.split('id="audit"', 1)[1]
            .split("<tbody>", 1)[1]
            .split("</tbody>", 1)[0]
            .count("<tr>")
        )

    first = (await client.get("/admin/audit")).text
    assert rows(first) == 50 and "page=2" in first
    second = (await client.get("/admin/audit?page=2")).text
    assert rows(second) == 12 and "page=3" not in second
    assert rows((await client.get("/admin/audit?user=bo")).text) == 2
    assert rows((await client.get("/admin/audit?action=export")).text) == 1
    assert rows((await client.get("/admin/audit?record=rec-7")).text) == 1
    since = (datetime.now(UTC) - timedelta(days=1)).date()
    assert rows((await client.get(f"/admin/audit?user=bo&since={since}")).text) == 1
    until = (datetime.now(UTC) - timedelta(days=30)).date()
    assert rows((await client.get(f"/admin/audit?until={until}")).text) == 1


async def test_a_coordinator_sees_their_community_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    mine, theirs = await factories.community(), await factories.community()
    local = await factories.user(Role.PEER_LEADER, community=mine, username="local_leader")
    remote = await factories.user(Role.PEER_LEADER, community=theirs, username="remote_leader")
    await AuditEvent.create(actor=local, action="sync.push")
    await AuditEvent.create(actor=remote, action="sync.push")
    await factories.sign_in(
        client, await factories.user(Role.COORDINATOR, community=mine), settings
    )
    table = (await client.get("/admin/audit")).text.split('id="audit"', 1)[1]
    assert "local_leader" in table and "remote_leader" not in table


async def test_no_route_edits_or_deletes_an_audit_event(app: Litestar, db: str) -> None:
    """Append-only: no handler anywhere answers an unsafe method on an audit path, and no
    handler's name suggests editing the log."""
    for route in app.routes:
        methods = set(getattr(route, "methods", ()))
        if "audit" in route.path:
            assert not methods & {"POST", "PUT", "PATCH", "DELETE"}, route.path
        for handler in getattr(route, "route_handlers", []):
            name = getattr(handler, "handler_name", "") or ""
            assert not ("audit" in name and any(w in name for w in ("delete", "edit", "update"))), (
                name
            )
