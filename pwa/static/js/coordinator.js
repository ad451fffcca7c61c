// What a coordinator's screens share (supervision, training, quarterly ratings: SPEC 2): the
// peer leaders of their community to pick from (sent whole with each sync's last page,
// sync/directory.py), the check that the phone's user is a coordinator, and the list of what was
// recorded lately, the records still waiting to sync marked; the screen's start and its submit.
import { start, afterSave, el } from "./app.js";
import { all, getMeta } from "./db.js";
import { showErrors } from "./forms.js";
import { t } from "./i18n.js";
import { checkFields } from "./validate.js";

const collator = new Intl.Collator(document.documentElement.lang || "zh-CN");

// Every peer leader the phone knows ({id, name, active}), by name.
export async function peerLeaders() {
  const list = (await getMeta("peer_leaders")) || [];
  return list.slice().sort((a, b) => collator.compare(a.name, b.name));
}

export const nameOf = (leaders, id) => leaders.find((l) => l.id === id)?.name || t("A peer leader no longer listed");

// Only a coordinator records these on the phone (the server refuses anyone else): for another
// role the form is hidden and the screen says why. Without peer leaders there is nothing to pick.
export function usable(form, user, leaders) {
  const coordinator = user?.role === "coordinator";
  document.getElementById("not-yours").hidden = coordinator;
  document.getElementById("no-leaders").hidden = !coordinator || leaders.some((l) => l.active);
  form.hidden = !coordinator || !leaders.some((l) => l.active);
  return !form.hidden;
}

// The active peer leaders as options of a <select>, the one the link named (`?peer_leader=`) chosen.
export function fillLeaders(select, leaders) {
  select.append(...leaders.filter((l) => l.active).map((l) => el("option", { value: l.id, text: l.name })));
  const wanted = new URLSearchParams(location.search).get("peer_leader");
  if (wanted && leaders.some((l) => l.id === wanted && l.active)) select.value = wanted;
}

// A choice's words as the form shows them (the template's label, in the page's language).
export const labelOf = (form, name, value) =>
  form.querySelector(`[name="${name}"][value="${value}"]`)?.closest("label")?.textContent.trim() || value;

// The store's records, newest first by `key`, not voided, at most `n`.
export async function latest(store, key, n = 20) {
  return (await all(store)).filter((r) => !r.voided)
    .sort((a, b) => String(b[key] || "").localeCompare(String(a[key] || ""))).slice(0, n);
}

// One card of the "recorded lately" list: a title, lines under it, "waiting to sync" while it is.
export function card(title, ...lines) {
  const [record] = lines.splice(-1);
  return el("li", { class: "card", "data-id": record.id },
    el("span", { class: "name", text: title }),
    ...(record._pending ? [el("span", { class: "tag warn", text: t("Waiting to sync") })] : []),
    ...lines.filter(Boolean).map((line) => el("p", { class: "line", text: line })));
}

export function showList(items, emptyText) {
  document.getElementById("recent").replaceChildren(...(items.length ? items
    : [el("li", { class: "empty", text: emptyText })]));
}

// Draw the screen for `user`: the form once there are peer leaders to pick (`fill(leaders)`, once),
// the list of what was recorded (`redraw(leaders)`); again after each sync, which may bring the
// first peer leaders or mark records as sent. Resolves with the peer leaders.
export function open(form, user, { fill, redraw }) {
  let filled = false;
  const refresh = async () => {
    const leaders = await peerLeaders();
    if (usable(form, user, leaders) && !filled) {
      filled = true;
      fill(leaders);
    }
    if (user?.role === "coordinator") await redraw(leaders);
    return leaders;
  };
  document.addEventListener("peerlog:data", refresh);
  return refresh();
}

// The screen started: the phone's user, then `open` (the same `fill` and `redraw`). Resolves once
// the screen is drawn, with the peer leaders.
export async function openScreen(form, hooks) {
  return open(form, await start(), hooks);
}

// On submit, the form's fields (`read()`) checked by the rules of `entity`, each field `required()`
// names ({field: message}) asked for, then `check(fields, errors)` if the screen checks more; the
// messages shown by the fields. Without any, `store(fields)` (saves, says so, redraws), then a sync.
export function onSubmit(form, { read, entity, required, check = () => {}, store }) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fields = read();
    const errors = checkFields(entity, fields);
    for (const [name, message] of Object.entries(required())) if (!fields[name]) errors[name] = message;
    check(fields, errors);
    showErrors(form, errors);
    if (Object.keys(errors).length) return;
    await store(fields);
    afterSave();
  });
}
