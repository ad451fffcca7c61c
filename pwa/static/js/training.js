// A training session for peer leaders (SPEC 2): title, date (today unless changed, never ahead),
// hours, the peer leaders present, a note. Saved on the phone, offline or not; the server sets
// the trainer and the coordinator's community.
import { el } from "./app.js";
import { todayISO } from "./dates.js";
import { save } from "./outbox.js";
import { t, fmtDate, fmtNumber } from "./i18n.js";
import { uuid } from "./uuid.js";
import { card, latest, nameOf, onSubmit, openScreen, showList } from "./coordinator.js";

const form = document.getElementById("training");
let leaders = [];

function read() {
  const fields = {
    title: form.title.value.trim() || null,
    held_on: form.held_on.value || null,
    attendee_ids: [...form.querySelectorAll("[name=attendee_ids]:checked")].map((c) => c.value),
  };
  if (form.hours.value !== "") fields.hours = Number(form.hours.value);
  if (form.note.value.trim()) fields.note = form.note.value.trim();
  return fields;
}

async function drawRecent() {
  const rows = await latest("trainings", "held_on");
  showList(rows.map((r) => card(r.title || "",
    [fmtDate(r.held_on), r.hours != null ? t("%(n)s hours", { n: fmtNumber(r.hours) }) : null].filter(Boolean).join(" · "),
    (r.attendee_ids || []).map((id) => nameOf(leaders, id)).join("、"),
    r)), t("No training recorded on this phone yet."));
}

function fill(list) {
  const active = list.filter((l) => l.active);
  document.getElementById("attendees").replaceChildren(...active.map((l) =>
    el("label", { class: "check big" },
      el("input", { type: "checkbox", name: "attendee_ids", value: l.id }), ` ${l.name}`)));
  form.held_on.value = todayISO();
  form.held_on.max = todayISO();
}

onSubmit(form, {
  read,
  entity: "training",
  required: () => ({ title: t("Required."), held_on: t("Enter the date.") }),
  async store(fields) {
    await save("training", uuid(), fields, 0);
    document.getElementById("saved").textContent = t("Saved on this phone. Waiting to sync.");
    form.reset();
    form.held_on.value = todayISO();
    await drawRecent();
  },
});

await openScreen(form, {
  fill,
  redraw(list) {
    leaders = list;
    return drawRecent();
  },
});
document.body.dataset.ready = "yes";
