// The account page: add, rename and remove passkeys, sign out another device, sign out.
// The lists are rendered by the server; after a change the page reloads to show the new state.
import { api, createCredential, explain, message, signOut } from "./auth.js";

const status = document.getElementById("auth-status");
const show = (text) => {
  status.textContent = text;
};

async function attempt(work) {
  try {
    await work();
  } catch (err) {
    show(explain(err));
  }
}

document.getElementById("passkey-add")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const name = form.elements.name.value.trim();
  attempt(async () => {
    show(message("working"));
    const credential = await createCredential("/api/auth/passkeys/options");
    await api("/api/auth/passkeys", { body: { name, credential } });
    location.reload();
  });
});

for (const form of document.querySelectorAll("[data-passkey-rename]")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = form.dataset.passkeyRename;
    attempt(async () => {
      await api(`/api/auth/passkeys/${id}`, {
        method: "PATCH",
        body: { name: form.elements.name.value.trim() },
      });
      location.reload();
    });
  });
}

for (const button of document.querySelectorAll("[data-passkey-remove]")) {
  button.addEventListener("click", () => {
    if (!window.confirm(message("confirm_remove"))) return;
    attempt(async () => {
      await api(`/api/auth/passkeys/${button.dataset.passkeyRemove}`, { method: "DELETE" });
      location.reload();
    });
  });
}

for (const button of document.querySelectorAll("[data-device-revoke]")) {
  button.addEventListener("click", () => {
    if (!window.confirm(message("confirm_revoke"))) return;
    attempt(async () => {
      await api(`/api/auth/devices/${button.dataset.deviceRevoke}/revoke`, { body: {} });
      location.reload();
    });
  });
}

// Signing out wipes this phone's Peerlog data (the app's wipeAndLeave), after a warning when
// records are still waiting to sync: the same rules as the settings screen.
async function waitingRecords() {
  try {
    const { count } = await import("./db.js");
    return await count("outbox");
  } catch {
    return 0;
  }
}

document.getElementById("sign-out")?.addEventListener("click", () => {
  attempt(async () => {
    const waiting = await waitingRecords();
    if (waiting && !window.confirm(message("confirm_sign_out").replace("%(n)s", waiting))) return;
    if (!(await signOut())) return;
    try {
      const { wipeAndLeave } = await import("./app.js");
      await wipeAndLeave();
    } catch {
      location.assign("/signin");
    }
  });
});
