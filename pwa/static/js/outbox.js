// The outbox: every local change is a mutation waiting for the server. A save writes the record
// and its mutation in ONE transaction, so there is never a record the server will not hear about,
// nor a mutation for a record the phone does not show.
import { tx, req, all, count } from "./db.js";

export const STORE_OF = { participant: "participants", contact: "contacts", group_meeting: "meetings", group: "groups" };

// `fields` are only the fields this change sets; `baseVersion` the version the phone last saw
// (0 for a record made here). Returns the stored record, marked as waiting.
export async function save(entity, id, fields, baseVersion) {
  const store = STORE_OF[entity];
  // After a sign-out the database is new but the device is not: ids carry on from before.
  const seed = Number(globalThis.localStorage?.getItem("peerlog.next_mutation_id")) || 1;
  return tx([store, "outbox", "meta"], "readwrite", async (s) => {
    // The per-device counter only goes up, and is kept beside the queue it numbers.
    const counter = Math.max((await req(s.meta.get("next_mutation_id")))?.value || 1, seed);
    s.meta.put({ key: "next_mutation_id", value: counter + 1 });
    s.outbox.put({
      mutation_id: counter, entity, id, base_version: baseVersion, fields,
      client_time: isoNow(),
    });
    const current = (await req(s[store].get(id))) || { id, version: 0 };
    const record = { ...current, ...fields, _pending: (current._pending || 0) + 1 };
    s[store].put(record);
    return record;
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
