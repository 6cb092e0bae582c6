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

// Charts: a <canvas data-chart="capacity"> next to a json_script element with id "capacity-data".
(function () {
  function drawCharts(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var source = document.getElementById(canvas.dataset.chart + "-data");
      if (!source) return;
      var data = JSON.parse(source.textContent);
      canvas.dataset.drawn = "1";
      new Chart(canvas, {
        type: "bar",
        data: {labels: data.labels, datasets: [{label: "eligible hosts", data: data.hosts}].concat(data.datasets)},
        options: {responsive: true, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawCharts(event.target); });
})();

// Destructive buttons: a plain form with data-confirm="question" submits only when the user agrees.
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);
})();
