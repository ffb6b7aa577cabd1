// wxpay-local's stand-in for WeChat's JS bridge and JS-SDK payment (spec §6.1).
// Include it instead of https://res.wx.qq.com/open/js/jweixin-1.6.0.js on a merchant page:
//   WeixinJSBridge.invoke('getBrandWCPayRequest', {appId, timeStamp, nonceStr, package,
//                         signType, paySign}, function (res) { res.err_msg })
//   wx.config({appId: ...}); wx.chooseWXPay({timestamp, nonceStr, package, signType, paySign,
//                                           success, cancel, fail, complete})
// The platform verifies paySign as the WeChat client does, then shows a payment sheet.
(function () {
  "use strict";
  var current = document.currentScript;
  var BASE = current && current.src ? new URL(current.src).origin : "";
  var PREFIX = "get_brand_wcpay_request:";
  var TAG = "[wxpay-local]";

  function post(path, body) {
    return fetch(BASE + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (r) { return r.json(); });
  }

  var STYLE = [
    "#wxpay-sheet{position:fixed;inset:0;background:rgba(0,0,0,.5);z-index:2147483647;display:flex;align-items:flex-end;justify-content:center;font-family:-apple-system,BlinkMacSystemFont,'PingFang SC','Noto Sans CJK SC','Microsoft YaHei',Arial,sans-serif;color:#191919}",
    "#wxpay-sheet .wx-panel{background:#fff;width:100%;max-width:480px;border-radius:12px 12px 0 0;padding:16px 20px 24px;box-sizing:border-box;position:relative}",
    "#wxpay-sheet .wx-dialog{align-self:center;border-radius:12px;max-width:320px;text-align:center}",
    "#wxpay-sheet .wx-close{position:absolute;left:12px;top:10px;width:auto;height:auto;margin:0;padding:2px 6px;border:0;border-radius:0;background:none;font-size:26px;line-height:1;color:#7f7f7f;cursor:pointer}",
    "#wxpay-sheet .wx-title{text-align:center;font-size:16px;font-weight:600;margin:0 0 12px}",
    "#wxpay-sheet .wx-merchant{text-align:center;margin:4px 0 0;font-size:15px}",
    "#wxpay-sheet .wx-amount{text-align:center;font-size:36px;font-weight:600;margin:2px 0}",
    "#wxpay-sheet .wx-body{text-align:center;color:#7f7f7f;font-size:13px;margin:0 0 12px}",
    "#wxpay-sheet label{display:block;color:#7f7f7f;font-size:13px;margin:12px 0 6px}",
    "#wxpay-sheet select,#wxpay-sheet input{width:100%;box-sizing:border-box;font-size:16px;padding:10px;border:1px solid #e5e5e5;border-radius:8px;background:#fafafa;font-family:inherit}",
    "#wxpay-sheet input{text-align:center;letter-spacing:12px;font-size:22px}",
    "#wxpay-sheet .wx-msg{min-height:20px;color:#fa5151;font-size:14px;text-align:center;margin:8px 0 0}",
    "#wxpay-sheet .wx-ok{color:#07c160;font-weight:600}",
    "#wxpay-sheet .wx-button{display:block;width:100%;border:0;border-radius:8px;background:#07c160;color:#fff;font-size:17px;font-weight:600;padding:12px;margin-top:12px;cursor:pointer;font-family:inherit}",
    "#wxpay-sheet .wx-tag{text-align:center;font-size:11px;color:#b2b2b2;margin:12px 0 0}",
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function overlay() {
    var old = document.getElementById("wxpay-sheet");
    if (old) old.remove();
    if (!document.getElementById("wxpay-sheet-style")) {
      var style = el("style", { id: "wxpay-sheet-style" }, STYLE);
      document.head.appendChild(style);
    }
    var root = el("div", { id: "wxpay-sheet", role: "dialog", "aria-modal": "true" });
    document.body.appendChild(root);
    return root;
  }

  // The platform's error, as the client shows it; the callback runs when the payer closes it.
  function showError(message, done) {
    var root = overlay();
    var panel = el("div", { class: "wx-panel wx-dialog" });
    panel.appendChild(el("p", { class: "wx-title" }, "微信支付"));
    panel.appendChild(el("p", { class: "wx-msg", id: "wxpay-error" }, message));
    var ok = el("button", { class: "wx-button", id: "wxpay-error-ok", type: "button" }, "确定");
    ok.addEventListener("click", function () { root.remove(); done(); });
    panel.appendChild(ok);
    root.appendChild(panel);
  }

  function showSheet(params, info, finish) {
    var root = overlay();
    var panel = el("div", { class: "wx-panel" });
    var close = el("button", { class: "wx-close", id: "wxpay-cancel", type: "button", "aria-label": "取消" }, "×");
    panel.appendChild(close);
    panel.appendChild(el("p", { class: "wx-title" }, "请输入支付密码"));
    panel.appendChild(el("p", { class: "wx-merchant", id: "wxpay-merchant" }, info.order.merchant));
    panel.appendChild(el("p", { class: "wx-amount", id: "wxpay-amount" }, "¥" + info.order.amount));
    panel.appendChild(el("p", { class: "wx-body" }, info.order.body));
    panel.appendChild(el("label", { for: "wxpay-method" }, "付款方式（" + info.payer.name + "）"));
    var method = el("select", { id: "wxpay-method" });
    method.appendChild(el("option", { value: "" }, "零钱（余额 ¥" + info.payer.balance + "）"));
    info.payer.cards.forEach(function (c) {
      method.appendChild(el("option", { value: String(c.card_id) }, c.label));
    });
    panel.appendChild(method);
    panel.appendChild(el("label", { for: "wxpay-password" }, "支付密码"));
    var pw = el("input", { id: "wxpay-password", type: "password", inputmode: "numeric", maxlength: "6", autocomplete: "off", placeholder: "••••••" });
    panel.appendChild(pw);
    var msg = el("p", { class: "wx-msg", id: "wxpay-message" }, "");
    panel.appendChild(msg);
    var pay = el("button", { class: "wx-button", id: "wxpay-pay", type: "button" }, "确认支付");
    panel.appendChild(pay);
    panel.appendChild(el("p", { class: "wx-tag" }, "wxpay-local 模拟收银台 · 不会产生真实交易"));
    root.appendChild(panel);
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
      var body = Object.assign({}, params, { action: action, password: action === "pay" ? pw.value : "" });
      if (method.value) body.card_id = parseInt(method.value, 10);
      post("/jsapi/pay", body).then(function (res) {
        busy = false;
        if (res.reason) console.error(TAG + " getBrandWCPayRequest failed: " + res.reason);
        if (res.retry) { msg.textContent = res.message; pw.value = ""; pw.focus(); return; }
        if (res.ok) {
          msg.className = "wx-msg wx-ok";
          msg.textContent = res.message;
          setTimeout(function () { root.remove(); finish(res.err_msg); }, 400);
          return;
        }
        root.remove();
        if (res.err_msg === PREFIX + "cancel") { finish(res.err_msg); return; }
        showError(res.message || "系统繁忙，请稍后再试", function () { finish(res.err_msg || PREFIX + "fail"); });
      }).catch(function (err) {
        busy = false;
        console.error(TAG + " the platform did not answer: " + err);
        root.remove();
        finish(PREFIX + "fail");
      });
    }
    pay.addEventListener("click", function () { send("pay"); });
    pw.addEventListener("keydown", function (e) { if (e.key === "Enter") send("pay"); });
    close.addEventListener("click", function () { send("cancel"); });
  }

  function getBrandWCPayRequest(params, callback) {
    var done = false;
    function finish(errMsg) {
      if (done) return;
      done = true;
      if (typeof callback === "function") callback({ err_msg: errMsg });
    }
    var sent = {};
    ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"].forEach(function (k) {
      if (params && params[k] !== undefined && params[k] !== null) sent[k] = String(params[k]);
    });
    post("/jsapi/verify", sent).then(function (info) {
      if (!info.ok) {
        console.error(TAG + " getBrandWCPayRequest failed: " + (info.reason || info.message));
        showError(info.message || "系统繁忙，请稍后再试", function () { finish(PREFIX + "fail"); });
        return;
      }
      showSheet(sent, info, finish);
    }).catch(function (err) {
      console.error(TAG + " the platform did not answer: " + err);
      finish(PREFIX + "fail");
    });
  }

  window.WeixinJSBridge = {
    invoke: function (name, params, callback) {
      if (name === "getBrandWCPayRequest") { getBrandWCPayRequest(params, callback); return; }
      console.error(TAG + " WeixinJSBridge.invoke('" + name + "') is not emulated");
      if (typeof callback === "function") callback({ err_msg: name + ":fail" });
    },
    on: function () {},
    call: function () {},
  };

  var config = {};
  var readyCallbacks = [];
  var configured = false;
  window.wx = {
    config: function (c) {
      config = c || {};
      configured = true;
      readyCallbacks.splice(0).forEach(function (f) { setTimeout(f, 0); });
    },
    ready: function (f) { if (configured) setTimeout(f, 0); else readyCallbacks.push(f); },
    error: function () {},
    chooseWXPay: function (o) {
      o = o || {};
      var params = {
        appId: config.appId,
        timeStamp: o.timestamp,
        nonceStr: o.nonceStr,
        package: o.package,
        signType: o.signType || "MD5",
        paySign: o.paySign,
      };
      getBrandWCPayRequest(params, function (res) {
        var result = res.err_msg.split(":")[1];
        var r = { errMsg: "chooseWXPay:" + result };
        if (result === "ok" && o.success) o.success(r);
        else if (result === "cancel" && o.cancel) o.cancel(r);
        else if (result === "fail" && o.fail) o.fail(r);
        if (o.complete) o.complete(r);
      });
    },
  };

  function announce() { document.dispatchEvent(new Event("WeixinJSBridgeReady")); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", announce);
  else setTimeout(announce, 0);
})();
