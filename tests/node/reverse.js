#!/usr/bin/env node
// Reverse a micropay order with the npm `tenpay` package, unchanged, over mutual TLS.
//
// Usage: node reverse.js BASE_URL APPID MCH_ID API_KEY P12_FILE OUT_TRADE_NO
//
// tenpay keeps its endpoint URLs in the instance property `urls` (built in the constructor from
// https://api.mch.weixin.qq.com/...); pointing `urls.reverse` at BASE_URL is the only change.
// The client certificate is the merchant's apiclient_cert.p12, handed over as `pfx`; tenpay
// itself passes the mch_id as the PKCS#12 passphrase (urllib `pfx` + `passphrase`).
// Trust the platform's CA with NODE_EXTRA_CA_CERTS=<ca.pem>.
// Prints one JSON line: {"ok": true, "result": {...}} or {"ok": false, "error": "..."}.
'use strict';

const fs = require('fs');
const tenpay = require('tenpay');

async function main() {
  const [base, appid, mchid, partnerKey, p12File, outTradeNo] = process.argv.slice(2);
  if (!outTradeNo) {
    throw new Error('usage: node reverse.js BASE_URL APPID MCH_ID API_KEY P12_FILE OUT_TRADE_NO');
  }
  const api = new tenpay({appid, mchid, partnerKey, pfx: fs.readFileSync(p12File)});
  api.urls.reverse = base.replace(/\/+$/, '') + '/secapi/pay/reverse';
  return api.reverse({out_trade_no: outTradeNo});
}

main().then(
  (result) => {
    console.log(JSON.stringify({ok: true, result}));
  },
  (error) => {
    console.log(JSON.stringify({ok: false, error: String(error && error.message || error)}));
    process.exitCode = 1;
  },
);
