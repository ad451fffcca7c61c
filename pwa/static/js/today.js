// Today: who is overdue or due, urgent referrals, and the way to log a contact.
import { start, el } from "./app.js";
import { todayISO, addDays } from "./dates.js";
import { t, fmtDate } from "./i18n.js";
import { loadAll, summarize, active } from "./model.js";

function row(p, note, cls = "") {
  return el("li", { class: "card " + cls },
    el("a", { href: `/participants/view?id=${p.id}`, class: "name", text: p.full_name || p.code }),
    el("span", { class: "meta", text: note }),
    el("a", { href: `/contacts/new?participant=${p.id}`, class: "button small not-volunteer", text: t("Log contact") }));
}

const SHOW = 30;

// A long list is cut short: Today is for what to do next, the full list is one tap away.
function fill(list, items, emptyText, filter, total) {
  const shown = items.slice(0, SHOW);
  if (total > SHOW) {
    shown.push(el("li", { class: "more" }, el("a", { href: `/participants?filter=${filter}`, class: "button wide",
      text: t("See all %(n)s", { n: total }) })));
  }
  list.replaceChildren(...(shown.length ? shown : [el("li", { class: "empty", text: emptyText })]));
}

async function render() {
  const data = await loadAll();
  const info = summarize(data);
  const people = data.participants.filter(active);
  const byId = new Map(data.participants.map((p) => [p.id, p]));
  const overdue = people.filter((p) => info.get(p.id).overdue);
  const due = people.filter((p) => !info.get(p.id).overdue && info.get(p.id).dueSoon);
  const since = addDays(todayISO(), -14);
  const urgent = data.contacts
    .filter((c) => c.referral === "urgent" && (c.occurred_at || "") >= since && byId.has(c.participant_id))
    .sort((a, b) => (b.occurred_at || "").localeCompare(a.occurred_at || ""));
  fill(document.getElementById("urgent"),
    urgent.slice(0, SHOW + 1).map((c) => row(byId.get(c.participant_id), t("Urgent referral on %(date)s", { date: fmtDate(c.occurred_at) }), "urgent")),
    t("No urgent referrals."), "all", urgent.length);
  fill(document.getElementById("overdue"),
    overdue.slice(0, SHOW + 1).map((p) => {
      const i = info.get(p.id);
      const note = i.followUpMissed ? t("Follow-up was due %(date)s", { date: fmtDate(i.next) })
        : i.last ? t("Last contact %(date)s", { date: fmtDate(i.last) }) : t("Never contacted");
      return row(p, note, "overdue");
    }),
    t("Nobody is overdue."), "overdue", overdue.length);
  fill(document.getElementById("due"),
    due.slice(0, SHOW + 1).map((p) => row(p, info.get(p.id).dueToday ? t("Due today") : t("Due %(date)s", { date: fmtDate(info.get(p.id).next) }))),
    t("No follow-ups due this week."), "due", due.length);
  const visit = people.filter((p) => p.needs_visit);
  fill(document.getElementById("visit"),
    visit.slice(0, SHOW + 1).map((p) => row(p, p.needs_visit_reason || t("Needs a visit"), "overdue")),
    t("Nobody needs a visit."), "all", visit.length);
  document.getElementById("today-date").textContent = fmtDate(new Date());
  document.body.dataset.ready = "yes";
  performance.mark("peerlog:today-ready");
}

await start();
await render();
document.addEventListener("peerlog:data", render);
