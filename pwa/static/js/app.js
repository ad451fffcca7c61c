// What every screen does first: load the strings, register the service worker, check who is
// signed in, draw the status bar and keep sync running (open, back in the foreground, `online`,
// after saves, a timer).
import { getMeta, setMeta, count } from "./db.js";
import { syncNow, listen, wipeLocal } from "./sync.js";
import { SYNC } from "./outbox.js";
import { loadCatalogue, t, fmtWhen } from "./i18n.js";
import { apiHeaders } from "./device.js";
import { watchForeground, renderWaiting } from "./phone.js";
import { forgetKey } from "./devicekey.js";

const PERIOD = 3 * 60 * 1000;
const $ = (sel) => document.querySelector(sel);
let timer = null;
let backoff = 0;
// navigator.onLine only says a network interface is up; a phone on a dead Wi-Fi is "online" and
// unreachable. The status bar shows offline when the last call to the server failed too.
let reachable = true;

export async function start() {
  await loadCatalogue();
  registerWorker();
  await alignLanguage();
  const user = await currentUser();
  // Volunteers keep the roster and contact details; logging contacts is for peer leaders.
  if (user?.role) document.body.dataset.role = user.role;
  const staff = $("#nav-admin");
  if (staff && user && (user.role === "coordinator" || user.role === "admin")) staff.hidden = false;
  const roster = $("#nav-roster");
  if (roster && user && user.role === "volunteer") roster.hidden = false;
  listen(onSyncEvent);
  window.addEventListener("online", () => { backoff = 0; run(); });
  window.addEventListener("offline", renderStatus);
  $("#sync-now")?.addEventListener("click", () => { backoff = 0; run(); });
  await renderStatus();
  if (user) {
    // Ask once signed in: a browser may grant it silently to an installed or much-used app.
    navigator.storage?.persist?.().catch(() => {});
    // Without Background Sync (iPhones) this is when records leave the phone.
    watchForeground(() => { backoff = 0; run(); });
    run();
  }
  return user;
}

async function goSignIn() {
  location.assign("/signin?next=" + encodeURIComponent(location.pathname + location.search));
}

// Sign-out and revocation: wipe IndexedDB and caches. A revoked device id is dead, so a new one is
// made at the next sign-in; the mutation counter survives a sign-out so ids never repeat.
export async function wipeAndLeave({ revoked = false } = {}) {
  const next = await getMeta("next_mutation_id", 1).catch(() => 1);
  // The worker goes too, or it would cache pages again as soon as the sign-in page loads;
  // the next start after sign-in registers it afresh.
  navigator.serviceWorker?.controller?.postMessage({ type: "retire" });
  for (const reg of (await navigator.serviceWorker?.getRegistrations?.()) || []) await reg.unregister();
  // A device key is bound to the revoked device: dead too. Before the wipe: nothing may wait
  // between the wipe and leaving, or the screen's code still running finds no database.
  if (revoked) await forgetKey();
  await wipeLocal();
  if (revoked) {
    localStorage.removeItem("peerlog.device_id");
    localStorage.removeItem("peerlog.next_mutation_id");
  } else {
    const kept = Number(localStorage.getItem("peerlog.next_mutation_id")) || 1;
    localStorage.setItem("peerlog.next_mutation_id", String(Math.max(kept, next)));
  }
  location.replace(revoked ? "/signin?why=revoked" : "/signin");
  // The page is going away: the screen that called must not carry on against the wiped store
  // (its reads would fail with "wiped" as uncaught errors).
  await new Promise(() => {});
}

// How long a screen waits for the server to confirm who is signed in when the phone already
// knows: a network that takes the request and never answers (a weak signal, a captive portal)
// must not keep the screen from opening.
const CONFIRM_MS = 3000;

async function currentUser() {
  const known = await getMeta("user");
  if (!navigator.onLine) return known;
  const confirmed = askServer(known);
  if (!known) return confirmed;
  // The answer, whenever it comes, is still acted on (another person, signed out, revoked).
  return Promise.race([confirmed, new Promise((resolve) => setTimeout(() => resolve(known), CONFIRM_MS))]);
}

// The signed-in user as the server says (`known`: what the phone had), acted on.
async function askServer(known) {
  let user = known;
  try {
    const res = await fetch("/api/auth/me", { headers: apiHeaders(), cache: "no-store" });
    reachable = true;
    if (res.status === 200) {
      const body = await res.json();
      // `/api/auth/me` answers {user: "<id>", role, display_name, …}.
      const me = { ...body, id: body.user };
      if (user && user.id !== me.id) {
        // Another person signed in on this phone: the previous person's data must not stay.
        await wipeLocal({ fresh: true });
      }
      await setMeta("user", me);
      user = me;
      navigator.serviceWorker?.controller?.postMessage({ type: "ensure-cache" });
    } else if (res.status === 401) {
      await goSignIn();
    } else if (res.status === 403) {
      const body = await res.json().catch(() => ({}));
      if (body.error === "device_revoked") await wipeAndLeave({ revoked: true });
    }
  } catch {
    // Network trouble: carry on with what the phone knows.
    reachable = false;
  }
  if (!user) $("#signed-out")?.removeAttribute("hidden");
  return user;
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(run, ms);
}

export async function run() {
  if (!navigator.onLine) return renderStatus();
  try {
    await syncNow();
    reachable = true;
    backoff = 0;
    schedule(PERIOD);
  } catch (err) {
    if (err.kind === "revoked") return wipeAndLeave({ revoked: true });
    if (err.kind === "signed_out") return goSignIn();
    // Network or server trouble: keep the queue and try again later, a little later each time
    // (at most every 30 s without a network answer, so coming back is noticed soon; 5 min for 5xx).
    reachable = Boolean(err.status);
    backoff = Math.min(backoff ? backoff * 2 : 2000, reachable ? 5 * 60 * 1000 : 30 * 1000);
    schedule(backoff + Math.random() * 1000);
  } finally {
    $("#sync-progress")?.setAttribute("hidden", "");
    renderStatus();
  }
}

// After a save: sync now when online, and ask for Background Sync so it also happens after the
// app is closed (the worker and this page share a Web Lock, see sync.js).
export async function afterSave() {
  renderStatus();
  try {
    const reg = await navigator.serviceWorker?.ready;
    await reg?.sync?.register(SYNC);
  } catch {
    // Not supported or not allowed: the page's own triggers cover it.
  }
  if (navigator.onLine) run();
}

function onSyncEvent(type, detail) {
  if (type === "revoked") return wipeAndLeave({ revoked: true });
  if (type === "progress") {
    const bar = $("#sync-progress");
    if (bar && detail.total > 0 && !detail.done) {
      bar.hidden = false;
      bar.max = detail.total;
      bar.value = detail.received;
    }
  }
  if (type === "changed") {
    renderStatus();
    document.dispatchEvent(new CustomEvent("peerlog:data"));
  }
}

export async function renderStatus() {
  const box = $("#status");
  if (!box) return;
  const [waiting, attention, last] = await Promise.all([
    count("outbox"), count("attention"), getMeta("last_sync"),
  ]).catch(() => [0, 0, null]);
  const online = navigator.onLine && reachable;
  box.querySelector("[data-s=net]").textContent = online ? t("Online") : t("Offline");
  box.dataset.online = online ? "yes" : "no";
  box.querySelector("[data-s=waiting]").textContent =
    waiting ? t("%(n)s waiting to sync", { n: waiting }) : t("All synced");
  box.dataset.waiting = String(waiting);
  box.querySelector("[data-s=last]").textContent =
    last ? t("Last sync %(when)s", { when: fmtWhen(last) }) : t("Not synced yet");
  const link = box.querySelector("[data-s=attention]");
  link.hidden = !attention;
  link.textContent = t("%(n)s need attention", { n: attention });
  await renderWaiting(waiting).catch(() => {});
  await renderNotice();
}

// "invite; at=…" from the last pull: shown until dismissed, then not again for that one.
async function renderNotice() {
  const banner = $("#account-notice");
  if (!banner) return;
  const [notice, seen] = await Promise.all([getMeta("notice"), getMeta("notice_seen")]).catch(() => []);
  banner.hidden = !(notice && notice.startsWith("invite") && notice !== seen);
  banner.querySelector("button").onclick = async () => {
    await setMeta("notice_seen", notice);
    banner.hidden = true;
  };
}

function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { type: "module", scope: "/" }).then((reg) => {
    const offer = () => {
      if (!reg.waiting || !navigator.serviceWorker.controller) return;
      const banner = $("#update");
      banner.hidden = false;
      banner.querySelector("button").onclick = () => reg.waiting?.postMessage({ type: "skip-waiting" });
    };
    offer();
    reg.addEventListener("updatefound", () => {
      reg.installing?.addEventListener("statechange", offer);
    });
  }).catch(() => {});
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // Only an update the user accepted reloads; the first install just takes control.
    if (!reloading && !$("#update")?.hidden) { reloading = true; location.reload(); }
  });
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data?.type === "revoked") wipeAndLeave({ revoked: true });
  });
}

// The service worker serves each screen in the language it keeps; the `lang` cookie is the
// server's. When they disagree (a language chosen before this worker, or on another tab) the
// cookie wins: tell the worker and load the screen again, once.
async function alignLanguage() {
  const cookie = document.cookie.match(/(?:^|;\s*)lang=([^;]+)/)?.[1];
  const worker = navigator.serviceWorker?.controller;
  if (!cookie || !worker || cookie === document.documentElement.lang) return;
  if (sessionStorage.getItem("peerlog-lang-aligned") === cookie) return;
  sessionStorage.setItem("peerlog-lang-aligned", cookie);
  const kept = new Promise((resolve) => {
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data?.type === "lang-kept") resolve();
    });
    setTimeout(resolve, 1000);
  });
  worker.postMessage({ type: "lang", lang: decodeURIComponent(cookie) });
  await kept;
  location.reload();
  await new Promise(() => {}); // the page is going away
}

// Small helpers the screens share.
// A sync may bring new data while the user types or has a menu open: the screen's `draw` runs
// again once they are done, never under their fingers. Redraws run one at a time, in order (two
// overlapping ones could draw older data last), as `draw({ background: true })`; a draw that
// finds the user busy once it has read the phone's database calls `later()` and draws nothing,
// and a menu that closes calls `whenDone()`.
export function redrawAfterSync(draw, busy) {
  let stale = false;
  let drawing = Promise.resolve();
  const redraw = () => { drawing = drawing.then(() => draw({ background: true })); };
  const whenDone = () => { if (stale && !busy()) { stale = false; redraw(); } };
  document.addEventListener("peerlog:data", () => { if (busy()) stale = true; else redraw(); });
  document.addEventListener("focusout", () => setTimeout(whenDone, 0));
  return { later: () => { stale = true; }, whenDone };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}
