// Moves the export's progress bar by polling its status URL; the page works without it
// (a refresh shows the progress).
(function () {
  "use strict";
  var box = document.getElementById("export-job");
  if (!box || !window.fetch) { return; }
  var bar = document.getElementById("export-progress");
  var percent = document.getElementById("export-percent");
  var state = document.getElementById("export-state");
  var download = document.getElementById("export-download");
  var refresh = document.getElementById("export-refresh");
  var words = { queued: "Waiting for a worker to start it…", running: "Building the file…", done: "Ready.", expired: "This export's file was deleted; ask for a new export." };
  var delay = 1000;
  function poll() {
    fetch(box.getAttribute("data-status-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        bar.value = job.progress;
        percent.textContent = Math.round(job.progress * 100) + "%";
        state.textContent = job.state === "failed" ? "The export failed: " + job.error : words[job.state];
        if (job.state === "done") {
          download.href = job.download;
          download.hidden = false;
          if (refresh) { refresh.hidden = true; }
          return;
        }
        if (job.state === "failed" || job.state === "expired") {
          if (refresh) { refresh.hidden = true; }
          return;
        }
        // Slower and slower, to at most every 5 s: cheap on slow mobile data.
        delay = Math.min(delay * 1.5, 5000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  if (box.querySelector("#export-refresh")) { window.setTimeout(poll, delay); }
})();
