// Live pages: poll the order's state every 1.5 s (a short poll rather than server-sent events:
// it survives proxies and the server keeps no connection per open tab) and reload when the
// order cannot be paid any more, so the page shows that state's screen (paid, closed, expired).
(function () {
  "use strict";
  var card = document.querySelector("[data-live]");
  if (!card) return;
  var url = card.getAttribute("data-live");
  var tick = function () {
    fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (state && state.screen) { window.location.reload(); return; }
        setTimeout(tick, 1500);
      })
      .catch(function () { setTimeout(tick, 3000); });
  };
  setTimeout(tick, 1500);
})();
