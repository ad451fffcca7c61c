// Roster for volunteers: their committee's participants, roster fields only (the server sends a
// volunteer nothing else), as a table that prints cleanly.
import { start, el } from "./app.js";
import { t, fmtDate } from "./i18n.js";
import { loadAll, summarize } from "./model.js";

async function render() {
  const data = await loadAll();
  const info = summarize(data);
  const rows = data.participants.map((p) => {
    const i = info.get(p.id);
    return el("tr", { class: i.overdue ? "overdue" : null },
      el("th", { scope: "row", text: p.full_name || p.code }),
      el("td", { text: p.address || "" }),
      el("td", { text: p.phone || "" }),
      el("td", { text: (p.needs_visit ? t("Needs a visit") + " · " : "") + (i.overdue ? t("Overdue") : "") }),
      el("td", { text: fmtDate(i.last) }),
      el("td", { text: fmtDate(i.next) }));
  });
  document.querySelector("#roster tbody").replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: "6", class: "empty", text: t("Nobody on the roster yet.") }))]));
  document.body.dataset.ready = "yes";
}

document.getElementById("print").addEventListener("click", () => window.print());
await start();
await render();
document.addEventListener("peerlog:data", render);
