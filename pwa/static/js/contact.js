// Log contact. Defaults: now, the last mode used, follow-up in 14 days. Saving writes the contact
// and its mutation in one IndexedDB transaction and returns at once; sync happens afterwards.
import { start, afterSave, el, todayISO, addDays } from "./app.js";
import { all, getMeta, setMeta } from "./db.js";
import { save, isoNow } from "./outbox.js";
import { t } from "./i18n.js";
import { checkContact, suggestsUrgent } from "./validate.js";

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

function showErrors(errors) {
  for (const node of form.querySelectorAll(".error")) node.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const [name, message] of Object.entries(errors)) {
    const box = document.getElementById("err-" + name);
    if (box) box.textContent = message;
    form[name]?.setAttribute?.("aria-invalid", "true");
  }
  const first = Object.keys(errors)[0];
  if (first) form[first]?.focus?.();
}

function hint() {
  const f = read();
  document.getElementById("urgent-hint").hidden = !suggestsUrgent(f);
}

form.addEventListener("input", hint);
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const fields = read();
  const errors = checkContact(fields);
  showErrors(errors);
  if (Object.keys(errors).length) return;
  await save("contact", crypto.randomUUID(), fields, 0);
  await setMeta("last_mode", fields.mode);
  const who = form.participant_id.selectedOptions[0]?.textContent || "";
  const saved = document.getElementById("saved");
  saved.replaceChildren(t("Saved on this phone. Waiting to sync."), " ",
    el("a", { href: `/participants/view?id=${fields.participant_id}`, text: who }));
  const keep = form.participant_id.value;
  form.reset();
  await defaults();
  form.participant_id.value = new URLSearchParams(location.search).get("participant") ? keep : "";
  hint();
  afterSave();
});

await start();
const people = (await all("participants"))
  .filter((p) => !p.status || p.status === "active")
  .sort((a, b) => (a.full_name || "").localeCompare(b.full_name || ""));
form.participant_id.append(...people.map((p) => el("option", { value: p.id, text: `${p.full_name || ""} (${p.code || ""})` })));
await defaults();
const chosen = new URLSearchParams(location.search).get("participant");
if (chosen) form.participant_id.value = chosen;
document.body.dataset.ready = "yes";
