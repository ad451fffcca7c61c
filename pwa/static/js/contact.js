// Log contact. Defaults: now, the last mode used, follow-up in 14 days. Saving writes the contact
// and its mutation in one IndexedDB transaction and returns at once; sync happens afterwards.
// `?fix=<mutation id>` opens a contact the server refused (from "needs attention") with what was
// entered and why it was refused; saving sends it again under the same id.
import { start, afterSave, el } from "./app.js";
import { todayISO, addDays } from "./dates.js";
import { get, getMeta, setMeta } from "./db.js";
import { save, isoNow, resolveAttention } from "./outbox.js";
import { t, reasons } from "./i18n.js";
import { checkContact, suggestsUrgent } from "./validate.js";
import { fillParticipants, showErrors as showForm } from "./forms.js";
import { uuid } from "./uuid.js";

const form = document.getElementById("contact");
const NUMBERS = ["duration_min", "glucose_mmol", "bp_systolic", "bp_diastolic", "weight_kg"];

function localNow() {
  return isoNow().slice(0, 16); // datetime-local wants "YYYY-MM-DDTHH:MM" in local time
}

async function defaults() {
  form.occurred_at.value = localNow();
  form.mode.value = (await getMeta("last_mode")) || "home_visit";
  form.follow_up_on.value = addDays(todayISO(), 14);
}

function read() {
  const num = (name) => (form[name].value === "" ? null : Number(form[name].value));
  const text = (name) => form[name].value.trim() || null;
  const fields = {
    participant_id: form.participant_id.value || null,
    occurred_at: form.occurred_at.value ? isoNow(new Date(form.occurred_at.value)) : null,
    mode: form.mode.value,
    functions: [...form.querySelectorAll("[name=functions]:checked")].map((c) => c.value),
    topics: [...form.querySelectorAll("[name=topics]:checked")].map((c) => c.value),
    referral: form.querySelector("[name=referral]:checked").value,
    referral_to: text("referral_to"),
    referral_reason: text("referral_reason"),
    follow_up_on: form.follow_up_on.value || null,
    note: text("note"),
  };
  for (const n of NUMBERS) fields[n] = num(n);
  // Only what is set goes on the wire: empty optional fields stay out of the mutation.
  return Object.fromEntries(Object.entries(fields).filter(([k, v]) => v !== null || k === "participant_id"));
}

const showErrors = (errors) => showForm(form, errors);

// A reading outside SPEC 3's thresholds pre-selects an urgent referral, unless the peer leader
// chose a referral themselves; saving one with "no referral" asks first (a coordinator only hears
// of what is referred).
let referralChosen = false;
let autoUrgent = false;
const ask = document.getElementById("ask-referral");

function setReferral(value) {
  form.querySelector(`[name=referral][value="${value}"]`).checked = true;
}

function hint() {
  const out = suggestsUrgent(read());
  document.getElementById("urgent-hint").hidden = !out;
  if (!referralChosen && out !== autoUrgent) {
    setReferral(out ? "urgent" : "none");
    autoUrgent = out;
  }
  if (!out) ask.hidden = true;
}

// true when the form may be saved as it is.
function referralSettled(fields) {
  if (!suggestsUrgent(fields) || fields.referral !== "none" || ask.dataset.confirmed === "yes") return true;
  ask.hidden = false;
  ask.querySelector("button").focus();
  return false;
}

// The refused contact being corrected, if any (its "needs attention" item).
let fixing = null;

function fill(fields) {
  const set = (name, value) => { if (value !== undefined && value !== null) form[name].value = value; };
  set("participant_id", fields.participant_id);
  if (fields.occurred_at) form.occurred_at.value = isoNow(new Date(fields.occurred_at)).slice(0, 16);
  for (const name of ["mode", "referral_to", "referral_reason", "follow_up_on", "note", ...NUMBERS]) {
    set(name, fields[name]);
  }
  for (const box of form.querySelectorAll("[name=functions], [name=topics]")) {
    box.checked = (fields[box.name] || []).includes(box.value);
  }
  const referral = form.querySelector(`[name=referral][value="${fields.referral || "none"}"]`);
  if (referral) referral.checked = true;
}

async function openRefused(mutationId) {
  const item = await get("attention", mutationId);
  if (!item || item.entity !== "contact" || item.status !== "rejected") return;
  fixing = item;
  fill(item.fields || {});
  document.getElementById("fixing").hidden = false;
  // The server's reasons, in this phone's language already, beside the fields they are about.
  showErrors(Object.fromEntries(Object.keys(item.errors || {}).map((k) => [k, reasons(item, k).join("; ")])));
  hint();
}

// Sent again: the item leaves "needs attention" and the record waits like any other.
async function fixed(item) {
  await resolveAttention(item, { resent: true });
  document.getElementById("fixing").hidden = true;
  history.replaceState(null, "", location.pathname);
}

form.addEventListener("input", (e) => {
  if (e.target.name === "referral") { referralChosen = true; ask.hidden = true; }
  hint();
});
ask.addEventListener("click", (e) => {
  const answer = e.target.closest("button")?.dataset.answer;
  if (!answer) return;
  ask.hidden = true;
  if (answer === "urgent") {
    setReferral("urgent");
    referralChosen = true;
    form.referral_reason.focus();
  } else {
    ask.dataset.confirmed = "yes";
    form.querySelector("button[type=submit]").click(); // requestSubmit() is Safari 16+
  }
});
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const fields = read();
  const errors = checkContact(fields);
  showErrors(errors);
  if (Object.keys(errors).length || !referralSettled(fields)) return;
  const item = fixing;
  fixing = null;
  await save("contact", item ? item.id : uuid(), fields, 0);
  if (item) await fixed(item);
  await setMeta("last_mode", fields.mode);
  const who = form.participant_id.selectedOptions[0]?.textContent || "";
  const saved = document.getElementById("saved");
  saved.replaceChildren(t("Saved on this phone. Waiting to sync."), " ",
    el("a", { href: `/participants/view?id=${fields.participant_id}`, text: who }));
  const keep = form.participant_id.value;
  form.reset();
  referralChosen = autoUrgent = false;
  delete ask.dataset.confirmed;
  await defaults();
  form.participant_id.value = new URLSearchParams(location.search).get("participant") ? keep : "";
  hint();
  afterSave();
});

await start();
await fillParticipants(form.participant_id);
await defaults();
const chosen = new URLSearchParams(location.search).get("participant");
if (chosen) form.participant_id.value = chosen;
const refused = Number(new URLSearchParams(location.search).get("fix"));
if (refused) await openRefused(refused);
document.body.dataset.ready = "yes";
