"""The audit log page: filters by user, action, record and date; pages; coordinators see their
community's people only; every mutation shows as an event (from its mutation-log row); and
nothing anywhere can change an event."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from litestar import Litestar

from server.settings import Settings
from sync.models import AuditEvent, Conflict, Device, Mutation, Role
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


async def test_every_mutation_is_an_event_merged_by_time_with_the_same_filters_and_pages(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """A mutation's log row is its audit event: the page shows it as ``sync.<status>`` beside
    the ``audit_event`` rows, newest first, through the same filters and pages, and shows the
    names of the fields it wrote, never their values."""
    community, elsewhere = await factories.community(), await factories.community()
    ana = await factories.user(Role.PEER_LEADER, community=community, username="ana")
    bo = await factories.user(Role.PEER_LEADER, community=community, username="bo")
    remote = await factories.user(Role.PEER_LEADER, community=elsewhere, username="far_away")
    phone = await Device.create(id=uuid.uuid4(), user=ana)
    far_phone = await Device.create(id=uuid.uuid4(), user=remote)
    now = datetime.now(UTC)
    secret = "felt dizzy after lunch"

    async def logged(
        device: Device, n: int, at: datetime, status: str = "applied", **extra: Any
    ) -> Mutation:
        m = await Mutation.create(
            device=device,
            mutation_id=n,
            user_id=device.user_id,  # type: ignore[attr-defined]
            entity="contact",
            record_id=uuid.uuid4(),
            version=None if status == "rejected" else 1,
            status=status,
            changes=extra.pop("changes", {"note": [None, secret]}),
            request_id=f"req-{n}",
            **extra,
        )
        await Mutation.filter(id=m.id).update(received_at=at)
        return m

    applied = [await logged(phone, i + 1, now - timedelta(minutes=2 * i)) for i in range(30)]
    for i in range(25):
        event = await AuditEvent.create(actor=bo, action="export", entity="contacts")
        await AuditEvent.filter(id=event.id).update(at=now - timedelta(minutes=2 * i + 1))
    await logged(
        phone,
        31,
        now - timedelta(minutes=100),
        "rejected",
        changes={},
        result={"status": "rejected", "errors": {"glucose_mmol": [f"not a number: {secret}"]}},
    )
    conflict = await Conflict.create(
        entity="contact",
        record_id=uuid.uuid4(),
        base_version=1,
        server_version=2,
        fields_json={"note": {"base": None, "server": "x", "device": secret}},
        user=ana,
    )
    await logged(
        phone,
        32,
        now - timedelta(minutes=101),
        "conflict",
        result={"status": "conflict", "conflict_id": str(conflict.id)},
    )
    await logged(phone, 33, now - timedelta(days=40))
    await logged(far_phone, 1, now - timedelta(minutes=102))
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)

    def table(html: str) -> str:
        return html.split('id="audit"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]

    def actions(html: str) -> list[str]:
        return re.findall(r"<td>(sync\.[a-z]+|export)</td>", table(html))

    first = (await client.get("/admin/audit")).text
    assert len(actions(first)) == 50 and "page=2" in first
    # Newest first across both tables: the mutations and the exports alternate in time.
    assert actions(first)[:10] == ["sync.applied", "export"] * 5
    assert "ana" in table(first) and "contact " + str(applied[0].record_id)[:8] in table(first)
    assert "fields=[&#39;note&#39;]" in table(first) and secret not in first
    second = (await client.get("/admin/audit?page=2")).text
    assert len(actions(second)) == 59 - 50 and "page=3" not in second
    last = ["sync.rejected", "sync.conflict", "sync.applied", "sync.applied"]
    assert actions(second)[-4:] == last
    assert secret not in second

    async def shown(query: str) -> list[str]:
        return actions((await client.get(f"/admin/audit?{query}")).text)

    assert await shown("action=sync.applied") == ["sync.applied"] * 32
    rejected = (await client.get("/admin/audit?action=sync.rejected")).text
    assert actions(rejected) == ["sync.rejected"]
    assert "glucose_mmol" in table(rejected) and secret not in rejected
    clash = (await client.get("/admin/audit?action=sync.conflict")).text
    assert actions(clash) == ["sync.conflict"]
    assert "conflict_fields=[&#39;note&#39;]" in table(clash) and secret not in clash
    assert await shown(f"record={applied[7].record_id}") == ["sync.applied"]
    assert await shown("record=not-a-uuid") == []
    assert await shown("user=bo") == ["export"] * 25
    assert await shown("user=ana&action=export") == []
    since = (now - timedelta(days=1)).date()
    assert len(await shown(f"user=ana&since={since}")) == 32
    until = (now - timedelta(days=30)).date()
    assert await shown(f"until={until}") == ["sync.applied"]
    assert "far_away" in table(second)

    client.cookies.clear()
    await factories.sign_in(
        client, await factories.user(Role.COORDINATOR, community=community), settings
    )
    mine = (await client.get("/admin/audit?page=2")).text
    assert "far_away" not in table(mine) and len(actions(mine)) == 58 - 50


async def test_times_are_in_the_program_time_zone_and_empty_pulls_are_folded_per_device(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    ana = await factories.user(Role.PEER_LEADER, community=community, username="ana")
    phone = await factories.device(ana)
    admin = await factories.user(Role.ADMIN)
    for _ in range(30):
        await AuditEvent.create(
            actor=ana, device_id=phone.id, action="sync.pull", detail={"count": 0, "resync": False}
        )
    full = await AuditEvent.create(
        actor=ana, device_id=phone.id, action="sync.pull", detail={"count": 12, "resync": False}
    )
    signin = await AuditEvent.create(actor=ana, action="signin", detail={})
    at = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    await AuditEvent.filter(id=signin.id).update(at=at)
    await factories.sign_in(client, admin, settings)
    client.cookies.set("lang", "en")
    html = (await client.get("/admin/audit")).text
    listed = html.split('id="audit"', 1)[1].split("</table>", 1)[0]
    assert "When (Asia/Shanghai)" in html
    assert "2026-11-20 09:30:00" in listed and "2026-11-20 01:30:00" not in listed
    # The pull that brought records is listed; the 30 that brought nothing are one line.
    assert listed.count("sync.pull") == 1 and "count=12" in listed
    folded = html.split('id="empty-pulls"', 1)[1].split("</table>", 1)[0]
    assert folded.count("<tr>") == 2  # the header and the phone
    assert "<td>30</td>" in folded and str(phone.id)[:8] in folded
    # Asking for sync.pull lists every one of them.
    every = (await client.get("/admin/audit?action=sync.pull")).text
    assert every.split('id="audit"', 1)[1].count("sync.pull") == 31
    assert full.id
