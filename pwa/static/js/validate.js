// The form checks the server makes too, so mistakes show before sync, offline. The rules are the
// server's own (each entity module's in sync/entities/, served as the generated module rules.js
// and precached), not a copy.
import { t } from "./i18n.js";
import RULES from "./rules.js";

const CONTACT = RULES.fields.contact;
const NUMBERS = Object.entries(CONTACT).filter(([, rule]) => rule.kind === "number");
const MINUTE = 60 * 1000;
const DAY = 86400000;

export function checkContact(f, now = new Date()) {
  const errors = {};
  if (!f.participant_id) errors.participant_id = t("Choose a participant.");
  const at = f.occurred_at ? new Date(f.occurred_at) : null;
  if (!at || Number.isNaN(at.getTime())) errors.occurred_at = t("Enter the date and time.");
  else if (at.getTime() > now.getTime() + CONTACT.occurred_at.ahead_minutes * MINUTE) errors.occurred_at = t("Must not be in the future.");
  for (const [name, { low, high, whole }] of NUMBERS) {
    const v = f[name];
    if (v === null || v === undefined) continue;
    if (!Number.isFinite(v) || (whole && !Number.isInteger(v))) errors[name] = t("Enter a number.");
    else if (v < low || v > high) errors[name] = t("Must be between %(low)s and %(high)s.", { low, high });
  }
  if (f.bp_systolic != null && f.bp_diastolic != null && f.bp_diastolic >= f.bp_systolic && !errors.bp_diastolic) {
    errors.bp_diastolic = t("The lower number must be below the upper one.");
  }
  if (f.follow_up_on) {
    const rule = CONTACT.follow_up_on;
    const limit = new Date(now.getTime() + rule.ahead_days * DAY).toISOString().slice(0, 10);
    if (f.follow_up_on > limit) errors.follow_up_on = t("Too far ahead.");
    if (f.follow_up_on < rule.earliest) errors.follow_up_on = t("Enter a real date.");
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
