// A classic script in old syntax, not a module: it must run in the browsers too old for Peerlog,
// which never run the app's modules, and tell their users so instead of leaving a page that does
// nothing. The oldest browsers supported are in README ("Phones and browsers"): iOS/Safari 15,
// Chrome 91 and the browsers built on it, Firefox 147.
(function () {
  var notice = document.getElementById("old-browser");
  if (!notice) return;
  function show() { notice.removeAttribute("hidden"); }
  var ok = "noModule" in document.createElement("script") && window.indexedDB &&
    window.Promise && window.fetch && window.Intl && window.crypto && crypto.getRandomValues;
  if (!ok) { show(); return; }
  // A browser with modules but not their newer syntax (top-level await came with Safari 15 and
  // Chrome 89) cannot parse the app's modules, and reports that here.
  window.addEventListener("error", function (e) {
    var message = String((e && e.message) || "");
    var parse = (e && e.error instanceof SyntaxError) || /SyntaxError/.test(message);
    if (parse && !/JSON/i.test(message)) show();
  });
})();
