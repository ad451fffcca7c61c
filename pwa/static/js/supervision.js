// A supervision (SPEC 2): the coordinator's contact with one of their peer leaders, when, how,
// the topics, the concerns raised and the follow-up agreed. Saved on the phone like a contact,
// offline or not; the server sets the supervisor and the peer leader's community.
import { el } from "./app.js";
import { save, isoNow } from "./outbox.js";
import { t, fmtDateTime } from "./i18n.js";
import { uuid } from "./uuid.js";
import { card, fillLeaders, labelOf, latest, nameOf, onSubmit, openScreen, showList } from "./coordinator.js";

const form = document.getElementById("supervision");
let leaders = [];

function read() {
  const at = form.occurred_at.value ? new Date(form.occurred_at.value) : null;
  const fields = {
    peer_leader_id: form.peer_leader_id.value || null,
    occurred_at: at && !Number.isNaN(at.getTime()) ? isoNow(at) : null,
    mode: form.querySelector("[name=mode]:checked")?.value || null,
    topics: [...form.querySelectorAll("[name=topics]:checked")].map((c) => c.value),
  };
  for (const n of ["concerns", "follow_up"]) if (form[n].value.trim()) fields[n] = form[n].value.trim();
  return fields;
}

async function drawRecent() {
  const rows = await latest("supervisions", "occurred_at");
  showList(rows.map((s) => card(nameOf(leaders, s.peer_leader_id),
    `${fmtDateTime(s.occurred_at)} · ${labelOf(form, "mode", s.mode)}`,
    (s.topics || []).map((v) => labelOf(form, "topics", v)).join("、"),
    s.concerns ? t("Concerns raised: %(text)s", { text: s.concerns }) : null,
    s.follow_up ? t("Follow-up agreed: %(text)s", { text: s.follow_up }) : null,
    s)), t("No supervision recorded on this phone yet."));
}

onSubmit(form, {
  read,
  entity: "supervision",
  required: () => ({ peer_leader_id: t("Choose a peer leader."), occurred_at: t("Enter the date and time.") }),
  async store(fields) {
    await save("supervision", uuid(), fields, 0);
    const who = form.peer_leader_id.selectedOptions[0]?.textContent || "";
    document.getElementById("saved").replaceChildren(t("Saved on this phone. Waiting to sync."), " ", el("strong", { text: who }));
    form.reset();
    form.occurred_at.value = isoNow().slice(0, 16);
    await drawRecent();
  },
});

await openScreen(form, {
  fill(list) {
    fillLeaders(form.peer_leader_id, list);
    form.occurred_at.value = isoNow().slice(0, 16);
  },
  redraw(list) {
    leaders = list;
    return drawRecent();
  },
});
document.body.dataset.ready = "yes";
