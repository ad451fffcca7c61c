// This phone's device key (SPEC 5), for browsers that cannot make a passkey: a non-extractable
// ECDSA P-256 key made with WebCrypto. Only the CryptoKey object is kept, in an IndexedDB database
// of its own ("peerlog-device-key"): sign-out wipes the app's database, but the key must outlive a
// sign-out to sign in again. The private key never leaves the browser; it can only sign.
//
// What is signed (the server builds the same bytes, server/auth/device_keys.py):
//   "peerlog device key\n<register|login>\n<origin>\n<device id>\n<challenge>"
import { deleteDatabase } from "./db.js";

const NAME = "peerlog-device-key";
const STORE = "keys";
const SLOT = "current";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING = { name: "ECDSA", hash: "SHA-256" };

/** WebCrypto and IndexedDB are all a device key needs (not there: a very old browser). */
export function deviceKeysSupported() {
  return Boolean(globalThis.crypto?.subtle && globalThis.indexedDB);
}

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function inStore(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode, mode === "readwrite" ? { durability: "strict" } : undefined);
      const req = fn(t.objectStore(STORE));
      let result;
      req.onsuccess = () => { result = req.result; };
      t.oncomplete = () => resolve(result);
      t.onerror = t.onabort = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

/** The stored key: {id (the server's, null until registered), deviceId, privateKey} or null. */
export async function storedKey() {
  if (!deviceKeysSupported()) return null;
  try {
    return (await inStore("readonly", (s) => s.get(SLOT))) || null;
  } catch {
    return null;
  }
}

export const saveKey = (record) => inStore("readwrite", (s) => s.put(record, SLOT));

/** Forget this phone's key (its device was revoked, or the server no longer knows it). */
export async function forgetKey() {
  if (!deviceKeysSupported()) return;
  await deleteDatabase(NAME);
}

/** A new key pair; resolves to {privateKey, spki} (the public key as SubjectPublicKeyInfo). */
export async function makeKey() {
  const pair = await crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
  return { privateKey: pair.privateKey, spki: await crypto.subtle.exportKey("spki", pair.publicKey) };
}

/** Sign a challenge for `purpose` ("register" or "login"); the raw r‖s signature, base64url. */
export async function signChallenge(privateKey, purpose, deviceId, challenge) {
  const text = `peerlog device key\n${purpose}\n${location.origin}\n${deviceId}\n${challenge}`;
  const signature = await crypto.subtle.sign(SIGNING, privateKey, new TextEncoder().encode(text));
  return b64url(signature);
}

export function b64url(buffer) {
  const bytes = ArrayBuffer.isView(buffer)
    ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new Uint8Array(buffer);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function unb64url(text) {
  const base = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base + "=".repeat((4 - (base.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
}
