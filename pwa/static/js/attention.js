// Needs attention: pushes the server rejected (with its messages per field) or merged with a
// conflict an administrator will resolve. The user reads, fixes by entering again, and dismisses.
import { start, el } from "./app.js";
import { all, tx, req } from "./db.js";
import { t, fmtDateTime } from "./i18n.js";

const ENTITY = () => ({ participant: t("Participant"), contact: t("Contact"), group_meeting: t("Group meeting") });

async function dismiss(item) {
  await tx(["attention", "participants", "contacts", "meetings"], "readwrite", async (s) => {
    s.attention.delete(item.mutation_id);
    const store = { participant: "participants", contact: "contacts", group_meeting: "meetings" }[item.entity];
    const record = await req(s[store].get(item.id));
    if (record && item.status === "rejected" && !record.version) s[store].delete(item.id);
    else if (record) { delete record._attention; s[store].put(record); }
  });
  render();
}

async function render() {
  const people = new Map((await all("participants")).map((p) => [p.id, p]));
  const items = (await all("attention")).sort((a, b) => b.mutation_id - a.mutation_id);
  const list = document.getElementById("items");
  list.replaceChildren(...(items.length ? items.map((item) => {
    const who = people.get(item.entity === "participant" ? item.id : item.fields?.participant_id);
    const errors = Object.entries(item.errors || {}).map(([field, messages]) =>
      el("li", {}, el("code", { text: field }), ": " + [].concat(messages).map((m) => t(m)).join("; ")));
    const button = el("button", { type: "button", class: "button small", text: t("Dismiss") });
    button.addEventListener("click", () => dismiss(item));
    return el("li", { class: "card " + item.status, "data-status": item.status },
      el("span", { class: "name", text: `${ENTITY()[item.entity] || item.entity}${who ? " · " + (who.full_name || who.code) : ""}` }),
      el("span", { class: "tag warn", text: item.status === "rejected" ? t("Not accepted by the server") : t("Conflict: an administrator will review it") }),
      el("span", { class: "meta", text: fmtDateTime(item.at) }),
      errors.length ? el("ul", { class: "errors" }, ...errors) : null,
      button);
  }) : [el("li", { class: "empty", text: t("Nothing needs attention.") })]));
  document.body.dataset.ready = "yes";
}

await start();
await render();
document.addEventListener("peerlog:data", render);
