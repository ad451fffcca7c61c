// My participants: search by name, code or phone; filter overdue / due soon / not contacted.
import { start, el } from "./app.js";
import { t, fmtDate } from "./i18n.js";
import { loadAll, summarize } from "./model.js";

const form = document.getElementById("find");
const LABELS = JSON.parse(document.getElementById("labels").textContent);
let data = null;
let info = null;

function render() {
  const q = form.q.value.trim().toLowerCase();
  const filter = form.filter.value;
  const shown = data.participants.filter((p) => {
    const i = info.get(p.id);
    if (filter === "overdue" && !i.overdue) return false;
    if (filter === "due" && !i.dueSoon) return false;
    if (filter === "stale" && !i.stale) return false;
    if (!q) return true;
    return [p.full_name, p.code, p.phone].some((v) => v && String(v).toLowerCase().includes(q));
  });
  const items = shown.map((p) => {
    const i = info.get(p.id);
    const flags = [];
    if (p.status && p.status !== "active") flags.push(el("span", { class: "tag", text: LABELS.statuses[p.status] || p.status }));
    if (i.overdue) flags.push(el("span", { class: "tag warn", text: t("Overdue") }));
    if (p._pending) flags.push(el("span", { class: "tag", text: t("Waiting to sync") }));
    return el("li", { class: "card" },
      el("a", { href: `/participants/view?id=${p.id}`, class: "name", text: p.full_name || p.code }),
      el("span", { class: "meta", text: `${p.code || ""} · ${i.last ? t("Last contact %(date)s", { date: fmtDate(i.last) }) : t("Never contacted")}` }),
      ...flags);
  });
  document.getElementById("list").replaceChildren(
    ...(items.length ? items : [el("li", { class: "empty", text: t("No participants match.") })]));
  document.getElementById("count").textContent = t("%(n)s shown", { n: items.length });
  document.body.dataset.ready = "yes";
}

async function load() {
  data = await loadAll();
  info = summarize(data);
  render();
}

const wanted = new URLSearchParams(location.search).get("filter");
if (wanted && form.querySelector(`[name=filter][value="${CSS.escape(wanted)}"]`)) form.filter.value = wanted;
form.addEventListener("input", render);
form.addEventListener("submit", (e) => { e.preventDefault(); render(); });
await start();
await load();
document.addEventListener("peerlog:data", load);
