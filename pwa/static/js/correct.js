// Correcting a refused record where "needs attention" shows it: each refused field with the
// server's reason and an input holding what was sent. Saving sends the record again through the
// outbox (resend): the item stays, marked as waiting, until the server answers the correction.
//
// Only values typed in can be corrected here (a number, a date, a time, a text): a refused
// choice or reference (a participant no longer in scope) is not a typing slip, and such a record
// is dismissed or, for a contact, entered again in its form.
import { el } from "./app.js";
import { todayISO } from "./dates.js";
import { isoNow, resend } from "./outbox.js";
import { t, reasons } from "./i18n.js";
import { checkFields, checkNumber, markerRule, rulesOf } from "./validate.js";

const EDITABLE = new Set(["number", "date", "instant", "text"]);

const MARKER = () => ({
  hba1c: t("HbA1c (%)"), bp_systolic: t("Blood pressure, upper"), bp_diastolic: t("Blood pressure, lower"),
  weight: t("Weight (kg)"), glucose: t("Glucose (mmol/L)"),
});

// A field's rule; a reading's value by its marker (its range is the marker's).
function ruleOf(item, field) {
  if (item.entity === "measurement" && field === "value") return markerRule(item.fields?.marker);
  return rulesOf(item.entity)[field];
}

// The refused fields, when every one of them can be corrected here; else null.
export function correctable(item) {
  if (item.status !== "rejected" || !item.fields || item.corrected) return null;
  const fields = Object.keys(item.errors || {});
  if (!fields.length || !fields.every((f) => EDITABLE.has(ruleOf(item, f)?.kind))) return null;
  return fields;
}

export function labelOf(item, field, labels) {
  if (item.entity === "measurement" && field === "value") return MARKER()[item.fields?.marker] || labels.value;
  return labels[field] || field;
}

// What was typed, kept across redraws (a sync may redraw the screen under the user's fingers).
const drafts = new Map();
const draftKey = (item, field) => `${item.mutation_id}:${field}`;

function input(item, field, rule, id) {
  const sent = item.fields[field];
  const attrs = { id, name: field, autocomplete: "off" };
  let node;
  if (rule.kind === "number") {
    node = el("input", { ...attrs, type: "number", inputmode: rule.whole ? "numeric" : "decimal",
      step: rule.whole ? "1" : "any", value: sent ?? "" });
  } else if (rule.kind === "date") {
    node = el("input", { ...attrs, type: "date", value: sent ?? "",
      max: (rule.ahead_days ?? 1) <= 1 ? todayISO() : null });
  } else if (rule.kind === "instant") {
    const at = sent ? new Date(sent) : null;
    node = el("input", { ...attrs, type: "datetime-local",
      value: at && !Number.isNaN(at.getTime()) ? isoNow(at).slice(0, 16) : "" });
  } else {
    node = el(rule.max > 200 ? "textarea" : "input", { ...attrs, maxlength: String(rule.max), rows: rule.max > 200 ? "3" : null });
    node.value = sent ?? "";
  }
  const draft = drafts.get(draftKey(item, field));
  if (draft !== undefined) node.value = draft;
  node.addEventListener("input", () => drafts.set(draftKey(item, field), node.value));
  return node;
}

function read(rule, raw) {
  const v = raw.trim();
  if (v === "") return null;
  if (rule.kind === "number") return Number(v);
  if (rule.kind === "instant") {
    const at = new Date(v);
    return Number.isNaN(at.getTime()) ? v : isoNow(at);
  }
  return v;
}

// The phone's own checks on a corrected value: the server's rules, as the forms check them.
function check(item, field, rule, v) {
  if (v === null) {
    // A reading is its value and its day; anything else optional may be left out.
    return rule.required || item.entity === "measurement" ? t("Enter the value.") : null;
  }
  if (rule.kind === "number") return checkNumber(v, rule);
  return checkFields(item.entity, { [field]: v })[field] || null;
}

// The other half of a blood pressure refused for its day with this one: corrected with it, so
// the upper and the lower reading stay the same day.
const PAIR = { bp_systolic: "bp_diastolic", bp_diastolic: "bp_systolic" };
function partnerOf(item, items) {
  const other = item.entity === "measurement" && PAIR[item.fields?.marker];
  if (!other) return null;
  const f = item.fields;
  return items.find((i) => i !== item && i.entity === "measurement" && i.status === "rejected" && !i.corrected
    && i.fields?.marker === other && i.fields.participant_id === f.participant_id
    && i.fields.measured_on === f.measured_on && i.fields.source === f.source) || null;
}

// The form on a refused item's card; `done` redraws once the correction is queued.
export function correctionForm(item, fields, labels, items, done) {
  const rows = fields.map((field) => {
    const rule = ruleOf(item, field);
    const id = `fix-${item.mutation_id}-${field}`;
    return {
      field, rule,
      node: input(item, field, rule, id),
      error: el("p", { class: "error", role: "alert", id: id + "-error" }),
      id,
    };
  });
  const form = el("form", { class: "fix stack", "data-fix": String(item.mutation_id), novalidate: true },
    ...rows.flatMap((r) => {
      r.node.setAttribute("aria-describedby", r.id + "-why " + r.id + "-error");
      return [el("div", { class: "stack", "data-field": r.field },
        // The wire name stays beside the words, for whoever helps on the phone.
        el("label", { for: r.id }, labelOf(item, r.field, labels) + " ", el("code", { text: r.field })),
        el("p", { class: "reason", id: r.id + "-why", text: reasons(item, r.field).join("; ") }),
        r.node, r.error)];
    }),
    el("button", { type: "submit", class: "button primary wide", text: t("Save and send again") }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const corrected = {};
    let first = null;
    for (const r of rows) {
      const v = read(r.rule, r.node.value);
      const problem = check(item, r.field, r.rule, v);
      r.error.textContent = problem || "";
      if (problem) {
        r.node.setAttribute("aria-invalid", "true");
        if (!first) first = r.node;
      } else r.node.removeAttribute("aria-invalid");
      corrected[r.field] = v;
    }
    if (first) { first.focus(); return; }
    const partner = partnerOf(item, items);
    const changes = [{ item, fields: corrected }];
    if (partner && "measured_on" in corrected && Object.keys(partner.errors || {}).every((f) => f === "measured_on")) {
      changes.push({ item: partner, fields: { measured_on: corrected.measured_on } });
    }
    await resend(changes);
    for (const r of rows) drafts.delete(draftKey(item, r.field));
    await done();
  });
  return form;
}
