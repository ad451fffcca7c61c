// Phones that cannot send in the background: iPhones, and every browser without Background Sync.
// There records leave the phone only while Peerlog is open, so it syncs whenever it comes back to
// the foreground, says loudly when records have waited on the phone for more than a day, and on an
// iPhone outside the home screen shows how to add it there (Safari may delete a browser tab's
// data after 7 days without a visit; a home-screen app keeps it).
import { tx, req } from "./db.js";
import { t, fmtDateTime } from "./i18n.js";

const DAY = 24 * 60 * 60 * 1000;
const DISMISSED = "peerlog.home_guide_dismissed";
// In-app browsers (WeChat, QQ, Weibo, Alipay, DingTalk, Lark) cannot add to the home screen:
// the sign-in pages tell their users to open a real browser instead.
const IN_APP = /MicroMessenger|\bQQ\/|Weibo|AlipayClient|DingTalk|Lark/i;
let signedIn = false;
let closedHere = false;

// Feature detection only: the page may sync from the worker when the browser has Background Sync.
export const canSendInBackground = () => "serviceWorker" in navigator && "SyncManager" in globalThis;

// `sync` runs whenever the app comes back: shown again after another app or the lock screen
// (visibilitychange), or restored from the back/forward cache, where no start() runs (pageshow).
// Opening and `online` are app.js's own triggers.
export function watchForeground(sync) {
  signedIn = true;
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") sync();
  });
  window.addEventListener("pageshow", (e) => { if (e.persisted) sync(); });
}

// Only Safari on iOS and iPadOS has navigator.standalone: false in a browser tab, true when
// opened from the home screen. (display-mode covers the same on a newer iPhone.)
export function outsideHomeScreen() {
  if (navigator.standalone !== false) return false;
  if (globalThis.matchMedia?.("(display-mode: standalone)").matches) return false;
  return !IN_APP.test(navigator.userAgent);
}

// The outbox is in mutation order, so its first entry is the record that has waited longest.
async function oldestWaiting() {
  const first = await tx(["outbox"], "readonly", (s) => req(s.outbox.openCursor()));
  return first?.value?.client_time ?? null;
}

// Called with the status bar: the "waiting for more than a day" banner, and the home-screen guide.
export async function renderWaiting(waiting) {
  const banner = document.getElementById("waited");
  if (banner) {
    const since = waiting ? await oldestWaiting().catch(() => null) : null;
    const old = Boolean(since) && Date.now() - new Date(since).getTime() > DAY;
    banner.hidden = !old;
    if (old) {
      banner.querySelector("[data-w=text]").textContent = t(
        "%(n)s records have waited on this phone since %(when)s. They are sent only while Peerlog is open and connected: open it where there is a network.",
        { n: waiting, when: fmtDateTime(since) });
    }
  }
  homeGuide(waiting);
}

// Shown after sign-in on an iPhone outside the home screen; "Not now" hides it, but it comes back
// whenever records are waiting on the phone, which is when losing the tab's data would hurt.
function homeGuide(waiting) {
  const guide = document.getElementById("home-guide");
  if (!guide || !signedIn || !outsideHomeScreen()) return;
  const dismissed = localStorage.getItem(DISMISSED) === "yes";
  guide.hidden = closedHere || (dismissed && !waiting);
  const note = guide.querySelector("[data-g=waiting]");
  note.hidden = !waiting;
  note.textContent = waiting ? t("%(n)s records are waiting on this phone.", { n: waiting }) : "";
  const close = guide.querySelector("button");
  close.onclick = () => {
    localStorage.setItem(DISMISSED, "yes");
    closedHere = true;
    guide.hidden = true;
  };
}
