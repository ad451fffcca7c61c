// The sent log: what the server acknowledged, kept for KEEP_DAYS, and the highest mutation id it
// acknowledged (the *acknowledged mark*), as SPEC 3 asks ("Acknowledged means durable, also across
// a restore").
//
// Why: a server whose database was restored from an earlier copy has forgotten what it
// acknowledged after that copy was made. It says so without knowing it: its `last_mutation_id`
// for this device (in a 200 or a 409) comes back below the mark. The phone then puts what its log
// holds above the server's mark back into the outbox, renumbered to follow on from the server's
// last and flagged `resend`, ahead of what was already queued, and the usual push sends it. Never
// renumber the queue over those ids instead: the records behind them would be lost for good.
import { tx, req } from "./db.js";
import { STORE_OF } from "./outbox.js";

export const KEEP_DAYS = 30;
const MARK = "acked_mark";

// The mark is the device's: a phone that became a new device (its id was refused at a sign-in)
// has nothing acknowledged under the new id, and must never send the old one's log under it.
async function markOf(s, device) {
  const row = (await req(s.meta.get(MARK)))?.value;
  return row && row.device === device ? row.id : 0;
}

// Inside the transaction that takes acknowledged mutations out of the outbox (stores "sent" and
// "meta" among `s`): `acked` is [{ m: the wire mutation, status }], acknowledged to `device`.
export async function remember(s, acked, device, now = Date.now()) {
  if (!acked.length) return;
  let mark = await markOf(s, device);
  for (const { m, status } of acked) {
    const { mutation_id, entity, id, base_version, fields, client_time } = m;
    s.sent.put({ mutation_id, entity, id, base_version, fields, client_time, status, at: now });
    mark = Math.max(mark, mutation_id);
  }
  s.meta.put({ key: MARK, value: { device, id: mark } });
  const old = IDBKeyRange.upperBound(now - KEEP_DAYS * 86400000);
  for (const key of await req(s.sent.index("at").getAllKeys(old))) s.sent.delete(key);
}

// Has the server acknowledged anything of this device's that it could have lost?
export async function mark(device) {
  return tx(["meta"], "readonly", (s) => markOf(s, device));
}

// The server's last processed mutation for `device` is `last`. When that is below the mark,
// re-queue the sent log above it (rejected mutations wrote nothing, so nothing of theirs was
// lost: they stay out) and renumber the queue after it. True when anything was re-queued; false
// when the server has everything this phone knows it acknowledged.
export async function recover(last, device) {
  // Nearly always nothing was lost: find that out without a read-write transaction (a disk flush).
  if (!(last < (await mark(device)))) return false;
  const records = [...new Set(Object.values(STORE_OF))];
  return tx(["sent", "outbox", "attention", "meta", ...records], "readwrite", async (s) => {
    if (!(last < (await markOf(s, device)))) return false;
    const lost = (await req(s.sent.getAll(IDBKeyRange.lowerBound(last, true))))
      .filter((e) => e.status !== "rejected");
    const queue = await req(s.outbox.getAll());
    for (const e of lost) s.sent.delete(e.mutation_id);
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
    s.meta.put({ key: MARK, value: { device, id: last } });
    return lost.length > 0;
  });
}
