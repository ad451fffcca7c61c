// A questionnaire for one participant (the distress questions first of all). Instruments are data
// the phone pulls (RECORDS.md: items with their wording in both languages, the answer scale, the
// scoring rule, a cut-off): one short screen with every item, each answer a large button; the
// score and what it means are shown once saved. The server computes the score it keeps.
import { start, afterSave, el } from "./app.js";
import { todayISO } from "./dates.js";
import { all } from "./db.js";
import { save } from "./outbox.js";
import { t, lang, fmtNumber } from "./i18n.js";
import { nextTimePoint, score } from "./model.js";
import { checkEnrolment, checkFields } from "./validate.js";
import { fillParticipants, showErrors as showForm } from "./forms.js";
import { uuid } from "./uuid.js";

const form = document.getElementById("assessment");
const params = new URLSearchParams(location.search);
const localized = (texts) => (texts ? texts[lang] || texts.en || Object.values(texts)[0] : "");
let instruments = new Map();
let assessments = [];
let people = new Map(); // the participants of the pick-list, by id
let timeChosen = false; // the time point was set by hand: a change of participant keeps it

const definition = () => instruments.get(form.instrument_id.value)?.definition || null;

function answerButtons(item, scale) {
  const buttons = [];
  for (let v = scale.min; v <= scale.max; v++) {
    buttons.push(el("label", { class: "choice" },
      el("input", { type: "radio", name: "item:" + item.id, value: String(v) }),
      el("b", { text: String(v) }), localized(scale.labels?.[v])));
  }
  return el("fieldset", { class: "item", "aria-describedby": "err-item-" + item.id },
    el("legend", { text: localized(item.text) }),
    el("div", { class: "scale" }, ...buttons),
    el("p", { class: "error", id: "err-item-" + item.id }));
}

function drawItems() {
  const def = definition();
  document.getElementById("title").textContent = def ? localized(def.title) : t("Questionnaire");
  const { min, max } = def?.scale || {};
  // The instrument's own prompt ("During the past month, how much…"), then how to answer.
  document.getElementById("intro").textContent = def ? [localized(def.prompt),
    t("Read each question aloud and tap the answer the participant gives, from %(min)s to %(max)s.", { min, max }),
  ].filter(Boolean).join(" ") : "";
  document.getElementById("intro").hidden = !def;
  document.getElementById("items").replaceChildren(...(def ? def.items.map((item) => answerButtons(item, def.scale)) : []));
}

function suggestTimePoint() {
  if (timeChosen || !form.participant_id.value || !form.instrument_id.value) return;
  const point = nextTimePoint(assessments, form.participant_id.value, form.instrument_id.value);
  form.querySelector(`[name=time_point][value="${point}"]`).checked = true;
}

function read() {
  const def = definition();
  const answers = {};
  for (const item of def?.items || []) {
    const picked = form.querySelector(`[name="item:${item.id}"]:checked`);
    if (picked) answers[item.id] = Number(picked.value);
  }
  const fields = {
    participant_id: form.participant_id.value || null,
    instrument_id: form.instrument_id.value || null,
    time_point: form.querySelector("[name=time_point]:checked").value,
    assessed_on: form.assessed_on.value || null,
    answers,
  };
  if (form.note.value.trim()) fields.note = form.note.value.trim();
  return fields;
}

function check(fields) {
  const errors = checkFields("assessment", fields);
  if (!fields.participant_id) errors.participant_id = t("Choose a participant.");
  if (!fields.assessed_on) errors.assessed_on = t("Enter the date.");
  if (!errors.assessed_on) Object.assign(errors, checkEnrolment("assessment", fields, people.get(fields.participant_id)));
  for (const item of definition()?.items || []) {
    if (!(item.id in fields.answers)) errors["item-" + item.id] = t("Choose an answer.");
  }
  return errors;
}

// An item's message is on its fieldset: its first answer takes the focus.
const showErrors = (errors) => {
  showForm(form, errors);
  const first = Object.keys(errors)[0];
  if (first?.startsWith("item-")) form.querySelector(`[name="item:${first.slice(5)}"]`)?.focus();
};

function showResult(fields) {
  const def = definition();
  const value = score(def, fields.answers);
  const high = def.cutoff && value >= def.cutoff.value;
  document.getElementById("score").textContent = fmtNumber(value);
  document.getElementById("meaning").textContent = !def.cutoff ? ""
    : high ? localized(def.cutoff.label)
      : t("Below %(value)s: under the cut-off.", { value: fmtNumber(def.cutoff.value) });
  document.getElementById("result-box").classList.toggle("warn", Boolean(high));
  document.getElementById("back").href = `/participants/view?id=${fields.participant_id}`;
  document.getElementById("again").href = `/assessments/new?instrument=${fields.instrument_id}`;
  form.hidden = true;
  document.getElementById("result").hidden = false;
  document.getElementById("h-result").focus();
}

form.addEventListener("change", (e) => {
  const name = e.target.name || "";
  if (name.startsWith("item:")) {
    // The chosen answer is filled in even where CSS :has() is missing (Chrome before 105).
    for (const box of form.querySelectorAll(`[name="${name}"]`)) box.closest(".choice").classList.toggle("on", box.checked);
  }
  if (name === "time_point") timeChosen = true;
  if (name === "instrument_id") drawItems();
  if (name === "participant_id" || name === "instrument_id") suggestTimePoint();
});
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const fields = read();
  const errors = check(fields);
  showErrors(errors);
  if (Object.keys(errors).length) return;
  await save("assessment", uuid(), fields, 0);
  showResult(fields);
  afterSave();
});

await start();
people = new Map((await fillParticipants(form.participant_id)).map((p) => [p.id, p]));
instruments = new Map((await all("instruments"))
  .filter((i) => i.active !== false && i.definition?.items?.length).map((i) => [i.id, i]));
assessments = await all("assessments");
form.instrument_id.append(...[...instruments.values()].map((i) => el("option", { value: i.id, text: localized(i.definition.title) || i.id })));
const wanted = params.get("instrument") || "dds2";
form.instrument_id.value = instruments.has(wanted) ? wanted : (instruments.keys().next().value || "");
document.getElementById("instrument-box").hidden = instruments.size < 2;
if (!instruments.size) {
  document.getElementById("missing").hidden = false;
  form.hidden = true;
}
if (params.get("participant")) form.participant_id.value = params.get("participant");
form.assessed_on.value = todayISO();
form.assessed_on.max = todayISO();
drawItems();
suggestTimePoint();
document.body.dataset.ready = "yes";
