// This phone's device id: made once, kept in localStorage, sent as `x-peerlog-device` on every
// API call so the server can bind sessions to it and refuse it after an administrator revokes it.
import { uuid } from "./uuid.js";

const KEY = "peerlog.device_id";

export function deviceId() {
  let id = localStorage.getItem(KEY);
  if (!id) {
    id = uuid();
    localStorage.setItem(KEY, id);
  }
  return id;
}

// Headers for a JSON API call: device id, and the CSRF token Litestar expects on unsafe requests.
export function apiHeaders(extra = {}) {
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return {
    "content-type": "application/json",
    "x-peerlog-device": deviceId(),
    ...(csrf ? { "x-csrftoken": decodeURIComponent(csrf.slice("csrftoken=".length)) } : {}),
    ...extra,
  };
}
