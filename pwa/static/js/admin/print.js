// The roster's Print button: a module because the CSP forbids inline handlers.
for (const button of document.querySelectorAll('[data-action="print"]')) {
  button.addEventListener('click', () => window.print());
}
