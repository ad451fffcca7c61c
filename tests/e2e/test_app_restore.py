"""A restore of the server's database from an earlier copy loses nothing a phone was told was
saved (SPEC 3, "Acknowledged means durable, also across a restore"): the real app in Chromium,
the real `peerlog backup` and `peerlog restore` commands on the live server's database."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page

from sync import engine
from sync.models import AuditEvent, Contact, Mutation, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    Program,
    open_synced,
    program,
    sign_in_with_cookie,
    wait_answered,
    wait_controlled,
    wait_ready,
)


async def peerlog(server: LiveServer, *argv: str) -> str:
    """Run the `peerlog` command line on the live server's database, as an operator would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERLOG_")}
    env |= {
        "PEERLOG_DATA_DIR": str(server.settings.data_dir),
        "PEERLOG_DATABASE_URL": server.settings.database_url,
        "PEERLOG_SECRET_KEY": "test-secret",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        *argv,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def log_contacts(page: Page, server: LiveServer, count: int) -> list[str]:
    """Log ``count`` contacts in the app, each until it says "saved"; returns the ids of every
    contact on the phone (the program has no others)."""
    for i in range(count):
        await page.goto(f"{server.url}/contacts/new")
        await wait_ready(page)
        await page.select_option("#participant_id", index=1 + i % 2)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#saved a")
    return list(
        await page.evaluate(
            """() => new Promise((resolve, reject) => {
                const r = indexedDB.open("peerlog");
                r.onsuccess = () => {
                  const q = r.result.transaction("contacts").objectStore("contacts").getAllKeys();
                  q.onsuccess = () => { r.result.close(); resolve(q.result); };
                  q.onerror = reject; };
                r.onerror = reject; })"""
        )
    )


async def sync_now(page: Page) -> None:
    """What the app does on its timer, now."""
    url = await page.evaluate(
        """() => performance.getEntriesByType("resource").map((e) => e.name)
             .find((n) => n.includes("/static/js/app.js?v="))"""
    )
    await page.evaluate("async (url) => { const { run } = await import(url); await run(); }", url)


async def on_phone(page: Page, store: str, key: str | int) -> Any:
    return await page.evaluate(
        """([store, key]) => new Promise((resolve, reject) => {
            const r = indexedDB.open("peerlog");
            r.onsuccess = () => { const q = r.result.transaction(store).objectStore(store).get(key);
              q.onsuccess = () => { r.result.close(); resolve(q.result ?? null); };
              q.onerror = reject; };
            r.onerror = reject; })""",
        [store, key],
    )


async def phone_number_on_phone(page: Page, participant_id: str, expected: str) -> str | None:
    """The participant's phone number on the phone once it is ``expected``, syncing again once
    if a first wait does not bring it (or what it is after 20 s)."""
    number = None
    for attempt in range(200):
        number = (await on_phone(page, "participants", participant_id) or {}).get("phone")
        if number == expected:
            break
        if attempt == 50:
            await page.evaluate("() => window.dispatchEvent(new Event('online'))")
        await asyncio.sleep(0.1)
    return number


async def log_map(leader_id: object) -> dict[int, str]:
    rows = await Mutation.filter(user_id=leader_id).values("mutation_id", "record_id")
    return {int(r["mutation_id"]): str(r["record_id"]) for r in rows}


async def restore_earlier_copy(
    page: Page, server: LiveServer, prog: Program, tmp_path: Path
) -> tuple[list[str], dict[int, str]]:
    """Three contacts synced, a backup, four more synced, then the backup restored. Returns the
    contacts the phone was told were saved and the device's mutation log before the restore."""
    assert len(await log_contacts(page, server, 3)) == 3
    await wait_answered(page)
    backup = tmp_path / "before.sqlite3"
    await peerlog(server, "backup", str(backup))
    saved = await log_contacts(page, server, 4)
    assert len(saved) == 7
    await wait_answered(page)
    assert await Contact.filter(peer_leader=prog.leader).count() == 7
    acknowledged = await log_map(prog.leader.id)
    assert "new database generation" in await peerlog(server, "restore", str(backup))
    assert await Contact.filter(peer_leader=prog.leader).count() == 3  # the copy's
    return saved, acknowledged


async def assert_nothing_lost(
    prog: Program, saved: list[str], acknowledged: dict[int, str], resent: int
) -> None:
    contacts = await Contact.filter(peer_leader=prog.leader).values_list("id", flat=True)
    assert sorted(str(c) for c in contacts) == sorted(saved)  # each exactly once
    # The ids the server had acknowledged name the same records again: none was reused.
    now = await log_map(prog.leader.id)
    assert {k: now[k] for k in acknowledged} == acknowledged
    events = await AuditEvent.filter(action="sync.resend").values("detail", "actor_id")
    assert [(e["detail"]["count"], e["detail"]["recreated"]) for e in events] == [(resent, resent)]
    assert events[0]["actor_id"] == prog.leader.id


async def test_a_restored_database_gets_back_every_contact_the_phone_was_told_was_saved(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page, tmp_path: Path
) -> None:
    prog = await open_synced(phone_context, phone, live_server, n=2)
    saved, acknowledged = await restore_earlier_copy(phone, live_server, prog, tmp_path)

    # Work goes on after the restore: an administrator corrects a phone number (a change the
    # restored sequence numbers below the phone's cursor), and the peer leader logs a contact.
    admin = await factories.user(Role.ADMIN)
    target = prog.participants[0]
    await engine.write(admin, "participant", target.id, {"phone": "13900001111"})
    saved = await log_contacts(phone, live_server, 1)
    assert len(saved) == 8
    await wait_answered(phone)

    await assert_nothing_lost(prog, saved, acknowledged, resent=4)
    # The phone's pull has the change made after the restore, and keeps every contact. (A sync
    # already running when the change was made may answer without it: the next one brings it.)
    assert await phone_number_on_phone(phone, str(target.id), "13900001111") == "13900001111"
    for cid in saved:
        contact = await on_phone(phone, "contacts", cid)
        assert contact is not None and not contact.get("_pending"), cid


async def test_a_phone_with_nothing_queued_resends_what_the_restore_lost_at_its_next_sync(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page, tmp_path: Path
) -> None:
    prog = await open_synced(phone_context, phone, live_server, n=2)
    saved, acknowledged = await restore_earlier_copy(phone, live_server, prog, tmp_path)

    await sync_now(phone)  # the app's timer: nothing queued, so no push would tell it

    await assert_nothing_lost(prog, saved, acknowledged, resent=4)
    for cid in saved:
        assert await on_phone(phone, "contacts", cid) is not None, cid


async def test_an_app_update_keeps_the_older_database_and_the_sent_log_keeps_thirty_days(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    """The sent log is a new IndexedDB store: opening the phone's database of the previous
    version upgrades it in place, and what it held (a record, its queued creation) is kept and
    sent, then kept in the sent log for thirty days."""
    prog = await program(1)
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/healthz")  # the origin, without the app
    contact_id = str(uuid.uuid4())
    person = prog.participants[0]
    fields = {
        "participant_id": str(person.id),
        "occurred_at": "2026-11-20T09:30:00+08:00",
        "mode": "phone_call",
    }
    # The database exactly as version 1 of db.js made it, with one contact waiting to sync.
    await phone.evaluate(
        """([id, fields]) => new Promise((resolve, reject) => {
            const r = indexedDB.open("peerlog", 1);
            r.onupgradeneeded = () => {
              const db = r.result;
              for (const name of ["participants", "contacts", "meetings", "groups"]) {
                const store = db.createObjectStore(name, { keyPath: "id" });
                if (name === "contacts") store.createIndex("participant_id", "participant_id");
              }
              db.createObjectStore("outbox", { keyPath: "mutation_id" });
              db.createObjectStore("attention", { keyPath: "mutation_id" });
              db.createObjectStore("meta", { keyPath: "key" });
            };
            r.onsuccess = () => {
              const t = r.result.transaction(["contacts", "outbox", "meta"], "readwrite");
              t.objectStore("contacts").put({ id, version: 0, _pending: 1, ...fields });
              t.objectStore("outbox").put({ mutation_id: 1, entity: "contact", id,
                base_version: 0, fields, client_time: fields.occurred_at });
              t.objectStore("meta").put({ key: "next_mutation_id", value: 2 });
              t.oncomplete = () => { r.result.close(); resolve(); };
              t.onerror = reject;
            };
            r.onerror = reject; })""",
        [contact_id, fields],
    )
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_answered(phone)
    assert await Contact.filter(id=contact_id).count() == 1
    kept = await on_phone(phone, "contacts", contact_id)
    assert kept is not None and kept["version"] == 1 and not kept.get("_pending")
    sent = await on_phone(phone, "sent", 1)
    assert sent is not None and sent["id"] == contact_id and sent["status"] == "applied"
    assert (await on_phone(phone, "meta", "acked_mark"))["value"]["id"] == 1
    # 31 days on, the next acknowledgement lets the old entry go.
    await phone.evaluate(
        """async () => {
            const url = (name) => performance.getEntriesByType("resource").map((e) => e.name)
              .find((n) => n.includes(`/static/js/${name}?v=`));
            const { tx } = await import(url("db.js"));
            const { remember, KEEP_DAYS } = await import(url("sentlog.js"));
            const later = Date.now() + (KEEP_DAYS + 1) * 86400000;
            const m = { mutation_id: 2, entity: "contact", id: crypto.randomUUID(), base_version: 0,
              fields: {}, client_time: null };
            const { device } = (await tx(["meta"], "readonly", (s) => new Promise((ok) => {
              const q = s.meta.get("acked_mark"); q.onsuccess = () => ok(q.result.value); })));
            await tx(["sent", "meta"], "readwrite",
              (s) => remember(s, [{ m, status: "applied" }], device, later));
        }"""
    )
    assert await on_phone(phone, "sent", 1) is None
    assert await on_phone(phone, "sent", 2) is not None
    assert (await on_phone(phone, "meta", "acked_mark"))["value"]["id"] == 2
