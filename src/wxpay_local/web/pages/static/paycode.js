// The payment code lives one minute: count down, then fetch a fresh one (POST the refresh
// form). While the password prompt is open the refresh waits, so typing is never cut off.
(function () {
  "use strict";
  var card = document.getElementById("paycode-card");
  var label = document.getElementById("countdown");
  var form = document.getElementById("refresh-form");
  if (!card || !label || !form) return;
  var left = parseInt(card.getAttribute("data-seconds-left"), 10) || 0;
  var prompt = document.getElementById("prompt");
  function tick() {
    if (left > 0) left -= 1;
    label.textContent = left > 0 ? left + " 秒后自动刷新" : "付款码已过期，正在刷新…";
    if (left === 0 && !(prompt && !prompt.hidden)) {
      clearInterval(timer);
      form.submit();
    }
  }
  var timer = setInterval(tick, 1000);
})();
