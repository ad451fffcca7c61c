// The form checks the server makes too, so mistakes show before sync, offline. The rules are the
// server's own (each entity module's in sync/entities/, served as the generated module rules.js
// and precached), not a copy.
import { t } from "./i18n.js";
import { todayISO } from "./dates.js";
import RULES from "./rules.js";

const MINUTE = 60 * 1000;
const DAY = 86400000;

// The server's rules for an entity's fields ({} for an entity this server does not know yet).
export const rulesOf = (entity) => RULES.fields[entity] || {};

// A number against its rule: null when it passes, else the message.
export function checkNumber(v, { low, high, whole }) {
  if (!Number.isFinite(v) || (whole && !Number.isInteger(v))) return t("Enter a number.");
  if (v < low || v > high) return t("Must be between %(low)s and %(high)s.", { low, high });
  return null;
}

// A calendar date against its rule ("YYYY-MM-DD", not before the earliest, not too far ahead).
function checkDate(v, rule, now) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(new Date(v + "T00:00:00").getTime())) return t("Enter a real date.");
  if (rule.earliest && v < rule.earliest) return t("Enter a real date.");
  if (v > todayISO(new Date(now.getTime() + (rule.ahead_days ?? 1) * DAY))) {
    return (rule.ahead_days ?? 1) > 1 ? t("Too far ahead.") : t("Must not be in the future.");
  }
  return null;
}

// Every field of `f` the server has a rule for, by kind; `required` fields must be there.
// Returns {field: message}.
export function checkFields(entity, f, now = new Date()) {
  const errors = {};
  for (const [name, rule] of Object.entries(rulesOf(entity))) {
    const v = f[name];
    if (v === null || v === undefined || v === "") {
      if (rule.required && name in f) errors[name] = t("Required.");
      continue;
    }
    let problem = null;
    if (rule.kind === "number") problem = checkNumber(v, rule);
    else if (rule.kind === "text" && String(v).length > rule.max) problem = t("Too long: at most %(max)s characters.", { max: rule.max });
    else if (rule.kind === "date") problem = checkDate(v, rule, now);
    else if (rule.kind === "instant") {
      const at = new Date(v);
      if (Number.isNaN(at.getTime())) problem = t("Enter the date and time.");
      else if (at.getTime() > now.getTime() + rule.ahead_minutes * MINUTE) problem = t("Must not be in the future.");
    } else if (rule.kind === "list" && v.length > rule.max_items) problem = t("Too many: at most %(max)s.", { max: rule.max_items });
    if (problem) errors[name] = problem;
  }
  return errors;
}

export function checkContact(f, now = new Date()) {
  const errors = checkFields("contact", f, now);
  if (!f.participant_id) errors.participant_id = t("Choose a participant.");
  if (!f.occurred_at) errors.occurred_at = t("Enter the date and time.");
  if (f.bp_systolic != null && f.bp_diastolic != null && f.bp_diastolic >= f.bp_systolic && !errors.bp_diastolic) {
    errors.bp_diastolic = t("The lower number must be below the upper one.");
  }
  return errors;
}

// SPEC 3: suggest `urgent` for glucose < 3.9 or > 16.7 mmol/L, or blood pressure ≥ 180/110.
export function suggestsUrgent(f) {
  const u = RULES.urgent;
  const g = f.glucose_mmol;
  return (g != null && (g < u.glucose_below || g > u.glucose_above))
    || (f.bp_systolic ?? 0) >= u.bp_systolic_at_least || (f.bp_diastolic ?? 0) >= u.bp_diastolic_at_least;
}

// A reading or a questionnaire dated too long before the participant's enrolment: the server's
// rule (how many days, on which field of which entity) and its message, from the catalogue.
// `participant` is the phone's copy of the record (its `enrolled_on`). Returns {field: message}.
export function checkEnrolment(entity, f, participant) {
  const rule = RULES.before_enrolment;
  const field = rule?.fields?.[entity];
  const enrolled = participant?.enrolled_on;
  if (!field || !f[field] || !enrolled) return {};
  const [y, m, d] = enrolled.split("-").map(Number);
  // Calendar days in UTC: a local-time subtraction would lose or gain an hour at a DST change.
  const earliest = new Date(Date.UTC(y, m - 1, d - rule.days)).toISOString().slice(0, 10);
  return f[field] < earliest ? { [field]: t(rule.message, { date: earliest }) } : {};
}

// A marker's range. The server's rule for a measurement's value by marker when its catalogue
// has one; else its rule for the same marker where it is checked today (the participant's
// columns, a contact's reported glucose): RECORDS.md keeps "ranges as today's rules".
const SAME_MARKER = {
  hba1c: ["participant", "hba1c"], bp_systolic: ["participant", "bp_systolic"],
  bp_diastolic: ["participant", "bp_diastolic"], weight: ["participant", "weight_kg"],
  glucose: ["contact", "glucose_mmol"],
};
export function markerRule(marker) {
  const own = rulesOf("measurement").value?.markers?.[marker];
  if (own) return { kind: "number", ...own };
  const [entity, field] = SAME_MARKER[marker];
  return rulesOf(entity)[field];
}

// A reading as the form holds it: {participant_id, measured_on, source, values: {marker: number}}.
// Errors are keyed by marker for the values, by field for the rest. `participant`: the phone's
// record of the participant, for the date's rule against the enrolment.
export function checkReading(r, now = new Date(), participant = null) {
  const errors = checkFields("measurement", { measured_on: r.measured_on, source: r.source, note: r.note }, now);
  if (!r.participant_id) errors.participant_id = t("Choose a participant.");
  if (!r.measured_on) errors.measured_on = t("Enter the date.");
  else if (!errors.measured_on && rulesOf("measurement").measured_on === undefined) {
    const problem = checkDate(r.measured_on, rulesOf("participant").hba1c_on, now);
    if (problem) errors.measured_on = problem;
  }
  if (!errors.measured_on) Object.assign(errors, checkEnrolment("measurement", r, participant));
  for (const [marker, v] of Object.entries(r.values)) {
    if (v === null) errors[marker] = t("Enter the value.");
    else {
      const problem = checkNumber(v, markerRule(marker));
      if (problem) errors[marker] = problem;
    }
  }
  const { bp_systolic: upper, bp_diastolic: lower } = r.values;
  if (upper != null && lower != null && lower >= upper && !errors.bp_diastolic) {
    errors.bp_diastolic = t("The lower number must be below the upper one.");
  }
  return errors;
}
