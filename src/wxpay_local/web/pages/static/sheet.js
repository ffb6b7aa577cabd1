// The payment sheet and the Mini Program login, on the platform's origin inside an iframe that
// /jsapi/jweixin.js opens on a merchant's page. The merchant's page cannot reach into this
// document (another origin), so the password exists only here. Messages: this page says
// "ready" to its parent; it takes one request, only from its parent window, and answers only
// that window's origin; the page URL the request names must be on that same origin.
(function () {
  "use strict";
  var BOXES = ["wxpay-loading", "wxpay-error-box", "wxpay-pay-box", "wxpay-login-box"];
  var PAY_FAILED = "系统繁忙，请稍后再试";
  var opener = null;
  var replied = false;
  var warnings = [];

  // What Escape does in the dialog now shown (cancel the payment, the login, close an error).
  var onEscape = null;

  function $(id) { return document.getElementById(id); }
  function show(id) { BOXES.forEach(function (b) { $(b).hidden = b !== id; }); }

  function reply(result) {
    if (replied) return;
    replied = true;
    result.type = "wxpay-local:result";
    result.warnings = warnings;
    window.parent.postMessage(result, opener);
  }

  function call(method, path, body) {
    var init = { method: method, headers: { "content-type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetch(path, init).then(function (r) { return r.json(); });
  }

  // The platform's refusal as the client shows it; the result goes back when it is closed.
  function refuse(message, reason) {
    $("wxpay-error").textContent = message;
    show("wxpay-error-box");
    $("wxpay-error-ok").onclick = function () {
      reply({ result: "fail", message: message, reasons: reason ? [reason] : [] });
    };
    onEscape = $("wxpay-error-ok").onclick;
    $("wxpay-error-ok").focus();
  }

  function unreachable(err) {
    reply({ result: "fail", message: PAY_FAILED, reasons: ["the platform did not answer: " + err] });
  }

  function paySheet(body, info) {
    var pw = $("wxpay-password");
    var msg = $("wxpay-message");
    var method = $("wxpay-method");
    $("wxpay-merchant").textContent = info.order.merchant;
    $("wxpay-amount").textContent = "¥" + info.order.amount;
    $("wxpay-body").textContent = info.order.body;
    $("wxpay-method-label").textContent = "付款方式（" + info.payer.name + "）";
    method.textContent = "";
    method.appendChild(new Option("零钱（余额 ¥" + info.payer.balance + "）", ""));
    info.payer.cards.forEach(function (c) { method.appendChild(new Option(c.label, String(c.card_id))); });
    show("wxpay-pay-box");
    pw.addEventListener("input", function () {
      pw.value = pw.value.replace(/[^0-9]/g, "").slice(0, 6);
      msg.textContent = "";
    });
    pw.focus();

    var busy = false;
    function send(action) {
      if (busy) return;
      if (action === "pay" && !/^[0-9]{6}$/.test(pw.value)) { msg.textContent = "请输入6位数字支付密码"; return; }
      busy = true;
      var request = Object.assign({}, body, { action: action, password: action === "pay" ? pw.value : "" });
      if (method.value) request.card_id = parseInt(method.value, 10);
      call("POST", "/jsapi/pay", request).then(function (res) {
        busy = false;
        if (res.retry) { msg.textContent = res.message; pw.value = ""; pw.focus(); return; }
        var result = { result: res.result || "fail", message: res.message || PAY_FAILED, reasons: res.reason ? [res.reason] : [] };
        if (res.ok) {
          msg.className = "wx-msg wx-ok";
          msg.textContent = res.message;
          setTimeout(function () { reply(result); }, 400);
          return;
        }
        if (result.result === "cancel") { reply(result); return; }
        refuse(result.message, res.reason);
      }).catch(function (err) { busy = false; unreachable(err); });
    }
    $("wxpay-pay-box").addEventListener("submit", function (e) { e.preventDefault(); send("pay"); });
    $("wxpay-cancel").addEventListener("click", function () { send("cancel"); });
    onEscape = function () { send("cancel"); };
  }

  function pay(request, pageUrl) {
    var body = Object.assign({}, request.params || {}, { mode: request.mode, page_url: pageUrl });
    call("POST", "/jsapi/verify", body).then(function (info) {
      warnings = info.warnings || [];
      if (!info.ok) { refuse(info.message || PAY_FAILED, info.reason || info.message); return; }
      paySheet(body, info);
    }).catch(unreachable);
  }

  function login(request) {
    var appid = String(request.appId || "");
    call("GET", "/jsapi/login?appid=" + encodeURIComponent(appid)).then(function (info) {
      if (!info.ok) { refuse("登录失败", info.message); return; }
      $("wxpay-login-app").textContent = info.app_name;
      var list = $("wxpay-login-list");
      list.textContent = "";
      info.payers.forEach(function (p) {
        var row = document.createElement("button");
        row.type = "button";
        row.className = "wx-row";
        row.setAttribute("data-payer-id", String(p.payer_id));
        var avatar = document.createElement("span");
        avatar.className = "wx-avatar";
        avatar.textContent = p.name.slice(0, 1);
        var name = document.createElement("span");
        name.textContent = p.name;
        row.appendChild(avatar);
        row.appendChild(name);
        row.addEventListener("click", function () {
          call("POST", "/jsapi/login", { appid: appid, payer_id: p.payer_id }).then(function (res) {
            if (res.ok) reply({ result: "ok", code: res.code });
            else refuse("登录失败", res.message);
          }).catch(unreachable);
        });
        list.appendChild(row);
      });
      show("wxpay-login-box");
      $("wxpay-login-cancel").onclick = function () { reply({ result: "cancel", message: "cancel" }); };
      onEscape = $("wxpay-login-cancel").onclick;
      var first = list.querySelector("button");
      (first || $("wxpay-login-cancel")).focus();
    }).catch(unreachable);
  }

  // A modal dialog (aria-modal): Escape closes it as its × does, and Tab cycles inside the
  // dialog shown instead of leaving it for the merchant's page behind.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && onEscape) {
      event.preventDefault();
      onEscape();
      return;
    }
    if (event.key !== "Tab") return;
    var box = BOXES.map($).filter(function (b) { return !b.hidden; })[0];
    if (!box) return;
    var items = Array.prototype.filter.call(
      box.querySelectorAll("button, input, select, textarea, a[href], [tabindex]"),
      function (el) { return !el.disabled && el.tabIndex >= 0 && el.offsetParent !== null; }
    );
    if (!items.length) { event.preventDefault(); return; }
    var first = items[0], last = items[items.length - 1];
    var inside = box.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      event.preventDefault();
      first.focus();
    }
  });

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || opener !== null) return;
    var msg = event.data;
    if (!msg || msg.type !== "wxpay-local:request") return;
    if (event.origin === "null") return; // an opaque origin cannot be answered privately
    opener = event.origin;
    var pageUrl = String(msg.page_url || "");
    var pageOrigin = "";
    try { pageOrigin = new URL(pageUrl).origin; } catch (e) { pageOrigin = ""; }
    if (pageOrigin !== opener) {
      refuse("当前页面的URL未注册", "the page says it is " + pageUrl + " but its message comes from " + opener);
      return;
    }
    if (msg.kind === "login") login(msg);
    else pay(msg, pageUrl);
  });

  if (window.parent === window) {
    $("wxpay-loading-text").textContent = "此页面由 /jsapi/jweixin.js 在商户页面内打开。";
  } else {
    // Nothing in "ready" is private, and the parent's origin is not known before its answer.
    window.parent.postMessage({ type: "wxpay-local:ready" }, "*");
  }
})();
