// The outbox: every local change is a mutation waiting for the server. A save writes the record
// and its mutation in ONE transaction, so there is never a record the server will not hear about,
// nor a mutation for a record the phone does not show.
//
// This module is the only one that writes the queue (store "outbox") and "needs attention"
// (store "attention"), and the only one that names the sync lock: screens and the sync client
// call what it exports (tests/unit/test_phone_data_layer.py keeps it so).
import { tx, req, all, count } from "./db.js";
import { remember, mark, takeLost } from "./sentlog.js";

export const STORE_OF = {
  participant: "participants", contact: "contacts", group_meeting: "meetings", group: "groups",
  measurement: "measurements", assessment: "assessments", group_activity: "activities", instrument: "instruments",
  supervision: "supervisions", training: "trainings", implementation_rating: "ratings",
};
// Every store the pull fills (one per entity).
export const RECORD_STORES = [...new Set(Object.values(STORE_OF))];

// The name of the sync: the Web Lock every run takes (page and service worker take turns), the
// Background Sync tag the worker answers, and the channel the sync's events go on.
export const SYNC = "peerlog-sync";

export const withSyncLock = (fn) => (navigator.locks ? navigator.locks.request(SYNC, fn) : fn());

// `fields` are only the fields this change sets; `baseVersion` the version the phone last saw
// (0 for a record made here). Returns the stored record, marked as waiting.
export async function save(entity, id, fields, baseVersion) {
  return (await saveAll([{ entity, id, fields, baseVersion }]))[0];
}

// Several records that belong together (a blood-pressure reading is two measurement rows): all
// of them and their mutations in one transaction, so the phone never holds half of them.
export async function saveAll(changes) {
  const stores = [...new Set(changes.map((c) => STORE_OF[c.entity]))];
  return tx([...stores, "outbox", "meta"], "readwrite", (s) => queueIn(s, changes));
}

// The mutations and their records, inside the caller's transaction (its stores: the records',
// "outbox" and "meta"). Returns the stored records.
async function queueIn(s, changes) {
  // After a sign-out the database is new but the device is not: ids carry on from before.
  const seed = Number(globalThis.localStorage?.getItem("peerlog.next_mutation_id")) || 1;
  // The per-device counter only goes up, and is kept beside the queue it numbers.
  let counter = Math.max((await req(s.meta.get("next_mutation_id")))?.value || 1, seed);
  const saved = [];
  for (const { entity, id, fields, baseVersion } of changes) {
    s.outbox.put({
      mutation_id: counter++, entity, id, base_version: baseVersion, fields,
      client_time: isoNow(),
    });
    const store = s[STORE_OF[entity]];
    const current = (await req(store.get(id))) || { id, version: 0 };
    const record = { ...current, ...fields, _pending: (current._pending || 0) + 1 };
    store.put(record);
    saved.push(record);
  }
  s.meta.put({ key: "next_mutation_id", value: counter });
  return saved;
}

// Refused records corrected in "needs attention": each `{item, fields}` (the corrected fields)
// is sent again, under the record's id, as what the refused mutation set with the corrections
// on top: a creation again when the server never took the record, else a change from the
// version the phone has. In the same transaction the item is marked `corrected`: it stays in
// "needs attention" (saying it waits) until the server answers the correction (acknowledge).
export async function resend(corrections) {
  const stores = [...new Set(corrections.map(({ item }) => STORE_OF[item.entity]))];
  return tx([...stores, "outbox", "attention", "meta"], "readwrite", async (s) => {
    const changes = [];
    for (const { item, fields } of corrections) {
      const stored = await req(s.attention.get(item.mutation_id));
      if (!stored || stored.corrected) continue; // corrected already (another tab, a double tap)
      const record = await req(s[STORE_OF[item.entity]].get(item.id));
      const baseVersion = record?.version || 0;
      let sent = { ...stored.fields, ...fields };
      // A creation carries only what is set: a value cleared in the correction is left out.
      if (!baseVersion) sent = Object.fromEntries(Object.entries(sent).filter(([, v]) => v !== null));
      changes.push({ entity: item.entity, id: item.id, fields: sent, baseVersion });
      s.attention.put({ ...stored, corrected: { fields, at: new Date().toISOString() } });
    }
    return queueIn(s, changes);
  });
}

// A change to a record the server does not have yet goes into its queued creation, so the server
// gets one record with the change from the start. Under the sync lock, so that no push is sending
// the old creation meanwhile. False when there is none (acknowledged in the meantime: the record
// has a version now, and the change is an ordinary save).
export function amendQueued(entity, id, fields) {
  const store = STORE_OF[entity];
  return withSyncLock(() => tx(["outbox", store], "readwrite", async (s) => {
    const queued = (await req(s.outbox.getAll()))
      .find((m) => m.entity === entity && m.id === id && m.base_version === 0);
    if (!queued) return false;
    queued.fields = { ...queued.fields, ...fields };
    s.outbox.put(queued);
    s[store].put({ ...(await req(s[store].get(id))), ...fields });
    return true;
  }));
}

// A "needs attention" item is done with. Dismissed, a record the server never accepted goes from
// the phone; `resent` (corrected and saved again) keeps it, waiting like any other.
export async function resolveAttention(item, { resent = false } = {}) {
  const store = STORE_OF[item.entity];
  await tx(["attention", store], "readwrite", async (s) => {
    // Corrected meanwhile: the correction waits in the queue, and so must its record.
    if ((await req(s.attention.get(item.mutation_id)))?.corrected) resent = true;
    s.attention.delete(item.mutation_id);
    const record = await req(s[store].get(item.id));
    if (record && !resent && item.status === "rejected" && !record.version) s[store].delete(item.id);
    else if (record) { delete record._attention; s[store].put(record); }
  });
}

// The server's answer to a pushed `batch`: a mutation leaves the queue only here, inside the
// transaction that records its result (the record's version, "needs attention", the sent log).
export async function acknowledge(batch, results, device) {
  const byId = new Map(batch.map((m) => [m.mutation_id, m]));
  const stores = ["outbox", "attention", ...RECORD_STORES, "sent", "meta"];
  await tx(stores, "readwrite", async (s) => {
    const acked = [];
    // Refused records corrected in "needs attention" (resend): their items stay until the server
    // answers a later mutation of the same record (the correction, sent after the refusal).
    let attention = await req(s.attention.getAll());
    for (const r of results) {
      const m = byId.get(r.mutation_id);
      if (!m) continue;
      s.outbox.delete(m.mutation_id);
      // A mutation the server had processed before comes back with its original status.
      const { status } = r;
      acked.push({ m, status });
      const store = s[STORE_OF[m.entity]];
      const record = await req(store.get(m.id));
      const answered = attention.filter((a) => a.corrected && a.entity === m.entity && a.id === m.id
        && a.mutation_id < m.mutation_id);
      for (const a of answered) s.attention.delete(a.mutation_id);
      attention = attention.filter((a) => !answered.includes(a));
      if (status === "rejected" || status === "conflict") {
        const item = {
          mutation_id: m.mutation_id, entity: m.entity, id: m.id, status,
          errors: r.errors || {}, templates: r.templates || null,
          conflict_id: r.conflict_id || null, fields: m.fields,
          at: new Date().toISOString(),
        };
        s.attention.put(item);
        attention.push(item);
      }
      if (record) {
        record._pending = Math.max(0, (record._pending || 0) - 1);
        if (r.version) record.version = r.version;
        if (status === "rejected") record._attention = true;
        // Corrected and taken: nothing about it needs attention any more.
        else if (answered.length && !attention.some((a) => a.entity === m.entity && a.id === m.id)) {
          delete record._attention;
        }
        store.put(record);
      }
    }
    await remember(s, acked, device);
  });
}

// 409: the server's last processed mutation is `last`; what is still queued was never processed,
// so it is renumbered to follow on from it and sent again.
export async function renumber(last) {
  await tx(["outbox", "meta"], "readwrite", async (s) => {
    const items = await req(s.outbox.getAll());
    if (!items.length || items[0].mutation_id === last + 1) return;
    items.forEach((m) => s.outbox.delete(m.mutation_id));
    items.forEach((m, i) => s.outbox.put({ ...m, mutation_id: last + 1 + i }));
    s.meta.put({ key: "next_mutation_id", value: last + 1 + items.length });
  });
}

// The server's last processed mutation for `device` is `last`. When that is below the sent log's
// mark (sentlog.js: the server was restored from an earlier copy), what the log holds above it
// goes back into the queue, renumbered to follow on from `last`, flagged `resend` and ahead of
// what was already queued. True when anything was re-queued.
export async function recover(last, device) {
  // Nearly always nothing was lost: find that out without a read-write transaction (a disk flush).
  if (!(last < (await mark(device)))) return false;
  return tx(["sent", "outbox", "attention", "meta", ...RECORD_STORES], "readwrite", async (s) => {
    const lost = await takeLost(s, last, device);
    if (!lost) return false;
    const queue = await req(s.outbox.getAll());
    for (const m of queue) s.outbox.delete(m.mutation_id);
    let next = last + 1;
    for (const e of lost) {
      const { entity, id, base_version, fields, client_time } = e;
      s.outbox.put({ mutation_id: next++, entity, id, base_version, fields, client_time, resend: true });
      // A conflict it opened went with the server's history; sent again, it may open a new one.
      if (e.status === "conflict") s.attention.delete(e.mutation_id);
      const store = s[STORE_OF[entity]];
      const record = await req(store.get(id));
      if (record) store.put({ ...record, _pending: (record._pending || 0) + 1 });
    }
    for (const m of queue) s.outbox.put({ ...m, mutation_id: next++ });
    s.meta.put({ key: "next_mutation_id", value: next });
    return lost.length > 0;
  });
}

export const waiting = () => count("outbox");
export const queued = () => all("outbox");

// A queued mutation as the push sends it: the wire's fields only (the server refuses others).
export function wire({ mutation_id, entity, id, base_version, fields, client_time, resend }) {
  const out = { mutation_id, entity, id, base_version, fields, client_time };
  if (resend) out.resend = true; // sent again after the server lost it (sentlog.js)
  return out;
}

// The outbox report every push and pull carries (SPEC 3, `x-peerlog-outbox`): how many records
// wait here and when the oldest was made, so staff see a phone holding records that have not
// arrived (it may be one that never gets a network, or an iPhone whose app is never opened).
export function reportOf(items) {
  let oldest = Infinity;
  for (const m of items) {
    const at = Date.parse(m.client_time);
    if (at < oldest) oldest = at;
  }
  return `waiting=${items.length}` + (items.length && oldest < Infinity ? `; oldest=${new Date(oldest).toISOString()}` : "");
}

export const report = async () => reportOf(await queued());

// "Save waiting records to a file" (Settings): the queue as the push would send it, for staff to
// upload on this device's page when the phone cannot sync. The mutation ids are this device's
// own, so the server applies each record once however often the file is uploaded, and this
// phone's own push of the same records later changes nothing.
export async function waitingFile(deviceId) {
  return {
    kind: "peerlog-waiting-records", version: 1, device_id: deviceId,
    saved_at: new Date().toISOString(), schema_version: 1, mutations: (await queued()).map(wire),
  };
}

// The local time with its UTC offset, as the wire wants it (`2026-11-20T09:30:00+08:00`).
export function isoNow(d = new Date()) {
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}${off >= 0 ? "+" : "-"}${pad(off / 60)}:${pad(off % 60)}`;
}
