// Voiding a record logged by mistake (SPEC 2): a field and a reason, never a deletion. Shared by
// the screens that list records (a participant's timeline and readings, past group activities).
import { el } from "./app.js";
import { get } from "./db.js";
import { save, amendQueued, STORE_OF } from "./outbox.js";
import { t } from "./i18n.js";

export async function voidRecord(entity, r, reason) {
  const fields = { voided: true, void_reason: reason };
  if (r.version) return save(entity, r.id, fields, r.version);
  // Not on the server yet: the void goes into the queued creation, so the server gets one record,
  // void from the start.
  const amended = await amendQueued(entity, r.id, fields);
  if (!amended) {
    // Acknowledged in the meantime: it has a version now.
    const now = await get(STORE_OF[entity], r.id);
    await save(entity, r.id, fields, now?.version || 0);
  }
}

// Void sits behind a "More" menu on each card: a rare act, not a large button beside every record.
// `records`: the record and any voided with it (a blood pressure's lower row with its upper one).
// `done` runs once the void is queued; `closed` when the menu closes without one.
export function voidControls(entity, records, { question, confirmText, done, closed = () => {} }) {
  const reason = el("input", { name: "void_reason", maxlength: "200", autocomplete: "off",
    "aria-label": question, placeholder: question });
  const error = el("p", { class: "error", role: "alert" });
  const confirm = el("button", { type: "submit", class: "button small", text: confirmText });
  const cancel = el("button", { type: "button", class: "button small", text: t("Cancel") });
  const box = el("form", { class: "void" }, reason, error, confirm, cancel);
  const menu = el("details", { class: "more" },
    el("summary", { "data-action": "void", text: t("More") }), box);
  menu.addEventListener("toggle", () => { if (menu.open) reason.focus(); else closed(); });
  cancel.addEventListener("click", () => { menu.open = false; });
  box.addEventListener("submit", async (e) => {
    e.preventDefault();
    const why = reason.value.trim();
    if (!why) { error.textContent = t("Say why it is void."); reason.focus(); return; }
    confirm.disabled = true; // one void, however often it is tapped
    try {
      for (const r of records) await voidRecord(entity, r, why);
    } finally {
      confirm.disabled = false;
    }
    await done();
  });
  return menu;
}
