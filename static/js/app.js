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
// Each series gets its own colour from the Okabe-Ito palette, told apart also with colour-blindness.
(function () {
  var COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  function coloured(datasets) {
    return datasets.map(function (dataset, index) {
      var colour = COLOURS[index % COLOURS.length];
      return Object.assign({}, dataset, {backgroundColor: colour, borderColor: colour});
    });
  }
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
        data: {
          labels: data.labels,
          datasets: coloured([{label: "eligible hosts", data: data.hosts}].concat(data.datasets))
        },
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

// The inventory's bulk bar: shown while hosts are selected ("2 selected"), or for all hosts matching the
// filter; "Clear" unchecks them and hides it. The grid's header sticks under it (--bulk-bar-height).
(function () {
  function bar() { return document.getElementById("bulk-bar"); }
  function boxes() { return document.querySelectorAll("#grid input[name=host]"); }
  function sync() {
    var el = bar();
    if (!el) return;
    var checked = document.querySelectorAll("#grid input[name=host]:checked").length;
    var scope = el.querySelector("select[name=scope]");
    var all = scope && scope.value === "filter";
    el.hidden = !checked && !all;
    document.getElementById("bulk-hint").hidden = !el.hidden;
    document.getElementById("bulk-count").textContent = all ? "All hosts matching the filter" : checked + " selected";
    var header = document.querySelector("#grid [data-select-all]");
    if (header) header.checked = checked > 0 && checked === boxes().length;
    document.documentElement.style.setProperty("--bulk-bar-height", el.hidden ? "0px" : el.offsetHeight + "px");
  }
  function clear() {
    boxes().forEach(function (box) { box.checked = false; });
    var el = bar();
    el.querySelector("select[name=scope]").value = "selected";
    var preview = document.getElementById("tag-preview");
    if (preview) preview.innerHTML = "";
    sync();
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.matches) return;
    if (target.matches("#grid [data-select-all]")) {
      boxes().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("#grid input[name=host], #grid [data-select-all], #bulk-bar select[name=scope]")) sync();
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    if (target.closest("[data-bulk-clear]")) clear();
    if (target.closest("[data-bulk-all]")) {
      bar().querySelector("select[name=scope]").value = "filter";
      sync();
      bar().querySelector("input[name=add]").focus();
    }
  });
  document.addEventListener("DOMContentLoaded", sync);
  document.addEventListener("htmx:afterSettle", sync);
  if (typeof ResizeObserver !== "undefined") {
    document.addEventListener("DOMContentLoaded", function () {
      if (bar()) new ResizeObserver(sync).observe(bar());
    });
  }
})();
