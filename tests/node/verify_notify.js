#!/usr/bin/env node
// Verify payment notifications with the npm `tenpay` package, unchanged.
//
// Usage: node verify_notify.js APPID MCH_ID API_KEY < notifications.json
// stdin: a JSON array of notification bodies (strings, as received over HTTP).
//
// Each body goes through tenpay's own Express middleware (`middlewareForExpress('pay')`), the
// code a merchant mounts on its notify_url: it parses the XML, checks return_code/result_code,
// appid and mch_id, and verifies `sign` with the body's `sign_type` or, when absent, MD5.
// The request and response are plain objects with just what that middleware touches.
// Prints one JSON line: an array of {"ok": true} or {"ok": false, "error": "..."}.
'use strict';

const tenpay = require('tenpay');

function check(middleware, body) {
  return new Promise((resolve) => {
    const req = {body};
    const res = {header() {}, send(xml) { resolve({ok: false, error: xml}); }};
    Promise.resolve(middleware(req, res, () => resolve({ok: true}))).catch(
      (error) => resolve({ok: false, error: String(error && error.message || error)}),
    );
  });
}

async function main() {
  const [appid, mchid, partnerKey] = process.argv.slice(2);
  if (!partnerKey) throw new Error('usage: node verify_notify.js APPID MCH_ID API_KEY');
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const bodies = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const middleware = new tenpay({appid, mchid, partnerKey}).middlewareForExpress('pay');
  const results = [];
  for (const body of bodies) results.push(await check(middleware, body));
  return results;
}

main().then(
  (results) => console.log(JSON.stringify(results)),
  (error) => {
    console.log(JSON.stringify({error: String(error && error.message || error)}));
    process.exitCode = 1;
  },
);
