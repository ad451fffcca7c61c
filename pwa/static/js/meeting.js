// Group meeting: one group_meeting mutation with the attendees' ids, and who from the health
// centre co-led it (SPEC 2). The co-leader is typed or picked from the names this phone knows
// (used on meetings, its own and those pulled; the community's staff), the group's last one
// filled in for its next meeting.
import { start, afterSave, el } from "./app.js";
import { all, getMeta, setMeta } from "./db.js";
import { save, isoNow } from "./outbox.js";
import { t } from "./i18n.js";
import { checkFields } from "./validate.js";
import { uuid } from "./uuid.js";

const form = document.getElementById("meeting");
const PICKS = 8;
let people = [];

function attendees() {
  const group = form.group_id.value;
  const box = document.getElementById("attendees");
  const members = people.filter((p) => p.group_id === group);
  box.replaceChildren(...(members.length ? members.map((p) =>
    el("label", { class: "check big" },
      el("input", { type: "checkbox", name: "attendee_ids", value: p.id }),
      ` ${p.full_name || p.code}`))
    : [el("p", { class: "empty", text: group ? t("No participants in this group on this phone.") : t("Choose a group first.") })]));
}

// The co-leaders named on meetings, most recently used first, then the health centre's staff
// the server named at sign-in (`/api/auth/me`), each name once.
function coLeaderNames(meetings, staff) {
  const seen = new Map();
  const used = [...meetings].sort((a, b) => (b.occurred_at || "").localeCompare(a.occurred_at || ""));
  for (const name of [...used.map((m) => m.co_leader), ...staff].map((n) => (n || "").trim())) {
    if (name && !seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), name);
  }
  return [...seen.values()];
}

function pressed() {
  for (const b of document.querySelectorAll("#co_leader-picks button")) {
    b.setAttribute("aria-pressed", String(b.value === form.co_leader.value.trim()));
  }
}

async function offerCoLeaders() {
  const names = coLeaderNames(await all("meetings"), (await getMeta("user"))?.staff || []);
  document.getElementById("co_leader-names").replaceChildren(...names.map((n) => el("option", { value: n })));
  const picks = document.getElementById("co_leader-picks");
  picks.replaceChildren(...names.slice(0, PICKS).map((n) => el("button", { type: "button", class: "button small", value: n, text: n })));
  picks.hidden = !names.length;
  pressed();
}

async function coLeader() {
  const group = form.group_id.value;
  form.co_leader.value = group ? (await getMeta("co_leader:" + group)) || "" : "";
  pressed();
}

document.getElementById("co_leader-picks").addEventListener("click", (e) => {
  const pick = e.target.closest("button");
  if (!pick) return;
  // Tapping the chosen name again clears it: a meeting without a co-leader is common too.
  form.co_leader.value = form.co_leader.value.trim() === pick.value ? "" : pick.value;
  pressed();
});
form.co_leader.addEventListener("input", pressed);
form.group_id.addEventListener("change", () => { attendees(); coLeader(); });
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = (n) => form[n].value.trim() || null;
  const at = form.occurred_at.value ? new Date(form.occurred_at.value) : null;
  const fields = {
    group_id: form.group_id.value || null,
    occurred_at: at && !Number.isNaN(at.getTime()) ? isoNow(at) : null,
    attendee_ids: [...form.querySelectorAll("[name=attendee_ids]:checked")].map((c) => c.value),
  };
  for (const n of ["place", "topic", "co_leader", "note"]) if (text(n)) fields[n] = text(n);
  const errors = checkFields("group_meeting", fields);
  if (!fields.group_id) errors.group_id = t("Choose a group.");
  if (!fields.occurred_at) errors.occurred_at = t("Enter the date and time.");
  for (const name of ["group_id", "occurred_at", "co_leader"]) {
    document.getElementById("err-" + name).textContent = errors[name] || "";
    if (errors[name]) form[name].setAttribute("aria-invalid", "true");
    else form[name].removeAttribute("aria-invalid");
  }
  if (Object.keys(errors).length) return;
  await save("group_meeting", uuid(), fields, 0);
  await setMeta("co_leader:" + fields.group_id, fields.co_leader || "");
  const group = form.group_id.value;
  document.getElementById("saved").textContent =
    t("Saved on this phone. Waiting to sync.") + " " + t("%(n)s attended.", { n: fields.attendee_ids.length });
  form.reset();
  form.group_id.value = group;
  form.occurred_at.value = isoNow().slice(0, 16);
  attendees();
  await offerCoLeaders();
  await coLeader();
  afterSave();
});

await start();
people = (await all("participants")).sort((a, b) => (a.full_name || "").localeCompare(b.full_name || ""));
const groups = (await all("groups")).sort((a, b) => (a.name || "").localeCompare(b.name || ""));
form.group_id.append(...groups.map((g) => el("option", { value: g.id, text: g.name || g.id })));
if (groups.length === 1) form.group_id.value = groups[0].id;
form.occurred_at.value = isoNow().slice(0, 16);
attendees();
await offerCoLeaders();
await coLeader();
document.body.dataset.ready = "yes";
