// PaletteAI Admin: the few behaviours plain HTML cannot express. Served locally (CSP: script-src 'self').
(function () {
  function syncSkipWarning() {
    var select = document.querySelector("select[name=tls]");
    var warning = document.getElementById("skip-warning");
    if (!warning) return;
    warning.hidden = !(select && select.value === "skip");
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[name=tls]")) syncSkipWarning();
  });
  document.addEventListener("DOMContentLoaded", syncSkipWarning);
  document.addEventListener("htmx:afterSwap", syncSkipWarning);
})();
