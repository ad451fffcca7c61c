// What the forms share: the participant pick-list and showing the checks' messages by the fields.
import { el } from "./app.js";
import { all } from "./db.js";

// Active participants, by name, into a <select>; returns them.
export async function fillParticipants(select) {
  const people = (await all("participants"))
    .filter((p) => !p.status || p.status === "active")
    .sort((a, b) => (a.full_name || "").localeCompare(b.full_name || ""));
  select.append(...people.map((p) => el("option", { value: p.id, text: `${p.full_name || ""} (${p.code || ""})` })));
  return people;
}

// {field: message} beside the fields (`#err-<field>`), the fields marked invalid, the first one
// focused. `inputOf` names the input a message is about when it is not the field's own.
export function showErrors(form, errors, inputOf = (name) => name) {
  for (const node of form.querySelectorAll(".error")) node.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const [name, message] of Object.entries(errors)) {
    const box = document.getElementById("err-" + inputOf(name));
    if (box) box.textContent = message;
    form[inputOf(name)]?.setAttribute?.("aria-invalid", "true");
  }
  const first = Object.keys(errors)[0];
  if (first) form[inputOf(first)]?.focus?.();
}
