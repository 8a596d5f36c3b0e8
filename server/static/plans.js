// A document job's page: follow its progress without reloading, then offer the download.
// Without this file the page reloads itself every few seconds (a <noscript> refresh).
(function () {
  "use strict";
  var box = document.querySelector("[data-job-status]");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-job-status");
  var bar = box.querySelector("progress");
  var message = box.querySelector(".job-message");
  var download = box.querySelector(".job-download");
  var link = download.querySelector("a");
  var delay = 1000;

  function show(status) {
    bar.value = status.progress;
    bar.textContent = status.progress + "%";
    message.textContent = status.message;
    if (status.state === "failed") {
      message.className = "job-message flash flash-error";
    }
    if (status.download) {
      link.href = status.download;
      download.hidden = false;
      link.focus();
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (status) {
        show(status);
        if (status.state !== "done" && status.state !== "failed" && status.state !== "expired") {
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        // A dropped connection on mobile data: try again, less often.
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }

  if (!download.hidden || message.className.indexOf("flash-error") >= 0) {
    return;
  }
  window.setTimeout(poll, delay);
})();
