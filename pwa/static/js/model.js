// What the screens compute from the local records: last contact, next follow-up, overdue.
// Overdue (SPEC 3): an active participant whose follow-up date has passed with no contact since,
// or with no contact for `overdue_days` (a server setting the shell carries in data-overdue-days).
// Paused and withdrawn participants are never overdue, on any screen.
import { all } from "./db.js";
import { todayISO, addDays } from "./dates.js";

export const overdueDays = () =>
  Number(document.querySelector("[data-overdue-days]")?.dataset.overdueDays) || 30;

const collator = new Intl.Collator(document.documentElement.lang || "zh-CN");

export async function loadAll() {
  const [participants, contacts, meetings, groups] = await Promise.all(
    ["participants", "contacts", "meetings", "groups"].map((s) => all(s)),
  );
  return {
    participants: participants.sort((a, b) => collator.compare(a.full_name || "", b.full_name || "")),
    contacts: contacts.filter((c) => !c.voided),
    meetings: meetings.filter((m) => !m.voided),
    groups,
  };
}

const day = (iso) => (iso ? String(iso).slice(0, 10) : null);

// id → {last, next, overdue, dueSoon, stale, dueToday}
export function summarize({ participants, contacts, meetings }, today = todayISO()) {
  const info = new Map(participants.map((p) => [p.id, {
    last: day(p.last_contact_on || p.last_contact_at), next: day(p.next_follow_up_on), lastAt: null,
    enrolled: day(p.enrolled_on),
  }]));
  for (const c of contacts) {
    const i = info.get(c.participant_id);
    if (!i) continue;
    const at = c.occurred_at || "";
    if (!i.lastAt || at > i.lastAt) {
      i.lastAt = at;
      i.last = day(at);
      i.next = c.follow_up_on || null;
    }
  }
  for (const m of meetings) {
    for (const id of m.attendee_ids || []) {
      const i = info.get(id);
      if (i && day(m.occurred_at) > (i.last || "")) i.last = day(m.occurred_at);
    }
  }
  const staleBefore = addDays(today, -overdueDays());
  const soon = addDays(today, 7);
  const status = new Map(participants.map((p) => [p.id, active(p)]));
  for (const [id, i] of info) {
    const since = i.last || i.enrolled;
    i.followUpMissed = Boolean(i.next && i.next < today && (!i.last || i.last <= i.next));
    i.stale = !since || since < staleBefore;
    i.active = status.get(id);
    i.overdue = i.active && (i.followUpMissed || i.stale);
    i.dueToday = i.active && i.next === today;
    i.dueSoon = i.active && Boolean(i.next && i.next >= today && i.next <= soon);
  }
  return info;
}

export const active = (p) => !p.status || p.status === "active";

// A participant's readings of one marker, oldest first, with the baseline and the latest marked
// (RECORDS.md): the baseline is the earliest clinic reading, else the earliest of any source;
// the latest is the newest. Voided readings are left out.
export function history(measurements, participantId, marker) {
  const rows = measurements
    .filter((m) => m.participant_id === participantId && m.marker === marker && !m.voided)
    .sort((a, b) => (a.measured_on || "").localeCompare(b.measured_on || "") || (a.created_at || "").localeCompare(b.created_at || ""));
  const baseline = rows.find((m) => m.source === "clinic") || rows[0] || null;
  const latest = rows[rows.length - 1] || null;
  return { rows, baseline, latest };
}

// The time point a new questionnaire is most likely at: follow-up once the participant has a
// baseline of that instrument, else baseline.
export function nextTimePoint(assessments, participantId, instrumentId) {
  const has = assessments.some((a) => a.participant_id === participantId && a.instrument_id === instrumentId
    && a.time_point === "baseline" && !a.voided);
  return has ? "follow_up" : "baseline";
}

// An instrument's score from the answers, by its rule (the server computes its own; the phone
// shows this one at once, offline).
export function score(definition, answers) {
  const values = (definition.items || []).map((item) => answers[item.id]);
  if (!values.length || values.some((v) => !Number.isFinite(v))) return null;
  const sum = values.reduce((a, b) => a + b, 0);
  return definition.scoring === "sum" ? sum : sum / values.length;
}
