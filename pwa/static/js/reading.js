// Record a reading: HbA1c, blood pressure or weight for one participant, on a day (today unless
// changed, never ahead), from a clinic record or reported by the participant. Blood pressure is
// two measurement rows with the same date (RECORDS.md), saved in one transaction.
import { start, afterSave, el } from "./app.js";
import { todayISO } from "./dates.js";
import { getMeta, setMeta } from "./db.js";
import { saveAll } from "./outbox.js";
import { t } from "./i18n.js";
import { checkReading } from "./validate.js";
import { fillParticipants, showErrors as showForm } from "./forms.js";
import { uuid } from "./uuid.js";

const form = document.getElementById("reading");
let people = new Map(); // the participants of the pick-list, by id
const MARKERS = { hba1c: ["hba1c"], bp: ["bp_systolic", "bp_diastolic"], weight: ["weight"] };
const chosen = () => form.querySelector("[name=marker]:checked").value;

function showMarker() {
  for (const box of form.querySelectorAll("[data-marker]")) box.hidden = box.dataset.marker !== chosen();
}

function read() {
  const num = (name) => (form[name].value === "" ? null : Number(form[name].value));
  return {
    participant_id: form.participant_id.value || null,
    measured_on: form.measured_on.value || null,
    source: form.querySelector("[name=source]:checked").value,
    note: form.note.value.trim() || null,
    values: Object.fromEntries(MARKERS[chosen()].map((m) => [m, num(m)])),
  };
}

const showErrors = (errors) => showForm(form, errors);

form.addEventListener("change", (e) => { if (e.target.name === "marker") showMarker(); });
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = read();
  const errors = checkReading(r, new Date(), people.get(r.participant_id));
  showErrors(errors);
  if (Object.keys(errors).length) return;
  const common = { participant_id: r.participant_id, measured_on: r.measured_on, source: r.source };
  if (r.note) common.note = r.note;
  await saveAll(Object.entries(r.values).map(([marker, value]) => ({
    entity: "measurement", id: uuid(), fields: { ...common, marker, value }, baseVersion: 0,
  })));
  await setMeta("last_source", r.source);
  const who = form.participant_id.selectedOptions[0]?.textContent || "";
  document.getElementById("saved").replaceChildren(t("Saved on this phone. Waiting to sync."), " ",
    el("a", { href: `/participants/view?id=${r.participant_id}`, text: who }));
  for (const names of Object.values(MARKERS)) for (const n of names) form[n].value = "";
  form.note.value = "";
  afterSave();
});

await start();
people = new Map((await fillParticipants(form.participant_id)).map((p) => [p.id, p]));
const params = new URLSearchParams(location.search);
if (params.get("participant")) form.participant_id.value = params.get("participant");
const marker = form.querySelector(`[name=marker][value="${params.get("marker")}"]`);
if (marker) marker.checked = true;
const source = form.querySelector(`[name=source][value="${await getMeta("last_source")}"]`);
if (source) source.checked = true;
form.measured_on.value = todayISO();
form.measured_on.max = todayISO();
showMarker();
document.body.dataset.ready = "yes";
