// Passkey sign-in for the whole app: the API calls (import them anywhere) and, when the page has
// a `[data-auth]` element, the sign-in and invite pages' one big button.
//
//   import { signIn, signOut, currentUser, registerFromInvite } from "./auth.js";
//
// Events on `window`: "peerlog:device-revoked" (this device was cut off: wipe local data) and
// "peerlog:before-sign-out" (cancelable: call preventDefault() to stop a sign-out, e.g. unsynced
// records the person chose to keep).
import { apiHeaders } from "./device.js";

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

export function passkeysSupported() {
  return Boolean(
    window.PublicKeyCredential &&
      PublicKeyCredential.parseCreationOptionsFromJSON &&
      PublicKeyCredential.parseRequestOptionsFromJSON,
  );
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
      return ceremony();
    }
    throw err;
  }
}

/** Create a passkey for a passkey-creation endpoint pair and return the credential JSON. */
export async function createCredential(optionsPath) {
  const options = await api(optionsPath, { body: {} });
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
  const credential = await navigator.credentials.create({ publicKey });
  return credential.toJSON();
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
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
    const credential = await navigator.credentials.get({ publicKey });
    return api("/api/auth/login", { body: credential.toJSON() });
  });
}

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

/** A translated message for an error code, from the page's hidden #auth-messages list. */
export function message(key, fallback = "") {
  const item = document.querySelector(`#auth-messages [data-key="${CSS.escape(key)}"]`);
  return item ? item.textContent : fallback || key;
}

export function explain(err) {
  if (err instanceof AuthError) return message(err.code, err.message || message("error"));
  // WebAuthn: NotAllowedError = cancelled or timed out; InvalidStateError = already registered.
  if (err && err.name === "NotAllowedError") return message("cancelled");
  if (err && err.name === "InvalidStateError") return message("already_registered");
  return message("error");
}

function bindPage(root) {
  const status = document.getElementById("auth-status");
  const show = (text) => {
    status.textContent = text;
  };
  const kind = root.dataset.auth;
  const button = document.getElementById(kind === "invite" ? "passkey-create" : "passkey-signin");
  if (!passkeysSupported()) {
    show(message("unsupported"));
    button.disabled = true;
    return;
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    show(message("working"));
    try {
      if (kind === "invite") await registerFromInvite(root.dataset.code);
      else await signIn();
      show(message("signed_in"));
      location.assign(kind === "invite" ? "/" : root.dataset.next || "/");
    } catch (err) {
      show(explain(err));
      button.disabled = false;
    }
  });
}

const root = document.querySelector("[data-auth]");
if (root) bindPage(root);
