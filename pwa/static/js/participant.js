// One participant: profile, contact timeline, and the phone/address edit (a participant
// mutation carrying the version this phone last saw, so the server can merge or flag a conflict).
// A contact or group meeting logged by mistake is voided from the timeline by its author, with a
// reason (SPEC 2: a field, never a deletion); voiding a meeting voids it for every attendee. A
// reading is voided the same way from the readings.
import { start, el, afterSave, redrawAfterSync } from "./app.js";
import { all, byIndex, get } from "./db.js";
import { history, loadAll, score, summarize } from "./model.js";
import { save } from "./outbox.js";
import { voidControls as voidMenu } from "./voiding.js";
import { t, fmtDate, fmtDateTime, fmtNumber, lang } from "./i18n.js";

const id = new URLSearchParams(location.search).get("id");
const form = document.getElementById("edit");

const LABELS = JSON.parse(document.getElementById("labels").textContent);
const MODES = LABELS.modes;
let me = null; // the signed-in user: who may void which contact

// The author voids what they recorded (staff anything in their community, as the server allows);
// a contact counted from a group meeting goes with the meeting.
const voidable = (r) => Boolean(me) && !r.meeting_id && !r.voided &&
  (me.role === "peer_leader" ? !r.peer_leader_id || r.peer_leader_id === me.id
    : me.role === "coordinator" || me.role === "admin");

const VOID_TEXT = () => ({
  contact: [t("Why is this contact void?"), t("Void contact")],
  group_meeting: [t("Why is this meeting void?"), t("Void the meeting for everyone")],
  measurement: [t("Why is this reading void?"), t("Void reading")],
});

// A reading is voided by whoever entered it (staff: any in their community); one reported on a
// contact goes with the contact, and one carried over from before has no author to void it.
const readingVoidable = (m) => Boolean(me) && !m.contact_id && !m.voided &&
  (me.role === "peer_leader" ? (!m.entered_by_id && !m.version) || m.entered_by_id === me.id
    : me.role === "coordinator" || me.role === "admin");

function voidControls(entity, c, together = []) {
  const [question, confirmText] = VOID_TEXT()[entity];
  return [voidMenu(entity, [c, ...together], {
    question, confirmText, closed: () => redrawing.whenDone(),
    done: async () => {
      document.getElementById("saved").textContent = t("Voided on this phone. Waiting to sync.");
      await render();
      afterSave();
    },
  })];
}

const names = (keys, labels) => (keys || []).map((k) => labels[k] || k).join(", ");

// What a card says about a contact or a meeting: what was discussed, what was reported, what
// was referred, the note: what a peer leader reads before the next visit.
function details(kind, r) {
  const lines = [];
  const add = (label, value) => { if (value) lines.push(el("p", { class: "line" }, el("span", { class: "label", text: label + " " }), value)); };
  if (kind === "meeting") {
    add(t("Topic"), r.topic);
    add(t("Place"), r.place);
    add(t("Co-leading staff member"), r.co_leader);
  } else {
    add(t("Topics"), names(r.topics, LABELS.topics));
    add(t("Key functions"), names(r.functions, LABELS.functions));
    const readings = [
      r.glucose_mmol != null ? `${fmtNumber(r.glucose_mmol)} mmol/L` : null,
      r.bp_systolic ? `${r.bp_systolic}/${r.bp_diastolic ?? "–"} mmHg` : null,
      r.weight_kg != null ? `${fmtNumber(r.weight_kg)} kg` : null,
    ].filter(Boolean).join(" · ");
    add(t("Reported"), readings);
    if (r.referral && r.referral !== "none") {
      add(r.referral === "urgent" ? t("Urgent referral") : t("Routine referral"),
        [LABELS.referral_to[r.referral_to] || r.referral_to, r.referral_reason].filter(Boolean).join(" · ") || "✓");
    }
    if (r.follow_up_on) add(t("Next follow-up"), fmtDate(r.follow_up_on));
  }
  add(t("Note"), r.note);
  return lines;
}

// The readings, one table per marker, newest first, the baseline and the latest marked. A blood
// pressure is the upper and the lower row of the same day.
const MARKERS = () => [
  ["hba1c", t("HbA1c"), "%"], ["bp_systolic", t("Blood pressure"), "mmHg"],
  ["weight", t("Weight"), "kg"], ["glucose", t("Glucose"), "mmol/L"],
];

function readingTable(rows, { baseline, latest }, label, unit, lower) {
  const tag = (m) => [
    m === baseline ? el("span", { class: "tag", text: t("Baseline") }) : null,
    m === latest ? el("span", { class: "tag", text: t("Latest") }) : null,
    m._pending ? el("span", { class: "tag", text: t("Waiting to sync") }) : null,
  ];
  const pairOf = (m) => lower?.rows.find((d) => d.measured_on === m.measured_on && d.source === m.source);
  const body = [...rows].reverse().map((m) => el("tr", { "data-id": m.id },
    el("th", { scope: "row", text: fmtDate(m.measured_on) }),
    el("td", { text: lower ? `${fmtNumber(m.value)}/${fmtNumber(pairOf(m)?.value) || "–"}` : fmtNumber(m.value) }),
    el("td", { text: m.source === "clinic" ? t("Clinic") : t("Self-reported") }),
    el("td", {}, ...tag(m), ...(readingVoidable(m) ? voidControls("measurement", m, [pairOf(m)].filter(Boolean)) : []))));
  return el("div", { class: "table-wrap" }, el("table", { "data-marker": rows[0].marker },
    el("caption", { text: `${label} (${unit})` }),
    el("thead", {}, el("tr", {}, ...[t("Date"), t("Value"), t("Source"), ""].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...body)));
}

async function readings(pid) {
  const rows = await byIndex("measurements", "participant_id", pid);
  const tables = MARKERS().map(([marker, label, unit]) => {
    const h = history(rows, pid, marker);
    if (!h.rows.length) return null;
    return readingTable(h.rows, h, label, unit, marker === "bp_systolic" ? history(rows, pid, "bp_diastolic") : null);
  }).filter(Boolean);
  return tables.length ? tables : [el("p", { class: "empty", text: t("No readings yet.") })];
}

const TIME_POINTS = () => ({ baseline: t("Baseline"), follow_up: t("Follow-up"), other: t("Other") });
const localized = (texts) => (texts ? texts[lang] || texts.en || Object.values(texts)[0] : "");

// The server's score once it has one; until then what the phone works out by the same rule.
function scoreLine(a, definition) {
  const value = a.score ?? (definition ? score(definition, a.answers || {}) : null);
  return value == null ? null : el("span", { class: "line", text: t("Score %(score)s", { score: fmtNumber(value) }) });
}

async function assessments(pid) {
  const instruments = new Map((await all("instruments")).map((i) => [i.id, i.definition || {}]));
  const rows = (await byIndex("assessments", "participant_id", pid)).filter((a) => !a.voided)
    .sort((a, b) => (b.assessed_on || "").localeCompare(a.assessed_on || ""));
  return rows.length ? rows.map((a) =>
    el("li", { class: "card", "data-id": a.id },
      el("span", { class: "name", text: `${fmtDate(a.assessed_on)} · ${localized(instruments.get(a.instrument_id)?.title) || a.instrument_id}` }),
      el("span", { class: "tag", text: TIME_POINTS()[a.time_point] || a.time_point }),
      scoreLine(a, instruments.get(a.instrument_id)),
      a._pending ? el("span", { class: "tag", text: t("Waiting to sync") }) : null))
    : [el("li", { class: "empty", text: t("No questionnaires yet.") })];
}

function field(label, value) {
  if (value === null || value === undefined || value === "") return null;
  return el("div", { class: "field" }, el("dt", { text: label }), el("dd", { text: String(value) }));
}

// Everything is read from the phone's database first and drawn after in one go, so a redraw a
// sync asked for can still give way if the user opened a menu or started typing meanwhile.
async function render({ background = false } = {}) {
  const p = await get("participants", id);
  const data = p ? await loadAll() : null;
  const volunteer = me?.role === "volunteer";
  const readingNodes = p && !volunteer ? await readings(p.id) : null;
  const assessmentNodes = p && !volunteer ? await assessments(p.id) : null;
  if (background && busy()) { redrawing.later(); return; }
  const box = document.getElementById("profile");
  if (!p) {
    box.replaceChildren(el("p", { class: "empty", text: t("This participant is not on this phone.") }));
    form.hidden = true;
    document.body.dataset.ready = "yes";
    return;
  }
  document.getElementById("name").textContent = p.full_name || p.code;
  const summary = summarize(data).get(p.id);
  document.getElementById("log").href = `/contacts/new?participant=${p.id}`;
  document.getElementById("reading-link").href = `/readings/new?participant=${p.id}`;
  document.getElementById("assess-link").href = `/assessments/new?participant=${p.id}`;
  box.replaceChildren(el("dl", {},
    field(t("Code"), p.code), field(t("Phone"), p.phone), field(t("Address"), p.address),
    field(t("Birth year"), p.birth_year), field(t("Status"), p.status ? LABELS.statuses[p.status] || p.status : null),
    field(t("HbA1c"), p.hba1c != null ? `${fmtNumber(p.hba1c)} % (${fmtDate(p.hba1c_on)})` : null),
    field(t("Blood pressure"), p.bp_systolic ? `${p.bp_systolic}/${p.bp_diastolic} mmHg` : null),
    field(t("Notes"), p.notes),
    field(t("Last contact"), summary.last ? fmtDate(summary.last) : t("Never contacted")),
    field(t("Next follow-up"), summary.next ? fmtDate(summary.next) : null),
    summary.overdue ? field(t("Overdue"), "✓") : null,
    p.needs_visit ? field(t("Needs a visit"), p.needs_visit_reason || "✓") : null));
  if (p._pending) box.append(el("p", { class: "tag", text: t("Waiting to sync") }));
  form.phone.value = p.phone || "";
  form.address.value = p.address || "";
  form.needs_visit.checked = Boolean(p.needs_visit);
  form.needs_visit_reason.value = p.needs_visit_reason || "";
  if (volunteer) {
    // A volunteer receives no contacts (SPEC 1): the profile above says when the last one was.
    document.body.dataset.ready = "yes";
    return;
  }
  document.getElementById("readings").replaceChildren(...readingNodes);
  document.getElementById("assessments").replaceChildren(...assessmentNodes);
  const meetings = data.meetings.filter((m) => (m.attendee_ids || []).includes(id));
  const shownMeetings = new Set(meetings.map((m) => m.id));
  // A meeting also counts as a contact for each attendee: the timeline shows the meeting once.
  const contacts = data.contacts.filter((c) => c.participant_id === id && !shownMeetings.has(c.meeting_id));
  const events = [
    ...contacts.map((c) => ({ at: c.occurred_at, text: MODES[c.mode] || c.mode, c, kind: "contact" })),
    ...meetings.map((m) => ({ at: m.occurred_at, text: t("Group meeting"), c: m, kind: "meeting" })),
  ].sort((a, b) => (b.at || "").localeCompare(a.at || ""));
  document.getElementById("timeline").replaceChildren(...(events.length ? events.map((e) =>
    el("li", { class: "card" + (e.c.referral === "urgent" ? " urgent" : "") },
      el("span", { class: "name", text: `${fmtDateTime(e.at)} · ${e.text}` }),
      e.c.referral === "urgent" ? el("span", { class: "tag warn", text: t("Urgent referral") }) : null,
      e.c._pending ? el("span", { class: "tag", text: t("Waiting to sync") }) : null,
      e.c._attention ? el("a", { class: "tag warn", href: "/attention", text: t("Needs attention") }) : null,
      ...details(e.kind, e.c),
      ...(voidable(e.c) ? voidControls(e.kind === "contact" ? "contact" : "group_meeting", e.c) : [])))
    : [el("li", { class: "empty", text: t("No contacts yet.") })]));
  document.body.dataset.ready = "yes";
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const p = await get("participants", id);
  const fields = {};
  const phone = form.phone.value.trim();
  const address = form.address.value.trim();
  if (phone !== (p.phone || "")) fields.phone = phone || null;
  if (address !== (p.address || "")) fields.address = address || null;
  if (form.needs_visit.checked !== Boolean(p.needs_visit)) fields.needs_visit = form.needs_visit.checked;
  const reason = form.needs_visit_reason.value.trim();
  if (reason !== (p.needs_visit_reason || "")) fields.needs_visit_reason = reason || null;
  if (!Object.keys(fields).length) return;
  await save("participant", id, fields, p.version || 0);
  document.getElementById("saved").textContent = t("Saved on this phone. Waiting to sync.");
  await render();
  afterSave();
});

me = await start();
await render();

// A sync may bring new data while the user is typing (a phone number, why a contact is void) or
// has a "More" menu open: the page is redrawn once they are done.
const busy = () => Boolean(document.activeElement?.closest?.("#edit, form.void")) ||
  Boolean(document.querySelector("details.more[open]"));
const redrawing = redrawAfterSync(render, busy);
