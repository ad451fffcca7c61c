// Passkey sign-in for the whole app: the API calls (import them anywhere) and, when the page has
// a `[data-auth]` element, the sign-in and invite pages' one big button.
//
//   import { signIn, signOut, currentUser, registerFromInvite } from "./auth.js";
//
// Events on `window`: "peerlog:device-revoked" (this device was cut off: wipe local data) and
// "peerlog:before-sign-out" (cancelable: call preventDefault() to stop a sign-out, e.g. unsynced
// records the person chose to keep).
import { apiHeaders, deviceId } from "./device.js";
import {
  b64url, deviceKeysSupported, forgetKey, makeKey, saveKey, signChallenge, storedKey, unb64url,
} from "./devicekey.js";

export class AuthError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Litestar's CSRF middleware sets the `csrftoken` cookie on any GET; a page served from the
// service worker's cache never made one, so fetch something cheap before the first POST.
async function ensureCsrfCookie() {
  if (!document.cookie.split("; ").some((c) => c.startsWith("csrftoken="))) {
    await fetch("/api/auth/me", { credentials: "same-origin", headers: apiHeaders() });
  }
}

export async function api(path, { method = "POST", body } = {}) {
  if (method !== "GET") await ensureCsrfCookie();
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: apiHeaders(),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new AuthError(0, "network", "");
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  if (!response.ok) {
    if (data.error === "device_revoked") {
      window.dispatchEvent(new CustomEvent("peerlog:device-revoked", { detail: data }));
    }
    throw new AuthError(
      response.status,
      data.error || "error",
      data.message || "",
      response.headers.get("retry-after"),
    );
  }
  return data;
}

// --- what this browser can do (feature detection, never the browser's name) -------------------

/** WebAuthn is there at all (a passkey on a security key or another phone may still work). */
export function passkeysSupported() {
  return Boolean(window.PublicKeyCredential && navigator.credentials?.create);
}

/** This browser can make a passkey on the phone itself (fingerprint, face or screen lock).
 *  Most Android phones sold in mainland China cannot: no Google services, no platform
 *  authenticator, although WebAuthn is there. */
export async function platformPasskeys() {
  if (!passkeysSupported()) return false;
  try {
    const caps = await PublicKeyCredential.getClientCapabilities?.();
    if (caps?.userVerifyingPlatformAuthenticator === true) return true;
  } catch {
    // An early implementation may throw: ask the older question below.
  }
  try {
    return Boolean(await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable?.());
  } catch {
    return false;
  }
}

// The WebAuthn JSON helpers (parse…FromJSON, toJSON) only arrived in browsers in 2025; an older
// iPhone or Chromium fork has WebAuthn without them. These do the same with base64url by hand.
const bytes = (text) => unb64url(text);
const descriptors = (list) => (list || []).map((c) => ({ ...c, id: bytes(c.id) }));

export function creationOptions(json) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: bytes(json.challenge),
    user: { ...json.user, id: bytes(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

export function requestOptions(json) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return { ...json, challenge: bytes(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

export function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: b64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64url(r.attestationObject);
    response.transports = r.getTransports?.() || [];
  } else {
    response.authenticatorData = b64url(r.authenticatorData);
    response.signature = b64url(r.signature);
    response.userHandle = r.userHandle ? b64url(r.userHandle) : null;
  }
  return {
    id: credential.id,
    rawId: b64url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: credential.getClientExtensionResults?.() || {},
  };
}

// A device id belongs to one person for good: after a revocation (or on a browser someone else
// used) start again as a new device, once. A new device's mutation ids start again at 1 (the
// sync engine refuses a first push that skips ahead), as app.js does after a revocation.
async function asFreshDeviceIfRefused(ceremony) {
  try {
    return await ceremony();
  } catch (err) {
    if (err instanceof AuthError && ["device_revoked", "device_in_use"].includes(err.code)) {
      localStorage.removeItem("peerlog.device_id");
      localStorage.removeItem("peerlog.next_mutation_id");
      await forgetKey(); // bound to the old device id
      return ceremony();
    }
    throw err;
  }
}

/** Create a passkey for a passkey-creation endpoint pair and return the credential JSON. */
export async function createCredential(optionsPath) {
  const options = await api(optionsPath, { body: {} });
  const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
  return credentialJSON(credential);
}

/** Register this phone's passkey with an invite code; signs in. Resolves to {user, role, …}. */
export function registerFromInvite(code) {
  const base = `/api/auth/invites/${encodeURIComponent(code)}`;
  return asFreshDeviceIfRefused(async () => {
    const credential = await createCredential(`${base}/options`);
    return api(`${base}/register`, { body: credential });
  });
}

/** Sign in with a discoverable passkey. Resolves to {user, role, display_name, …}. */
export function signIn() {
  return asFreshDeviceIfRefused(async () => {
    const options = await api("/api/auth/login/options", { body: {} });
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return api("/api/auth/login", { body: credentialJSON(credential) });
  });
}

/** Make this phone's device key and register it with an invite code; signs in. */
export function registerDeviceKeyFromInvite(code) {
  const base = `/api/auth/invites/${encodeURIComponent(code)}/device-key`;
  return asFreshDeviceIfRefused(async () => {
    const { privateKey, spki } = await makeKey();
    const { challenge } = await api(`${base}/options`, { body: {} });
    const device = deviceId();
    // Kept before the server sees it: once the invite is used, losing the key would lock the
    // person out until a new invite.
    await saveKey({ id: null, deviceId: device, privateKey });
    const signature = await signChallenge(privateKey, "register", device, challenge);
    const result = await api(base, { body: { public_key: b64url(spki), challenge, signature } });
    await saveKey({ id: result.device_key, deviceId: device, privateKey });
    return result;
  });
}

/** Sign in with this phone's device key. Resolves to {user, role, …}. */
export async function signInWithDeviceKey() {
  const key = await storedKey();
  if (!key?.id) throw new AuthError(0, "no_key", "");
  // The key is bound to the device id it was registered with: that is this phone's id.
  if (localStorage.getItem("peerlog.device_id") !== key.deviceId) {
    localStorage.setItem("peerlog.device_id", key.deviceId);
  }
  try {
    const { challenge } = await api("/api/auth/device-key/options", { body: {} });
    const signature = await signChallenge(key.privateKey, "login", key.deviceId, challenge);
    return await api("/api/auth/device-key/login", {
      body: { key_id: key.id, challenge, signature },
    });
  } catch (err) {
    if (err instanceof AuthError && DEAD_KEY.includes(err.code)) {
      await forgetKey();
      if (err.code !== "device_revoked") throw Object.assign(err, { keyForgotten: true });
      localStorage.removeItem("peerlog.device_id");
      localStorage.removeItem("peerlog.next_mutation_id");
      throw Object.assign(new AuthError(err.status, "key_revoked", ""), { keyForgotten: true });
    }
    throw err;
  }
}

// Answers after which this key can never sign in again: forget it, so the page stops offering it.
const DEAD_KEY = ["device_revoked", "key_revoked", "unknown_key", "wrong_device", "bad_signature"];

/** End this browser's session. Returns false when a "peerlog:before-sign-out" listener said no. */
export async function signOut() {
  const event = new CustomEvent("peerlog:before-sign-out", { cancelable: true });
  if (!window.dispatchEvent(event)) return false;
  await api("/api/auth/logout", { body: {} });
  window.dispatchEvent(new CustomEvent("peerlog:signed-out"));
  return true;
}

/** The signed-in user ({user, role, display_name, community_id, committee_id, device_id}) or null. */
export async function currentUser() {
  try {
    return await api("/api/auth/me", { method: "GET" });
  } catch (err) {
    if (err instanceof AuthError && err.status === 401) return null;
    throw err;
  }
}

// --- page wiring ------------------------------------------------------------------------------

/** A translated message for an error code, from the page's hidden message lists. */
export function message(key, fallback = "") {
  const item = document.querySelector(
    `#auth-messages [data-key="${CSS.escape(key)}"], #devicekey-messages [data-key="${CSS.escape(key)}"]`,
  );
  return item ? item.textContent : fallback || key;
}

export function explain(err) {
  if (err instanceof AuthError) return message(err.code, err.message || message("error"));
  // WebAuthn: NotAllowedError = cancelled or timed out; InvalidStateError = already registered.
  if (err && err.name === "NotAllowedError") return message("cancelled");
  if (err && err.name === "InvalidStateError") return message("already_registered");
  return message("error");
}

// Staff work at a desk: they land on the staff pages, not on the phone app's Today screen.
const STAFF_ROLES = ["coordinator", "admin"];

function landing(kind, who, next) {
  const home = who && STAFF_ROLES.includes(who.role) ? "/admin" : "/";
  if (kind === "invite" || !next || next === "/") return home;
  return next;
}

function bindPage(root) {
  const status = document.getElementById("auth-status");
  const show = (text) => {
    status.textContent = text;
  };
  const kind = root.dataset.auth;
  const passkey = document.getElementById(kind === "invite" ? "passkey-create" : "passkey-signin");
  const keyButton = document.getElementById(kind === "invite" ? "devicekey-create" : "devicekey-signin");
  const go = (button, ceremony) => {
    button?.addEventListener("click", async () => {
      button.disabled = true;
      show(message(button === passkey ? "working" : "key_working"));
      try {
        const who = await ceremony();
        show(message("signed_in"));
        location.assign(landing(kind, who, root.dataset.next));
      } catch (err) {
        show(explain(err));
        button.disabled = false;
        if (err?.keyForgotten) keyButton.hidden = true;
      }
    });
  };
  // Listeners first, at once: the checks below are asynchronous and a quick tap must not be lost.
  go(passkey, kind === "invite" ? () => registerFromInvite(root.dataset.code) : signIn);
  go(keyButton, kind === "invite" ? () => registerDeviceKeyFromInvite(root.dataset.code) : signInWithDeviceKey);
  if (!passkeysSupported()) passkey.disabled = true;
  offer(root, kind, passkey, keyButton, show).catch(() => {});
}

// Which way in this browser gets: a passkey where the phone can make one, else a device key
// (field roles only), else a clear word on what to do instead.
async function offer(root, kind, passkey, keyButton, show) {
  const reveal = (id) => document.getElementById(id)?.removeAttribute("hidden");
  if (kind === "signin") {
    const key = await storedKey();
    if (key?.id) {
      keyButton.hidden = false;
      passkey.classList.remove("primary");
    } else if (!(await platformPasskeys())) {
      // No passkey can live on this phone and it holds no key: the way in is an invite code.
      document.querySelector(".auth-code")?.setAttribute("open", "");
      if (!passkeysSupported()) show(message("unsupported"));
    }
    return;
  }
  if (await platformPasskeys()) return;
  const fieldRole = root.dataset.deviceKey === "allowed";
  if (fieldRole && deviceKeysSupported()) {
    passkey.hidden = true;
    keyButton.hidden = false;
    reveal("devicekey-explain");
  } else if (!fieldRole) {
    passkey.classList.remove("primary");
    reveal("staff-needs-passkey");
  } else if (!passkeysSupported()) {
    show(message("unsupported"));
  }
}

const root = document.querySelector("[data-auth]");
if (root) bindPage(root);
