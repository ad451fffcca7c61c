// Settings: storage persistence and usage, and sign-out (which warns when records are waiting,
// then wipes IndexedDB and caches).
import { start, wipeAndLeave } from "./app.js";
import { count } from "./db.js";
import { t, fmtNumber } from "./i18n.js";
import { apiHeaders, deviceId } from "./device.js";
import { canSendInBackground } from "./phone.js";
import { waitingFile } from "./outbox.js";

// Every part of the Storage API is checked on its own: Safari 15.2–16 has persisted() and
// persist() but no estimate(), and WebKit without the Storage API has none of them.
async function storage() {
  const persisted = document.getElementById("persisted");
  const usage = document.getElementById("usage");
  const store = navigator.storage;
  let yes = null;
  try {
    if (store?.persisted) yes = await store.persisted();
    if (!yes && store?.persist) yes = await store.persist();
  } catch {
    yes = null;
  }
  persisted.textContent = yes === null
    ? t("This browser cannot say whether data is protected.")
    : yes
      ? t("Data on this phone is protected from automatic deletion.")
      : t("The browser may delete data on this phone when space runs low. Sync often.");
  let estimate = null;
  try {
    if (store?.estimate) estimate = await store.estimate();
  } catch {
    estimate = null;
  }
  usage.textContent = estimate
    ? t("Using %(used)s MB of %(quota)s MB.", {
      used: fmtNumber((estimate.usage || 0) / 1048576),
      quota: fmtNumber(Math.round((estimate.quota || 0) / 1048576)),
    })
    : t("This browser does not say how much space Peerlog uses.");
}

// Without Background Sync (iPhones, Firefox) records leave only while the app is open: say so.
function background() {
  document.getElementById("background").textContent = canSendInBackground()
    ? t("This browser sends waiting records in the background, even after Peerlog is closed.")
    : t("This browser cannot send records in the background: they wait on this phone until Peerlog is open with a connection. Open Peerlog when you have a network.");
}

async function waitingSummary() {
  const n = await count("outbox");
  document.getElementById("waiting-summary").textContent = n
    ? t("%(n)s records have not reached the server yet.", { n })
    : t("Every record on this phone has reached the server.");
  return n;
}

// A download, not a share: it works offline in every browser, and the file can then be sent
// in WeChat or by cable like any other.
async function saveWaiting() {
  const status = document.getElementById("save-waiting-status");
  const file = await waitingFile(deviceId());
  if (!file.mutations.length) {
    status.textContent = t("No records are waiting: there is nothing to save.");
    return;
  }
  const day = new Date().toISOString().slice(0, 10);
  const name = `peerlog-waiting-${day}-${file.device_id.slice(0, 8)}.json`;
  const url = URL.createObjectURL(new Blob([JSON.stringify(file)], { type: "application/json" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  status.textContent = t("Saved %(n)s records to the file %(file)s. Send it to your coordinator; the records also stay on this phone until it syncs.", { n: file.mutations.length, file: name });
}

async function signOut() {
  try {
    await fetch("/api/auth/logout", { method: "POST", headers: apiHeaders() });
  } catch {
    // Offline: the session ends on the server when it expires; the data here goes now.
  }
  await wipeAndLeave();
}

// The language links go through the server, which sets the `lang` cookie; offline the service
// worker answers them instead, so set the cookie here first: it is the same either way.
for (const link of document.querySelectorAll("a[href^='/lang/']")) {
  link.addEventListener("click", () => {
    const lang = link.getAttribute("lang");
    document.cookie = `lang=${encodeURIComponent(lang)}; path=/; max-age=31536000; samesite=lax`;
  });
}

document.getElementById("signout").addEventListener("click", async () => {
  const waiting = await count("outbox");
  if (!waiting) return signOut();
  const warning = document.getElementById("signout-warning");
  warning.textContent = t("%(n)s records have not reached the server yet. Signing out now loses them.", { n: waiting });
  warning.hidden = false;
  const anyway = document.getElementById("signout-anyway");
  anyway.hidden = false;
  anyway.focus();
});
document.getElementById("signout-anyway").addEventListener("click", signOut);
document.getElementById("save-waiting").addEventListener("click", saveWaiting);

await start();
background();
await waitingSummary();
await storage();
document.body.dataset.ready = "yes";
