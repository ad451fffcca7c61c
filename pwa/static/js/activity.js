// A group activity in a few taps (SPEC 2): a WeChat group session, a neighbourhood activity or
// community assistance, for one of the leader's groups or residential committees. When is now,
// the kind and the group are the last ones used; headcounts rather than a contact per person,
// the participants who took part named only if the leader wants to.
//
// Below the form, the past activities on this phone, newest first, each voided from its card by
// its author with a reason (staff: any in their community, as the server allows).
import { start, afterSave, el, redrawAfterSync } from "./app.js";
import { all, getMeta, setMeta } from "./db.js";
import { save, isoNow } from "./outbox.js";
import { t, fmtDateTime } from "./i18n.js";
import { voidControls } from "./voiding.js";
import { checkFields } from "./validate.js";
import { showErrors as showForm } from "./forms.js";
import { uuid } from "./uuid.js";

const form = document.getElementById("activity");
const COUNTS = ["participants_count", "residents_count"];
let people = [];

// "group:<id>" or "committee:<id>", as the select holds it.
const target = () => {
  const [kind, id] = form.target.value.split(":");
  return id ? { kind, id } : null;
};

function members() {
  const chosen = target();
  if (!chosen) return [];
  return people.filter((p) => (chosen.kind === "group" ? p.group_id : p.committee_id) === chosen.id);
}

function attendees() {
  const list = members();
  document.getElementById("attendees").replaceChildren(...(list.length ? list.map((p) =>
    el("label", { class: "check big" },
      el("input", { type: "checkbox", name: "attendee_ids", value: p.id }), ` ${p.full_name || p.code}`))
    : [el("p", { class: "empty", text: target() ? t("No participants of it on this phone.") : t("Choose a group or committee first.") })]));
}

function read() {
  const chosen = target();
  const at = form.occurred_at.value ? new Date(form.occurred_at.value) : null;
  const fields = {
    group_id: chosen?.kind === "group" ? chosen.id : null,
    committee_id: chosen?.kind === "committee" ? chosen.id : null,
    channel: form.querySelector("[name=channel]:checked").value,
    occurred_at: at && !Number.isNaN(at.getTime()) ? isoNow(at) : null,
    functions: [...form.querySelectorAll("[name=functions]:checked")].map((c) => c.value),
    attendee_ids: [...form.querySelectorAll("[name=attendee_ids]:checked")].map((c) => c.value),
  };
  for (const n of COUNTS) if (form[n].value !== "") fields[n] = Number(form[n].value);
  for (const n of ["topic", "note"]) if (form[n].value.trim()) fields[n] = form[n].value.trim();
  // Only one of the two goes on the wire (RECORDS.md: exactly one).
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
}

// "Exactly one of group and committee" is about the one pick-list.
const showErrors = (errors) =>
  showForm(form, errors, (name) => (name === "group_id" || name === "committee_id" ? "target" : name));

async function defaults() {
  form.occurred_at.value = isoNow().slice(0, 16);
  const channel = form.querySelector(`[name=channel][value="${await getMeta("last_channel")}"]`);
  if (channel) channel.checked = true;
}

form.addEventListener("change", (e) => {
  if (e.target.name === "target") attendees();
  if (e.target.name === "attendee_ids") {
    // Everyone named took part: the headcount is at least that many.
    const named = form.querySelectorAll("[name=attendee_ids]:checked").length;
    if (Number(form.participants_count.value || 0) < named) form.participants_count.value = String(named);
  }
});
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const fields = read();
  const errors = checkFields("group_activity", fields);
  if (!target()) errors.target = t("Choose a group or committee.");
  if (!fields.occurred_at) errors.occurred_at = t("Enter the date and time.");
  showErrors(errors);
  if (Object.keys(errors).length) return;
  await save("group_activity", uuid(), fields, 0);
  await setMeta("last_channel", fields.channel);
  await setMeta("last_activity_target", form.target.value);
  document.getElementById("saved").textContent = t("Saved on this phone. Waiting to sync.");
  const keep = form.target.value;
  form.reset();
  form.target.value = keep;
  document.getElementById("named").open = false;
  await defaults();
  attendees();
  await renderPast();
  afterSave();
});

// --- past activities ------------------------------------------------------------------------------

const CHANNEL = () => ({
  wechat_group: t("WeChat group session"), neighbourhood_activity: t("Neighbourhood activity"),
  community_assistance: t("Community assistance"),
});
const PAGE = 30;
let shown = PAGE;
let me = null;
let groups = [];
const committees = new Map();

// The phone has no committee names: a committee is named by the group that meets in it, else by
// how many of the leader's participants live there.
const size = (id) => people.filter((p) => p.committee_id === id).length;
const committeeName = (id, group) => (group ? t("Residential committee of %(group)s", { group })
  : t("Residential committee (%(n)s of your participants)", { n: size(id) }));

function targetName(a) {
  if (a.group_id) return groups.find((g) => g.id === a.group_id)?.name || t("Group");
  return committees.has(a.committee_id) ? committeeName(a.committee_id, committees.get(a.committee_id))
    : t("Residential committee");
}

// The author voids what they recorded; staff any in their community (the server checks again).
const voidable = (a) => Boolean(me) && !a.voided &&
  (me.role === "peer_leader" ? !a.peer_leader_id || a.peer_leader_id === me.id
    : me.role === "coordinator" || me.role === "admin");

function reach(a) {
  const parts = [];
  if (a.participants_count != null) parts.push(t("Participants reached") + " " + a.participants_count);
  if (a.residents_count != null) parts.push(t("Other residents") + " " + a.residents_count);
  return parts.join(" · ");
}

function card(a) {
  const line = (text) => (text ? el("p", { class: "line", text }) : null);
  return el("li", { class: "card", "data-id": a.id },
    el("span", { class: "name", text: `${fmtDateTime(a.occurred_at)} · ${CHANNEL()[a.channel] || a.channel}` }),
    a._pending ? el("span", { class: "tag", text: t("Waiting to sync") }) : null,
    a._attention ? el("a", { class: "tag warn", href: "/attention", text: t("Needs attention") }) : null,
    line(targetName(a)), line(reach(a)), line(a.topic),
    voidable(a) ? voidControls("group_activity", [a], {
      question: t("Why is this activity void?"), confirmText: t("Void activity"), closed: () => redrawing.whenDone(),
      done: async () => {
        document.getElementById("voided").textContent = t("Voided on this phone. Waiting to sync.");
        await renderPast({ force: true });
        afterSave();
      },
    }) : null);
}

// `force`: drawn even while a "More" menu is open (the one a void was just saved from).
async function renderPast({ force = false } = {}) {
  const rows = (await all("activities")).filter((a) => !a.voided)
    .sort((a, b) => (b.occurred_at || "").localeCompare(a.occurred_at || ""));
  // A menu opened while the records were read: not closed under the user's fingers.
  if (!force && busy()) { redrawing?.later(); return; }
  document.getElementById("past").replaceChildren(...(rows.length ? rows.slice(0, shown).map(card)
    : [el("li", { class: "empty", text: t("No group activities yet.") })]));
  document.getElementById("past-more").hidden = rows.length <= shown;
}

// A sync may bring new data while a reason is typed: the list is redrawn once the user is done.
const busy = () => Boolean(document.querySelector("#past details.more[open]"));
let redrawing = null;

me = await start();
people = (await all("participants")).filter((p) => !p.status || p.status === "active")
  .sort((a, b) => (a.full_name || "").localeCompare(b.full_name || ""));
groups = (await all("groups")).sort((a, b) => (a.name || "").localeCompare(b.name || ""));
for (const g of groups) if (g.committee_id && !committees.has(g.committee_id)) committees.set(g.committee_id, g.name);
for (const p of people) if (p.committee_id && !committees.has(p.committee_id)) committees.set(p.committee_id, null);
form.target.append(
  el("optgroup", { label: t("Groups") }, ...groups.map((g) => el("option", { value: `group:${g.id}`, text: g.name || g.id }))),
  el("optgroup", { label: t("Residential committees") }, ...[...committees].map(([id, group]) => el("option", {
    value: `committee:${id}`, text: committeeName(id, group),
  }))));
const last = await getMeta("last_activity_target");
if (last && form.querySelector(`#target option[value="${last}"]`)) form.target.value = last;
else if (groups.length === 1) form.target.value = `group:${groups[0].id}`;
await defaults();
attendees();
await renderPast();
document.getElementById("past-more").addEventListener("click", () => { shown += PAGE; renderPast(); });
redrawing = redrawAfterSync(renderPast, busy);
document.body.dataset.ready = "yes";
