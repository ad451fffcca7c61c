// Settings: storage persistence and usage, and sign-out (which warns when records are waiting,
// then wipes IndexedDB and caches).
import { start, wipeAndLeave } from "./app.js";
import { count } from "./db.js";
import { t, fmtNumber } from "./i18n.js";
import { apiHeaders } from "./device.js";

async function storage() {
  const persisted = document.getElementById("persisted");
  const usage = document.getElementById("usage");
  if (!navigator.storage?.persisted) {
    persisted.textContent = t("This browser cannot say whether data is protected.");
    return;
  }
  let yes = await navigator.storage.persisted();
  if (!yes && navigator.storage.persist) yes = await navigator.storage.persist();
  persisted.textContent = yes
    ? t("Data on this phone is protected from automatic deletion.")
    : t("The browser may delete data on this phone when space runs low. Sync often.");
  const { usage: used = 0, quota = 0 } = await navigator.storage.estimate();
  usage.textContent = t("Using %(used)s MB of %(quota)s MB.", {
    used: fmtNumber(used / 1048576), quota: fmtNumber(Math.round(quota / 1048576)),
  });
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

await start();
await storage();
document.body.dataset.ready = "yes";
