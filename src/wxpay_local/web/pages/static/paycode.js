// The payment code lives one minute: count down, then fetch a fresh one (POST the refresh
// form). While the password prompt is open the refresh waits, so typing is never cut off.
// Every second it also asks whether the code was charged (GET /wallet/paycode/state): a used
// code is replaced by the outcome, green for paid, so it is never shown again as if valid.
(function () {
  "use strict";
  var card = document.getElementById("paycode-card");
  var label = document.getElementById("countdown");
  var form = document.getElementById("refresh-form");
  if (!card || !label || !form) return;
  var left = parseInt(card.getAttribute("data-seconds-left"), 10) || 0;
  var prompt = document.getElementById("prompt");
  var code = card.getAttribute("data-auth-code");
  var payer = card.getAttribute("data-payer-id");
  var used = false;
  var OUTCOMES = { SUCCESS: "支付成功", USERPAYING: "等待输入支付密码", PAYERROR: "支付失败",
                   REVOKED: "已撤销", CLOSED: "已关闭", REFUND: "已退款" };
  function showUsed(state) {
    used = true;
    clearInterval(timer);
    var done = document.getElementById("paycode-used");
    done.hidden = false;
    done.setAttribute("data-state", state.trade_state);
    done.className = "card result " + (state.trade_state === "SUCCESS" ? "result-ok" : "result-info");
    document.getElementById("used-title").textContent = OUTCOMES[state.trade_state] || state.trade_state;
    document.getElementById("used-merchant").textContent = state.merchant;
    document.getElementById("used-amount").textContent = "¥" + state.amount;
    card.hidden = true;
  }
  function check() {
    if (used || !code) return;
    fetch("/wallet/paycode/state?payer_id=" + encodeURIComponent(payer) + "&auth_code=" + code,
          { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        // a code waiting for the password stays behind the prompt until it is answered
        if (state && state.used && state.trade_state !== "USERPAYING") showUsed(state);
      })
      .catch(function () { /* the platform restarting: the next tick asks again */ });
  }
  function tick() {
    if (left > 0) left -= 1;
    label.textContent = left > 0 ? left + " 秒后自动刷新" : "付款码已过期，正在刷新…";
    check();
    if (left === 0 && !used && !(prompt && !prompt.hidden)) {
      clearInterval(timer);
      form.submit();
    }
  }
  var timer = setInterval(tick, 1000);
})();
