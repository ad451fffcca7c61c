// Quarterly implementation ratings (SPEC 2): one peer leader and one quarter at a time, each rated
// item 1–5 by a large button or not rated, and a comment. A peer leader already rated for the
// quarter on this phone has that rating opened: saving changes it (only the fields changed go on
// the wire, so it merges with a change made elsewhere), rather than adding a second one.
import { get } from "./db.js";
import { save, amendQueued } from "./outbox.js";
import { t } from "./i18n.js";
import { uuid } from "./uuid.js";
import { card, fillLeaders, latest, onSubmit, openScreen, showList } from "./coordinator.js";

const form = document.getElementById("rating");
const ITEMS = [...form.querySelectorAll("fieldset.item .choice input[value='1']")].map((i) => i.name);
let leaders = [];
let ratings = [];

// This quarter and the seven before it, newest first: a rating is never for a quarter to come.
function quarters(now = new Date()) {
  const index = now.getFullYear() * 4 + Math.floor(now.getMonth() / 3);
  return Array.from({ length: 8 }, (_, n) => `${Math.floor((index - n) / 4)}-Q${((index - n) % 4) + 1}`);
}

// The rating of the chosen peer leader and quarter on this phone, if any (the last one saved).
const current = () => ratings.filter((r) => r.peer_leader_id === form.peer_leader_id.value && r.period === form.period.value)
  .sort((a, b) => (b.version || 0) - (a.version || 0))[0] || null;

function read() {
  const fields = { peer_leader_id: form.peer_leader_id.value || null, period: form.period.value || null };
  for (const item of ITEMS) {
    const v = form.querySelector(`[name="${item}"]:checked`)?.value;
    fields[item] = v ? Number(v) : null;
  }
  fields.comment = form.comment.value.trim() || null;
  return fields;
}

function mark() {
  // The chosen button filled in even where CSS :has() is missing (Chrome before 105).
  for (const box of form.querySelectorAll(".scale input")) box.closest(".choice").classList.toggle("on", box.checked);
}

// The form shows the chosen peer leader's rating of the quarter, or an empty one.
function showCurrent() {
  const r = current();
  for (const item of ITEMS) {
    const v = r?.[item];
    form.querySelector(`[name="${item}"][value="${v == null ? "" : v}"]`).checked = true;
  }
  form.comment.value = r?.comment || "";
  document.getElementById("already").hidden = !r;
  mark();
}

async function drawRecent() {
  ratings = await latest("ratings", "period", Infinity);
  const period = form.period.value;
  showList(leaders.filter((l) => l.active).map((l) => {
    const r = ratings.find((x) => x.peer_leader_id === l.id && x.period === period);
    const given = r ? ITEMS.filter((i) => r[i] != null).map((i) => r[i]).join(" · ") : "";
    return card(l.name, r ? t("Rated: %(items)s", { items: given || "—" }) : t("Not rated yet"), r || { id: l.id });
  }), t("No peer leaders on this phone yet."));
}

async function store(fields) {
  const before = current();
  if (!before) {
    const fresh = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
    return save("implementation_rating", uuid(), fresh, 0);
  }
  const changed = Object.fromEntries(Object.entries(fields).filter(([k, v]) => (before[k] ?? null) !== v));
  if (!Object.keys(changed).length) return null;
  // Still waiting to be created on the server: the change goes into that creation.
  if (!before.version && (await amendQueued("implementation_rating", before.id, changed))) return null;
  const now = await get("ratings", before.id);
  return save("implementation_rating", before.id, changed, now?.version || 0);
}

form.addEventListener("change", async (e) => {
  if (e.target.name === "peer_leader_id" || e.target.name === "period") {
    await drawRecent();
    showCurrent();
  } else mark();
});
onSubmit(form, {
  read,
  entity: "implementation_rating",
  required: () => ({ peer_leader_id: t("Choose a peer leader."), period: t("Choose a quarter.") }),
  check(fields, errors) {
    if (fields.period && !quarters().includes(fields.period)) errors.period = t("Choose a quarter.");
  },
  async store(fields) {
    await store(fields);
    const who = form.peer_leader_id.selectedOptions[0]?.textContent || "";
    document.getElementById("saved").textContent = [t("Saved on this phone. Waiting to sync."), who].join(" ");
    await drawRecent();
    showCurrent();
  },
});

for (const q of quarters()) form.period.append(new Option(q, q));
await openScreen(form, {
  fill(list) {
    fillLeaders(form.peer_leader_id, list);
  },
  async redraw(list) {
    leaders = list;
    await drawRecent();
  },
});
showCurrent();
document.body.dataset.ready = "yes";
