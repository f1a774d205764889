// Live preview for the card editor. The server renders and sanitises (the same code as a save); this file
// only sends the Markdown and puts the returned, already sanitised HTML in place. Without JavaScript the
// editor's "Preview" button does the same with a full page.
(function () {
  "use strict";
  function start() {
    var form = document.querySelector("form.card-editor");
    if (!form) return;
    var url = form.getAttribute("data-preview-url");
    var timer = null;
    var pending = null;
    function refresh() {
      if (pending) pending.abort();
      pending = new AbortController();
      fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
        signal: pending.signal,
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data || !data.html) return;
          form.querySelectorAll("[data-preview-for]").forEach(function (box) {
            var html = data.html[box.getAttribute("data-preview-for")];
            box.innerHTML = html || '<p class="faint small">Empty: not shown on the card.</p>';
          });
        })
        .catch(function () { /* a newer preview replaced this one, or the network blinked */ });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    });
    refresh();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
