#!/usr/bin/env node
// A merchant's notify_url served by the npm `tenpay` package, unchanged.
//
// Usage: node notify_server.js APPID MCH_ID API_KEY LOG_FILE
//
// Listens on 127.0.0.1 (a free port) and prints {"port": N} once ready. Each POST body goes
// through tenpay's own Express middleware (`middlewareForExpress('pay')`): it parses the XML,
// checks return_code/result_code, appid and mch_id, and verifies `sign` with the body's
// `sign_type` or, when absent, MD5. The middleware answers its own FAIL reply on a bad
// notification; on a good one the handler answers `res.reply()` (tenpay's SUCCESS reply), as
// a merchant's Express route does. The request and response objects carry just what the
// middleware uses. Every notification is appended to LOG_FILE as a JSON line
// {"body": "...", "ok": true|false, "reply": "..."}.
'use strict';

const fs = require('fs');
const http = require('http');
const tenpay = require('tenpay');

const [appid, mchid, partnerKey, logFile] = process.argv.slice(2);
if (!logFile) throw new Error('usage: node notify_server.js APPID MCH_ID API_KEY LOG_FILE');
const middleware = new tenpay({appid, mchid, partnerKey}).middlewareForExpress('pay');

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let verified = false;
    const res = {
      header(name, value) { response.setHeader(name, value); },
      send(xml) {
        fs.appendFileSync(logFile, JSON.stringify({body, ok: verified, reply: xml}) + '\n');
        response.end(xml);
      },
    };
    middleware({body}, res, () => {
      verified = true;
      res.reply();
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({port: server.address().port}));
});
