// The in-app browser notice (auth/_inapp.html): copy the page's link for the phone's browser.
// In-app browsers often refuse the Clipboard API; selecting the text and the old copy command
// still works in most, and leaves the link selected for a long-press "copy" where neither does.
const button = document.getElementById("inapp-copy");
const field = document.getElementById("inapp-link");
const status = document.getElementById("inapp-status");

button?.addEventListener("click", async () => {
  let copied = false;
  try {
    await navigator.clipboard.writeText(field.value);
    copied = true;
  } catch {
    field.select();
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
  }
  field.focus();
  field.select();
  if (copied) status.textContent = button.dataset.done;
});
