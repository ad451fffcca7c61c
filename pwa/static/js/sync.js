// The sync client: push everything queued, then pull, as SPEC section 3 says. It runs in the page
// and in the service worker (Background Sync), so it touches no DOM and no localStorage.
//
// Why the page and the service worker never double-sync: every run takes the sync's Web Lock
// (outbox.js, withSyncLock), so the two take turns; a run that finds the lock held waits and then
// pushes only what is still queued. Even if a batch did go twice, the server answers a mutation id
// it has already processed with its original result (flagged `duplicate`), so nothing is applied
// twice.
import { tx, req, all, getMeta, setMeta, wipe } from "./db.js";
import {
  RECORD_STORES, STORE_OF, SYNC, acknowledge, queued, recover, renumber, report, reportOf, wire, withSyncLock,
} from "./outbox.js";
import { mark } from "./sentlog.js";
import { apiHeaders } from "./device.js";

const MAX_BATCH = 500;
const MAX_BYTES = 1024 * 1024 - 16 * 1024; // under the server's 1 MiB with room for the envelope
const PAGE = 1000;
const REPORT = "x-peerlog-outbox"; // the queue, on every push and pull (outbox.js, reportOf)

export const events = new EventTarget();
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(SYNC) : null;

function emit(type, detail = {}) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
  channel?.postMessage({ type, detail });
}

export function listen(fn) {
  events.addEventListener("progress", (e) => fn("progress", e.detail));
  events.addEventListener("changed", (e) => fn("changed", e.detail));
  events.addEventListener("revoked", (e) => fn("revoked", e.detail));
  if (channel) channel.onmessage = (e) => fn(e.data.type, e.data.detail);
}

export class SyncError extends Error {
  // kind: "retry" (network, 5xx: keep the queue, back off), "signed_out" (401), "revoked" (403)
  constructor(kind, status) {
    super(`sync ${kind}${status ? " " + status : ""}`);
    this.kind = kind;
    this.status = status;
  }
}

async function headers() {
  if (globalThis.document) {
    // The page knows the device id and CSRF token; it leaves a copy for the service worker.
    const h = apiHeaders();
    await setMeta("headers", { device: h["x-peerlog-device"], csrf: h["x-csrftoken"] || null });
    return h;
  }
  const saved = (await getMeta("headers")) || {};
  return {
    "content-type": "application/json",
    ...(saved.device ? { "x-peerlog-device": saved.device } : {}),
    ...(saved.csrf ? { "x-csrftoken": saved.csrf } : {}),
  };
}

async function call(url, init) {
  let res;
  try {
    res = await fetch(url, { credentials: "same-origin", cache: "no-store", ...init });
  } catch {
    throw new SyncError("retry");
  }
  if (res.status === 401) throw new SyncError("signed_out", 401);
  if (res.status === 403) {
    const body = await res.json().catch(() => ({}));
    if (body.error === "device_revoked") throw new SyncError("revoked", 403);
    throw new SyncError("retry", 403);
  }
  return res;
}

function batchOf(items, limit) {
  const enc = new TextEncoder();
  const out = [];
  let size = 0;
  for (const m of items) {
    const item = wire(m);
    const bytes = enc.encode(JSON.stringify(item)).length + 1;
    if (out.length >= limit || (out.length && size + bytes > MAX_BYTES)) break;
    out.push(item);
    size += bytes;
  }
  return out;
}

async function push(h) {
  let limit = MAX_BATCH;
  let renumbered = 0;
  for (;;) {
    const items = await queued();
    if (!items.length) return;
    const batch = batchOf(items, limit);
    const res = await call("/api/sync/push", {
      method: "POST", headers: { ...h, [REPORT]: reportOf(items) },
      body: JSON.stringify({ device_id: h["x-peerlog-device"], schema_version: 1, mutations: batch }),
    });
    if (res.status === 200) {
      const body = await res.json();
      await acknowledge(batch, body.results || [], h["x-peerlog-device"]);
      // Below what it had acknowledged: the server lost some (a restore). They are queued again.
      await recover(Number(body.last_mutation_id), h["x-peerlog-device"]);
      emit("changed");
    } else if (res.status === 409 && renumbered++ < 3) {
      const body = await res.json().catch(() => ({}));
      const last = Number(body.last_mutation_id ?? 0);
      if (!(await recover(last, h["x-peerlog-device"]))) await renumber(last);
    } else if (res.status === 413 && limit > 1) {
      limit = Math.max(1, Math.floor(batch.length / 2));
    } else {
      throw new SyncError("retry", res.status);
    }
  }
}

// A resync also follows a restore of the server's database from an earlier copy. Before fetching
// everything again, ask how far the server has this device's mutations (an empty push) and send
// again what it lost, so that the records it lost are back before the phone compares scopes.
async function resendLost(h) {
  const device = h["x-peerlog-device"];
  if (!(await mark(device))) return;
  const res = await call("/api/sync/push", {
    method: "POST", headers: h,
    body: JSON.stringify({ device_id: device, schema_version: 1, mutations: [] }),
  });
  if (res.status !== 200) throw new SyncError("retry", res.status);
  if (await recover(Number((await res.json()).last_mutation_id), device)) await push(h);
}

// `leaders`: the peer leaders of a coordinator's community, sent whole with the last page
// (sync/directory.py); they replace the list the forms pick from.
async function applyPage(changes, cursor, seen, leaders) {
  const stores = [...RECORD_STORES, "outbox", "meta"];
  await tx(stores, "readwrite", async (s) => {
    const pending = new Map();
    for (const m of await req(s.outbox.getAll())) {
      pending.set(m.id, [...(pending.get(m.id) || []), m.fields]);
    }
    for (const c of changes) {
      const name = STORE_OF[c.entity];
      if (!name) continue;
      seen?.[name].add(c.id);
      if (c.deleted) {
        if (!pending.has(c.id)) s[name].delete(c.id);
        continue;
      }
      let record = { ...c.fields, id: c.id, version: c.version };
      const mine = pending.get(c.id);
      // What this phone changed and has not yet sent stays on top of the server's copy.
      if (mine) record = Object.assign(record, ...mine, { _pending: mine.length });
      s[name].put(record);
    }
    s.meta.put({ key: "cursor", value: cursor });
    if (leaders) s.meta.put({ key: "peer_leaders", value: leaders });
  });
}

async function dropUnseen(seen) {
  await tx(Object.keys(seen), "readwrite", async (s) => {
    for (const [name, ids] of Object.entries(seen)) {
      for (const r of await req(s[name].getAll())) {
        if (!ids.has(r.id) && !r._pending && !r._attention) s[name].delete(r.id);
      }
    }
  });
}

async function pull(headers) {
  const h = { ...headers, [REPORT]: await report() };
  let cursor = await getMeta("cursor");
  let seen = null;
  let received = 0;
  for (;;) {
    const url = `/api/sync/pull?limit=${PAGE}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const res = await call(url, { headers: h });
    if (res.status !== 200) throw new SyncError("retry", res.status);
    // Something the person must be told (a new invite for their account: SPEC 5). The server
    // repeats it while it matters; the page shows each one once (see app.js).
    const notice = res.headers.get("x-peerlog-notice");
    if (notice) await setMeta("notice", notice);
    const body = await res.json();
    if (body.resync) {
      if (seen) throw new SyncError("retry", 200); // a resync inside a resync: try later
      await resendLost(h);
      seen = Object.fromEntries(RECORD_STORES.map((name) => [name, new Set()]));
      cursor = null;
      received = 0;
      continue;
    }
    const changes = body.changes || [];
    await applyPage(changes, body.cursor ?? cursor, seen, body.peer_leaders);
    // ``total_estimate`` counts what was left from this page's cursor on, this page included.
    const total = received + (body.total_estimate || 0);
    received += changes.length;
    cursor = body.cursor ?? cursor;
    emit("progress", { received, total: Math.max(total, received), done: !body.has_more });
    if (!body.has_more) break;
  }
  if (seen) await dropUnseen(seen);
}

let running = null;
let again = false;

// After a sign-out or a revocation there is nothing to sync, and opening the database would
// create an empty one again.
async function exists() {
  if (!indexedDB.databases) return true;
  return (await indexedDB.databases()).some((d) => d.name === "peerlog");
}

async function runOnce() {
  const work = async () => {
    if (!(await exists())) return { ok: false, wiped: true };
    const h = await headers();
    try {
      await push(h);
      await pull(h);
      await setMeta("last_sync", new Date().toISOString());
      emit("changed");
      return { ok: true };
    } catch (err) {
      if (err instanceof SyncError && err.kind === "revoked") {
        await wipeLocal();
        emit("revoked");
      }
      emit("changed");
      throw err;
    }
  };
  return withSyncLock(work);
}

// Sync now. Calls made while a run is going are folded into one more run after it, so a save
// made during a push is never left waiting for the next timer.
export function syncNow() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      let result;
      do {
        again = false;
        result = await runOnce();
      } while (again);
      return result;
    } finally {
      running = null;
    }
  })();
  return running;
}

export const attention = () => all("attention");

export async function wipeLocal(options) {
  await wipe(options);
  if (globalThis.caches) {
    for (const key of await caches.keys()) await caches.delete(key);
  }
}
