#!/usr/bin/env node
// Download a bill with the npm `tenpay` package, unchanged, and print what its parser makes of it.
//
// Usage: node parse_bill.js bill BASE_URL APPID MCH_ID API_KEY BILL_DATE BILL_TYPE
//        node parse_bill.js fundflow BASE_URL APPID MCH_ID API_KEY BILL_DATE ACCOUNT_TYPE [P12]
//
// tenpay keeps its endpoint URLs in the instance property `urls`; pointing `downloadbill` /
// `downloadfundflow` at BASE_URL is the only change. With `format = true` tenpay splits the
// file itself (`_parseBill`: strip the leading backtick, split on ",`"). The fund flow is signed
// with HMAC-SHA256 (tenpay's default for it) and sent with the p12 when one is given.
// Prints one JSON line: {"ok": true, "result": {list_title, list_data, total_title, total_data}}
// or {"ok": false, "error": "..."}.
'use strict';

const fs = require('fs');
const tenpay = require('tenpay');

async function main() {
  const [mode, base, appid, mchid, partnerKey, billDate, kind, p12File] = process.argv.slice(2);
  if (!kind) {
    throw new Error('usage: node parse_bill.js bill|fundflow BASE APPID MCH_ID KEY DATE TYPE [P12]');
  }
  const options = {appid, mchid, partnerKey};
  if (p12File) options.pfx = fs.readFileSync(p12File);
  const api = new tenpay(options);
  const root = base.replace(/\/+$/, '');
  if (mode === 'fundflow') {
    api.urls.downloadfundflow = root + '/pay/downloadfundflow';
    return api.downloadFundflow({bill_date: billDate, account_type: kind}, true);
  }
  api.urls.downloadbill = root + '/pay/downloadbill';
  return api.downloadBill({bill_date: billDate, bill_type: kind}, true);
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
