// The sent log: what the server acknowledged, kept for KEEP_DAYS, and the highest mutation id it
// acknowledged (the *acknowledged mark*), as SPEC 3 asks ("Acknowledged means durable, also across
// a restore").
//
// Why: a server whose database was restored from an earlier copy has forgotten what it
// acknowledged after that copy was made. It says so without knowing it: its `last_mutation_id`
// for this device (in a 200 or a 409) comes back below the mark. The phone then puts what its log
// holds above the server's mark back into the outbox (outbox.js, recover), renumbered to follow on
// from the server's last and flagged `resend`, ahead of what was already queued, and the usual
// push sends it. Never
// renumber the queue over those ids instead: the records behind them would be lost for good.
import { tx, req } from "./db.js";

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

// Inside the transaction that re-queues them (outbox.js, recover; stores "sent" and "meta" among
// `s`): the server's last processed mutation for `device` is `last`. When that is below the mark,
// the log above it is taken out (rejected mutations wrote nothing, so nothing of theirs was lost:
// they stay out) and the mark comes down to `last`. Null when the server has everything this
// phone knows it acknowledged.
export async function takeLost(s, last, device) {
  if (!(last < (await markOf(s, device)))) return null;
  const lost = (await req(s.sent.getAll(IDBKeyRange.lowerBound(last, true))))
    .filter((e) => e.status !== "rejected");
  for (const e of lost) s.sent.delete(e.mutation_id);
  s.meta.put({ key: MARK, value: { device, id: last } });
  return lost;
}
