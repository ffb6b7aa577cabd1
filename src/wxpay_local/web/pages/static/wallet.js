// The micropay password prompt: poll /wallet/prompts about once a second while the page is
// open; when a cashier's charge waits for this payer, show it and answer /wallet/confirm.
// Every text from the server goes in with textContent (merchant names and bodies are input).
(function () {
  "use strict";
  var box = document.getElementById("prompt");
  if (!box || !window.fetch) return;
  var payerId = parseInt(box.getAttribute("data-payer-id"), 10);
  var $ = function (id) { return document.getElementById(id); };
  var form = $("prompt-form"), pw = $("prompt-password"), method = $("prompt-method");
  var message = $("prompt-message"), payButton = $("prompt-pay"), cancelButton = $("prompt-cancel");
  var shown = null;  // the order_id on screen
  var busy = false;  // an answer is on its way
  var finished = false;  // showing the outcome until the person closes it

  pw.addEventListener("input", function () {
    pw.value = pw.value.replace(/[^0-9]/g, "").slice(0, 6);
  });

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  function show(prompt, cards) {
    if (shown !== prompt.order_id) {
      shown = prompt.order_id;
      finished = false;
      $("prompt-merchant").textContent = prompt.merchant;
      $("prompt-amount").textContent = prompt.amount;
      $("prompt-body").textContent = prompt.body;
      method.textContent = "";
      method.appendChild(option("", "零钱"));
      cards.forEach(function (c) {
        method.appendChild(option(String(c.card_id), c.bank + " 尾号" + c.last4));
      });
      pw.value = "";
      message.textContent = "";
      message.className = "state";
      payButton.textContent = "确认支付";
      payButton.disabled = cancelButton.disabled = false;
      cancelButton.hidden = false;
      box.hidden = false;
      box.setAttribute("data-order-id", String(prompt.order_id));
      pw.focus();
    }
    var left = prompt.seconds_left;
    $("prompt-deadline").textContent = left === null ? "" : "请在 " + left + " 秒内输入密码";
  }

  function hide() {
    shown = null;
    finished = false;
    box.hidden = true;
    box.removeAttribute("data-order-id");
  }

  function poll() {
    if (busy || finished) return;
    fetch("/wallet/prompts?payer_id=" + payerId, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || busy || finished) return;
        if (data.prompts.length) show(data.prompts[0], data.cards);
        else if (shown !== null) hide();
      })
      .catch(function () { /* the platform restarting: try again on the next tick */ });
  }

  function answer(action) {
    if (shown === null || busy) return;
    if (action === "pay" && !/^[0-9]{6}$/.test(pw.value)) {
      message.textContent = "请输入6位数字支付密码";
      return;
    }
    busy = true;
    payButton.disabled = cancelButton.disabled = true;
    var body = { payer_id: payerId, order_id: shown, action: action, password: pw.value,
                 card_id: method.value ? parseInt(method.value, 10) : null };
    fetch("/wallet/confirm", { method: "POST", headers: { "content-type": "application/json" },
                               body: JSON.stringify(body) })
      .then(function (r) { return r.json(); })
      .then(function (result) {
        message.textContent = result.message || result.error || "";
        // the outcome in its colour: green for paid, red for anything else
        message.className = "state" + (result.outcome === "SUCCESS" ? " state-success" : "");
        box.setAttribute("data-outcome", result.outcome || "");
        if (result.done) {
          finished = true;
          $("prompt-deadline").textContent = "";  // no countdown frozen beside the outcome
          cancelButton.hidden = true;
          payButton.textContent = "完成";
          payButton.disabled = false;
        } else {
          pw.value = "";
          payButton.disabled = cancelButton.disabled = false;
        }
      })
      .catch(function () { message.textContent = "网络错误，请重试"; })
      .then(function () { busy = false; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (finished) {
      hide();
      if (document.getElementById("history")) window.location.reload();
      return;
    }
    answer("pay");
  });
  cancelButton.addEventListener("click", function () { answer("cancel"); });
  poll();
  setInterval(poll, 1000);
})();
