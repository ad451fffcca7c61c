// Group meeting: one group_meeting mutation with the attendees' ids, and who from the health
// centre co-led it (SPEC 2), offered again for the group's next meeting.
import { start, afterSave, el } from "./app.js";
import { all, getMeta, setMeta } from "./db.js";
import { save, isoNow } from "./outbox.js";
import { t } from "./i18n.js";
import { uuid } from "./uuid.js";

const form = document.getElementById("meeting");
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

async function coLeader() {
  const group = form.group_id.value;
  form.co_leader.value = group ? (await getMeta("co_leader:" + group)) || "" : "";
}

form.group_id.addEventListener("change", () => { attendees(); coLeader(); });
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const errors = {};
  if (!form.group_id.value) errors.group_id = t("Choose a group.");
  const at = form.occurred_at.value ? new Date(form.occurred_at.value) : null;
  if (!at) errors.occurred_at = t("Enter the date and time.");
  else if (at.getTime() > Date.now() + 10 * 60 * 1000) errors.occurred_at = t("Must not be in the future.");
  for (const name of ["group_id", "occurred_at"]) {
    document.getElementById("err-" + name).textContent = errors[name] || "";
  }
  if (Object.keys(errors).length) return;
  const text = (n) => form[n].value.trim() || null;
  const fields = {
    group_id: form.group_id.value,
    occurred_at: isoNow(at),
    attendee_ids: [...form.querySelectorAll("[name=attendee_ids]:checked")].map((c) => c.value),
  };
  for (const n of ["place", "topic", "co_leader", "note"]) if (text(n)) fields[n] = text(n);
  await save("group_meeting", uuid(), fields, 0);
  await setMeta("co_leader:" + fields.group_id, fields.co_leader || "");
  const group = form.group_id.value;
  document.getElementById("saved").textContent =
    t("Saved on this phone. Waiting to sync.") + " " + t("%(n)s attended.", { n: fields.attendee_ids.length });
  form.reset();
  form.group_id.value = group;
  form.occurred_at.value = isoNow().slice(0, 16);
  attendees();
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
await coLeader();
document.body.dataset.ready = "yes";
