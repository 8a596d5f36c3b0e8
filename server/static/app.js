// Progressive touches; every page works without this file.
(function () {
  "use strict";
  // Ask before destructive actions (deactivate a user, close a form).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter || form.querySelector("[data-confirm]");
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    // On slow mobile data a second press would send the form twice.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = true;
      });
    }, 0);
  });
  // Coming back with the browser's Back button must not leave buttons disabled.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[disabled]").forEach(function (b) {
      b.disabled = false;
    });
  });
})();
