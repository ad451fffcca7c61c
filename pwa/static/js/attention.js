// Needs attention: pushes the server rejected (with its messages per field) or merged with a
// conflict an administrator will resolve. The user reads, corrects a refused value in place
// (correct.js) or enters the record again, and dismisses.
import { start, el, afterSave, redrawAfterSync } from "./app.js";
import { all } from "./db.js";
import { resolveAttention } from "./outbox.js";
import { t, fmtDate, fmtDateTime, fmtNumber, reasons } from "./i18n.js";
import { apiHeaders } from "./device.js";
import { correctable, correctionForm, labelOf } from "./correct.js";

const ENTITY = () => ({
  participant: t("Participant"), contact: t("Contact"), group_meeting: t("Group meeting"),
  measurement: t("Reading"), assessment: t("Questionnaire"), group_activity: t("Group activity"),
  supervision: t("Supervision"), training: t("Training"), implementation_rating: t("Quarterly rating"),
});
// The server writes its messages in this phone's language (the `lang` cookie or the browser's
// Accept-Language, as for the pages), with their templates for a later switch, and names the
// field by its wire name; the label says which field in words, the wire name stays for whoever
// helps on the phone.
const FIELD = () => ({
  participant_id: t("Participant"), occurred_at: t("When"), mode: t("How"), duration_min: t("Minutes"),
  functions: t("Key functions of peer support"), topics: t("Topics"), referral: t("Referral"),
  referral_reason: t("Reason for referral"), referral_to: t("Referred to"), glucose_mmol: t("Glucose (mmol/L)"),
  bp_systolic: t("Blood pressure, upper"), bp_diastolic: t("Blood pressure, lower"), weight_kg: t("Weight (kg)"),
  follow_up_on: t("Next follow-up"), note: t("Note"), notes: t("Notes"), phone: t("Phone"), address: t("Address"),
  needs_visit: t("Needs a visit"), needs_visit_reason: t("Why a visit is needed"), code: t("Code"),
  full_name: t("Name"), birth_year: t("Birth year"), status: t("Status"), hba1c: t("HbA1c"), group_id: t("Group"),
  place: t("Place"), topic: t("Topic"), attendee_ids: t("Who came"), co_leader: t("Co-leading staff member"),
  marker: t("What was measured"), value: t("Value"), measured_on: t("Date measured"), source: t("Source"),
  instrument_id: t("Questionnaire"), time_point: t("Time point"), assessed_on: t("Date asked"), answers: t("Answers"),
  committee_id: t("Residential committee"), channel: t("What kind"), participants_count: t("Participants reached"),
  residents_count: t("Other residents"), peer_leader_id: t("Peer leader"), concerns: t("Concerns raised"),
  follow_up: t("Follow-up agreed"), title: t("Title"), held_on: t("Date"), hours: t("Hours"),
  period: t("Quarter"), comment: t("Comment"),
});

async function dismiss(item) {
  await resolveAttention(item);
  render({ force: true });
}

// Where the conflicts stand on the server (when it can be asked): id → open/resolved/dismissed.
// The screen is redrawn after every page a sync brings; the server is asked again only when the
// cards are other conflicts or a minute has passed.
let asked = { query: "", at: 0, answer: {} };

async function conflictStatuses(items) {
  const ids = items.filter((i) => i.status === "conflict" && i.conflict_id).map((i) => i.conflict_id);
  if (!ids.length || !navigator.onLine) return asked.answer;
  const query = ids.slice(0, 100).map((id) => "id=" + encodeURIComponent(id)).join("&");
  if (query === asked.query && Date.now() - asked.at < 60_000) return asked.answer;
  try {
    const res = await fetch("/api/sync/conflicts?" + query, { headers: apiHeaders(), cache: "no-store" });
    if (res.ok) asked = { query, at: Date.now(), answer: (await res.json()).conflicts || {} };
  } catch {
    // Offline after all: the cards say what they said before.
  }
  return asked.answer;
}

const CONFLICT_TAG = () => ({
  open: t("Conflict: an administrator will review it"),
  resolved: t("Conflict resolved by an administrator: the values that stand come with the next sync"),
  dismissed: t("Conflict closed by an administrator: the server's values stand"),
});

// A value as the card shows it: a date as a date, a time as a time.
function shown(value) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "number") return fmtNumber(value);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return fmtDate(value);
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) return fmtDateTime(value);
  return String(value);
}

// Which reading it was, so that the peer leader knows which one is meant.
function readingLine(item) {
  const f = item.fields || {};
  if (item.entity !== "measurement" || !f.marker) return null;
  return el("p", { class: "line" }, `${labelOf(item, "value", FIELD())}: ${shown(f.value)} · ${shown(f.measured_on)}`);
}

// `force`: drawn even while a correction is being typed (after one is saved).
async function render({ force = false } = {}) {
  const people = new Map((await all("participants")).map((p) => [p.id, p]));
  const items = (await all("attention")).sort((a, b) => b.mutation_id - a.mutation_id);
  const standing = await conflictStatuses(items);
  // Typing started while the records were read: the screen is redrawn once the user is done.
  if (!force && busy()) { redrawing?.later(); return; }
  const labels = FIELD();
  const list = document.getElementById("items");
  list.replaceChildren(...(items.length ? items.map((item) => {
    const who = people.get(item.entity === "participant" ? item.id : item.fields?.participant_id);
    const fields = correctable(item);
    // In this phone's language now, even when it was switched after the refusal.
    const errors = fields || item.corrected ? [] : Object.keys(item.errors || {}).map((field) =>
      el("li", { "data-field": field }, labels[field] ? labels[field] + " " : "", el("code", { text: field }),
        ": " + reasons(item, field).join("; ")));
    // Corrected: it waits for the server's answer, then leaves this list.
    const correction = item.corrected ? el("ul", { class: "errors corrected" },
      ...Object.entries(item.corrected.fields).map(([field, v]) =>
        el("li", { "data-field": field }, `${labelOf(item, field, labels)}: ${shown(v)}`))) : null;
    const button = item.corrected ? null : el("button", { type: "button", class: "button small", text: t("Dismiss") });
    button?.addEventListener("click", () => dismiss(item));
    // A refused new contact opens in the form as it was entered, to correct and send again.
    const fix = item.status === "rejected" && item.entity === "contact" && item.fields && !item.corrected
      ? el("a", { class: "button small", href: `/contacts/new?fix=${item.mutation_id}`,
        text: fields ? t("Open the whole contact") : t("Correct and send again") })
      : null;
    return el("li", { class: "card " + item.status, "data-status": item.status, "data-corrected": item.corrected ? "yes" : null },
      el("span", { class: "name", text: `${ENTITY()[item.entity] || item.entity}${who ? " · " + (who.full_name || who.code) : ""}` }),
      el("span", { class: "tag warn", "data-conflict": standing[item.conflict_id] || null,
        text: item.corrected ? t("Corrected: waiting to sync")
          : item.status === "rejected" ? t("Not accepted by the server")
            : CONFLICT_TAG()[standing[item.conflict_id] || "open"] }),
      el("span", { class: "meta", text: fmtDateTime(item.at) }),
      readingLine(item),
      errors.length ? el("ul", { class: "errors" }, ...errors) : null,
      correction,
      fields ? correctionForm(item, fields, labels, items, corrected) : null,
      fix, button);
  }) : [el("li", { class: "empty", text: t("Nothing needs attention.") })]));
  document.body.dataset.ready = "yes";
}

async function corrected() {
  document.getElementById("saved").textContent = t("Saved on this phone. Waiting to sync.");
  await render({ force: true });
  afterSave();
}

// A sync may bring a page while a correction is typed: the screen is redrawn once the user is
// done (what was typed is kept either way, correct.js).
const busy = () => Boolean(document.activeElement?.closest?.("form.fix"));
let redrawing = null;

await start();
await render();
redrawing = redrawAfterSync(render, busy);
