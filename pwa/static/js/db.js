// The phone's local store (IndexedDB), opened lazily on first use, as idb-keyval does: a page that
// never touches data never pays for opening it. Every write waits for its transaction's `complete`
// with strict durability, so "saved" means on disk, not in a buffer the OS may drop.
const NAME = "peerlog";
const VERSION = 4;
// The evaluation records (SPEC 2): readings, questionnaires and their instruments, group activities.
const RECORDS_3 = ["measurements", "assessments", "activities", "instruments"];
// A coordinator's log of their peer leaders: supervision, training, quarterly ratings.
const RECORDS_4 = ["supervisions", "trainings", "ratings"];
export const STORES = ["participants", "contacts", "meetings", "groups", ...RECORDS_3, ...RECORDS_4, "outbox", "attention", "meta", "sent"];

let opening = null;
// After a wipe (here or in another tab or the service worker), code still running must not
// quietly create an empty database again; a later start opens it as usual.
let refuseUntil = 0;
let mayCreate = true;

// For the service worker: it only syncs what a page stored, so it opens the database but never
// creates it. (A background sync that fired just after a sign-out made an empty one again.)
export function onlyExisting() { mayCreate = false; }

export function open() {
  if (Date.now() < refuseUntil) return Promise.reject(new DOMException("wiped", "InvalidStateError"));
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(NAME, VERSION);
      req.onupgradeneeded = (event) => {
        if (!mayCreate && event.oldVersion === 0) {
          req.transaction.abort(); // fails the open; no database is left behind
          return;
        }
        const db = req.result;
        // Step by step from the version on the phone: an upgrade keeps every record and the queue.
        if (event.oldVersion < 1) {
          for (const name of ["participants", "contacts", "meetings", "groups"]) {
            const store = db.createObjectStore(name, { keyPath: "id" });
            if (name === "contacts") store.createIndex("participant_id", "participant_id");
          }
          db.createObjectStore("outbox", { keyPath: "mutation_id" });
          db.createObjectStore("attention", { keyPath: "mutation_id" });
          db.createObjectStore("meta", { keyPath: "key" });
        }
        if (event.oldVersion < 2) {
          // The sent log (sentlog.js), pruned by the time of acknowledgement.
          db.createObjectStore("sent", { keyPath: "mutation_id" }).createIndex("at", "at");
        }
        if (event.oldVersion < 3) {
          for (const name of RECORDS_3) {
            const store = db.createObjectStore(name, { keyPath: "id" });
            if (name === "measurements" || name === "assessments") store.createIndex("participant_id", "participant_id");
          }
        }
        if (event.oldVersion < 4) {
          for (const name of RECORDS_4) db.createObjectStore(name, { keyPath: "id" });
          // A coordinator's earlier pulls passed over these records (no store to put them in):
          // the next pull starts from the beginning and brings them. Nothing is dropped, and
          // what waits in the queue stays on top of what comes.
          if (event.oldVersion > 0) req.transaction.objectStore("meta").delete("cursor");
        }
      };
      req.onsuccess = () => {
        const db = req.result;
        // Another tab upgrading or deleting the database: let go so it is not blocked.
        db.onversionchange = (e) => {
          db.close();
          opening = null;
          if (e.newVersion === null) refuseUntil = Date.now() + 5000; // deleted: a wipe
        };
        resolve(db);
      };
      req.onerror = () => { opening = null; reject(req.error); };
    });
  }
  return opening;
}

const done = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

// Run `fn(stores)` in one transaction; resolves with fn's result once the transaction commits.
export async function tx(names, mode, fn) {
  const db = await open();
  const t = db.transaction(names, mode, mode === "readwrite" ? { durability: "strict" } : undefined);
  const stores = Object.fromEntries(names.map((n) => [n, t.objectStore(n)]));
  let result;
  const committed = new Promise((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new DOMException("aborted", "AbortError"));
  });
  try {
    result = await fn(stores, t);
  } catch (err) {
    try { t.abort(); } catch { /* already finished */ }
    throw err;
  }
  await committed;
  return result;
}

export const req = done;

export const get = (store, key) => tx([store], "readonly", (s) => done(s[store].get(key)));
export const all = (store) => tx([store], "readonly", (s) => done(s[store].getAll()));
export const count = (store) => tx([store], "readonly", (s) => done(s[store].count()));
export const put = (store, value) => tx([store], "readwrite", (s) => done(s[store].put(value)));
export const byIndex = (store, index, key) =>
  tx([store], "readonly", (s) => done(s[store].index(index).getAll(key)));

export async function getMeta(key, fallback = null) {
  const row = await get("meta", key);
  return row ? row.value : fallback;
}

export const setMeta = (key, value) => put("meta", { key, value });

// Sign-out and a revoked device: everything local goes, including the open connection.
// `fresh`: another person signed in here, and this page goes on with an empty database.
export async function wipe({ fresh = false } = {}) {
  refuseUntil = fresh ? 0 : Date.now() + 5000;
  if (opening) {
    const db = await opening.catch(() => null);
    if (db) db.close();
    opening = null;
  }
  await deleteDatabase(NAME);
}

// Deleting waits for the other connections (the service worker's, another tab's) to let go, as
// their `versionchange` handlers do at once: "blocked" alone would leave the records on the phone
// after a sign-out had said they were gone. A connection that never lets go is waited on 3 s.
export function deleteDatabase(name) {
  return new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = r.onerror = () => resolve();
    r.onblocked = () => setTimeout(resolve, 3000);
  });
}
