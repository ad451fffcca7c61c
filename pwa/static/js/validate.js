// The form checks the server makes too (sync/validate.py), so mistakes show before sync, offline.
import { t } from "./i18n.js";

const NUMBERS = {
  duration_min: [1, 1440, true], glucose_mmol: [1, 35, false], bp_systolic: [60, 260, true],
  bp_diastolic: [30, 160, true], weight_kg: [20, 300, false],
};

export function checkContact(f, now = new Date()) {
  const errors = {};
  if (!f.participant_id) errors.participant_id = t("Choose a participant.");
  const at = f.occurred_at ? new Date(f.occurred_at) : null;
  if (!at || Number.isNaN(at.getTime())) errors.occurred_at = t("Enter the date and time.");
  else if (at.getTime() > now.getTime() + 10 * 60 * 1000) errors.occurred_at = t("Must not be in the future.");
  for (const [name, [low, high, whole]] of Object.entries(NUMBERS)) {
    const v = f[name];
    if (v === null || v === undefined) continue;
    if (!Number.isFinite(v) || (whole && !Number.isInteger(v))) errors[name] = t("Enter a number.");
    else if (v < low || v > high) errors[name] = t("Must be between %(low)s and %(high)s.", { low, high });
  }
  if (f.bp_systolic != null && f.bp_diastolic != null && f.bp_diastolic >= f.bp_systolic && !errors.bp_diastolic) {
    errors.bp_diastolic = t("The lower number must be below the upper one.");
  }
  if (f.follow_up_on) {
    const limit = new Date(now.getTime() + 2 * 366 * 86400000).toISOString().slice(0, 10);
    if (f.follow_up_on > limit) errors.follow_up_on = t("Too far ahead.");
    if (f.follow_up_on < "1990-01-01") errors.follow_up_on = t("Enter a real date.");
  }
  return errors;
}

// SPEC: suggest `urgent` for glucose < 3.9 or > 16.7 mmol/L, or blood pressure ≥ 180/110.
export function suggestsUrgent(f) {
  const g = f.glucose_mmol;
  return (g != null && (g < 3.9 || g > 16.7)) || (f.bp_systolic ?? 0) >= 180 || (f.bp_diastolic ?? 0) >= 110;
}
