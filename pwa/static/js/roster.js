// Roster for volunteers: their committee's participants, roster fields only (the server sends a
// volunteer nothing else), as cards that fit a 360 px phone and print one block per person.
// Overdue is model.js's one definition: active participants only.
import { start, el } from "./app.js";
import { t, fmtDate } from "./i18n.js";
import { loadAll, summarize } from "./model.js";
import { getMeta } from "./db.js";

const form = document.getElementById("find");
const LABELS = JSON.parse(document.getElementById("labels").textContent);
const collator = new Intl.Collator(document.documentElement.lang || "zh-CN", { numeric: true });
let data = null;
let info = null;
let leaders = {};

function line(label, value) {
  return value ? el("p", { class: "line" }, el("span", { class: "label", text: label + " " }), value) : null;
}

function card(p) {
  const i = info.get(p.id);
  const status = p.status || "active";
  return el("li", { class: "card" + (i.overdue ? " overdue" : "") },
    el("a", { href: `/participants/view?id=${p.id}`, class: "name", text: p.full_name || p.code }),
    el("span", { class: "tags" },
      status !== "active" ? el("span", { class: "tag", text: LABELS.statuses[status] || status }) : null,
      i.overdue ? el("span", { class: "tag warn", text: t("Overdue") }) : null,
      p.needs_visit ? el("span", { class: "tag warn", text: t("Needs a visit") }) : null),
    line(t("Building/unit"), p.address),
    line(t("Phone"), p.phone ? el("a", { href: `tel:${p.phone}`, text: p.phone }) : null),
    line(t("Peer leader"), leaders[p.peer_leader_id]),
    line(t("Last contact"), i.last ? fmtDate(i.last) : t("Never contacted")),
    line(t("Next follow-up"), i.next ? fmtDate(i.next) : null),
    p.needs_visit && p.needs_visit_reason ? line(t("Why a visit is needed"), p.needs_visit_reason) : null);
}

const ORDER = {
  name: (a, b) => collator.compare(a.full_name || "", b.full_name || ""),
  address: (a, b) => collator.compare(a.address || "", b.address || ""),
  overdue: (a, b) => Number(info.get(b.id).overdue) - Number(info.get(a.id).overdue) || ORDER.name(a, b),
};

function render() {
  const q = form.q.value.trim().toLowerCase();
  const shown = data.participants
    .filter((p) => !q || [p.full_name, p.address, p.phone].some((v) => v && String(v).toLowerCase().includes(q)))
    .sort(ORDER[form.sort.value] || ORDER.name);
  document.getElementById("roster").replaceChildren(...(shown.length ? shown.map(card)
    : [el("li", { class: "empty", text: data.participants.length ? t("No participants match.") : t("Nobody on the roster yet.") })]));
  document.getElementById("count").textContent = t("%(n)s shown", { n: shown.length });
  document.body.dataset.ready = "yes";
}

async function load() {
  data = await loadAll();
  info = summarize(data);
  leaders = (await getMeta("user"))?.peer_leaders || {};
  render();
}

form.addEventListener("input", render);
form.addEventListener("submit", (e) => e.preventDefault());
document.getElementById("print").addEventListener("click", () => window.print());
await start();
await load();
document.addEventListener("peerlog:data", load);
