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

// The local time with its UTC offset, as the wire wants it (`2026-11-20T09:30:00+08:00`).
export function isoNow(d = new Date()) {
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}${off >= 0 ? "+" : "-"}${pad(off / 60)}:${pad(off % 60)}`;
}
