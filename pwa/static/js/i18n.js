// Strings built in JS use the same gettext catalogue as the templates, served as JSON by the
// server (`/i18n/<lang>.json`, precached by the service worker). Dates and numbers use Intl.
export const lang = document.documentElement.lang || "zh-CN";
let messages = {};

export async function loadCatalogue() {
  const url = document.querySelector('meta[name="peerlog-i18n"]')?.content;
  if (!url || lang === "en") return;
  try {
    const res = await fetch(url);
    if (res.ok) messages = await res.json();
  } catch {
    // Offline and not cached: English beats an empty screen.
  }
}

// t("%(n)s waiting", {n: 3}) — same placeholders as Python's gettext in the templates.
export function t(msgid, values) {
  const text = messages[msgid] || msgid;
  return values ? text.replace(/%\((\w+)\)[sd]/g, (_, k) => String(values[k] ?? "")) : text;
}

// pt("status", "Open"): a word whose meaning needs a context (gettext's pgettext).
export const pt = (context, msgid, values) => {
  const key = context + "\x04" + msgid;
  return messages[key] ? t(key, values) : t(msgid, values);
};

// A server message kept as [template, parameters] (a push result's `templates`), in this
// page's language: parameters may be messages themselves, or lists of option codes.
export function message(m) {
  if (typeof m === "string") return t(m);
  const [template, params] = m;
  const value = (v) => (v?.message ? message(v.message)
    : v?.list ? v.list.join(lang === "zh-CN" ? "、" : ", ") : String(v));
  return t(template, Object.fromEntries(Object.entries(params || {}).map(([k, v]) => [k, value(v)])));
}

// A refused record's messages per field, in this page's language when the server sent their
// templates, else as they came (looked up, in case they are a known msgid).
export const reasons = (item, field) => (item.templates?.[field]
  ? item.templates[field].map(message)
  : [].concat(item.errors?.[field] || []).map((m) => t(m)));

const dateFmt = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short", day: "numeric" });
const timeFmt = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const clockFmt = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const numFmt = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });

// "2026-11-20" is a calendar date: read it as local midnight, not UTC, or it shifts a day west.
function toDate(value) {
  if (value instanceof Date) return value;
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return new Date(value + "T00:00:00");
  return new Date(value);
}

export const fmtDate = (v) => (v ? dateFmt.format(toDate(v)) : "");
export const fmtDateTime = (v) => (v ? timeFmt.format(toDate(v)) : "");
// A moment today as its time only ("09:41"), another day with its date: short enough for the
// one-line status bar.
export const fmtWhen = (v) => {
  if (!v) return "";
  const d = toDate(v);
  return d.toDateString() === new Date().toDateString() ? clockFmt.format(d) : timeFmt.format(d);
};
export const fmtNumber = (v) => (v === null || v === undefined || v === "" ? "" : numFmt.format(v));
