// wxpay-local's stand-in for WeChat's JS bridge, JS-SDK payment and the Mini Program's
// payment and login (spec §6.1). Include it instead of res.wx.qq.com's jweixin on a page:
//   WeixinJSBridge.invoke('getBrandWCPayRequest', {appId, timeStamp, nonceStr, package,
//                         signType, paySign}, function (res) { res.err_msg })
//   wx.config({appId}); wx.chooseWXPay({timestamp, nonceStr, package, signType, paySign,
//                                       success, cancel, fail, complete})
//   wx.requestPayment({timeStamp, nonceStr, package, signType, paySign, success, fail,
//                      complete})  // Mini Program: no appId; the order's appid is signed
//   wx.login({success, fail, complete})  // Mini Program: res.code for /sns/jscode2session
//                                        // (the Mini Program's appid from wx.config)
// The sheet runs in an iframe served by the platform (another origin than this page), so this
// page's scripts never see the password. Messages are only taken from that iframe on the
// platform's origin and only sent to it.
(function () {
  "use strict";
  var current = document.currentScript;
  var BASE = current && current.src ? new URL(current.src).origin : location.origin;
  var PREFIX = "get_brand_wcpay_request:";
  var TAG = "[wxpay-local]";
  var LOAD_TIMEOUT_MS = 20000;
  var busy = false;

  // Open the platform's sheet with one request; `done` gets {result: ok|cancel|fail, message}.
  function openSheet(request, done) {
    if (busy) {
      console.error(TAG + " a payment sheet is open already");
      done({ result: "fail", message: "a payment sheet is open already" });
      return;
    }
    busy = true;
    // Focus goes into the sheet and, when it closes, back where the person was (the button
    // that opened it), as a modal dialog's should.
    var before = document.activeElement;
    var host = document.createElement("div");
    host.id = "wxpay-sheet";
    host.setAttribute("style", "position:fixed;inset:0;z-index:2147483647;margin:0;padding:0");
    var frame = document.createElement("iframe");
    frame.id = "wxpay-frame";
    frame.title = "微信支付";
    frame.src = BASE + "/jsapi/sheet";
    frame.setAttribute("style", "width:100%;height:100%;border:0;display:block;background:transparent;color-scheme:normal");
    var timer = setTimeout(function () {
      finish({ result: "fail", message: "", reasons: ["the payment sheet did not load from " + BASE + "/jsapi/sheet"] });
    }, LOAD_TIMEOUT_MS);

    function finish(result) {
      clearTimeout(timer);
      window.removeEventListener("message", listen);
      host.remove();
      busy = false;
      if (before && typeof before.focus === "function" && document.contains(before)) before.focus();
      (result.reasons || []).forEach(function (r) { console.error(TAG + " " + request.api + " failed: " + r); });
      (result.warnings || []).forEach(function (w) { console.warn(TAG + " " + w); });
      done(result);
    }

    function listen(event) {
      if (event.origin !== BASE || event.source !== frame.contentWindow) return;
      var msg = event.data || {};
      if (msg.type === "wxpay-local:ready") {
        clearTimeout(timer);
        request.type = "wxpay-local:request";
        request.page_url = location.href;
        frame.contentWindow.postMessage(request, BASE);
        frame.focus();
      } else if (msg.type === "wxpay-local:result") {
        finish(msg);
      }
    }

    window.addEventListener("message", listen);
    host.appendChild(frame);
    document.body.appendChild(host);
  }

  function payParams(params, names) {
    var sent = {};
    names.forEach(function (k) {
      if (params && params[k] !== undefined && params[k] !== null) sent[k] = String(params[k]);
    });
    return sent;
  }

  var SIGNED = ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"];

  function getBrandWCPayRequest(params, callback) {
    var request = { kind: "pay", mode: "jsapi", api: "getBrandWCPayRequest", params: payParams(params, SIGNED) };
    openSheet(request, function (res) {
      if (typeof callback === "function") callback({ err_msg: PREFIX + res.result });
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

  function settle(o, r, ok) {
    if (ok && o.success) o.success(r);
    if (!ok && o.fail) o.fail(r);
    if (o.complete) o.complete(r);
  }

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
    // The Mini Program's payment: no appId is passed; the platform signs with the appid of
    // the order behind the prepay_id (which must be a Mini Program's).
    requestPayment: function (o) {
      o = o || {};
      var params = payParams(o, SIGNED.slice(1));
      if (config.appId) params.appId = String(config.appId);
      var request = { kind: "pay", mode: "miniprogram", api: "requestPayment", params: params };
      openSheet(request, function (res) {
        var errMsg = "requestPayment:ok";
        if (res.result === "cancel") errMsg = "requestPayment:fail cancel";
        else if (res.result !== "ok") errMsg = "requestPayment:fail " + (res.message || "");
        settle(o, { errMsg: errMsg.trim() }, res.result === "ok");
      });
    },
    login: function (o) {
      o = o || {};
      var request = { kind: "login", api: "wx.login", appId: String(config.appId || "") };
      openSheet(request, function (res) {
        if (res.result === "ok") { settle(o, { code: res.code, errMsg: "login:ok" }, true); return; }
        var detail = res.result === "cancel" ? "cancel" : (res.message || "");
        settle(o, { errMsg: ("login:fail " + detail).trim() }, false);
      });
    },
  };

  function announce() { document.dispatchEvent(new Event("WeixinJSBridgeReady")); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", announce);
  else setTimeout(announce, 0);
})();
