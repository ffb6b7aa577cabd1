"""In Chromium, a page from another origin (another loopback port: same site; 127.0.0.2: another
site) tries to drive the platform the person has open: fetch and auto-submitted forms to the
control plane, a console form while signed in, payer-page forms. Each fails; nothing changes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import console_login, merchant_site

from wxpay_local.testing import Harness

pytestmark = pytest.mark.e2e

#: The other origin's page. Fetches first (a JSON one needs a CORS preflight; text/plain ones
#: are "simple" and go out), then one auto-submitting form per target, each into an iframe;
#: ``window.done`` once every fetch settled and every iframe loaded what the platform answered.
EVIL = """<!doctype html><meta charset="utf-8"><title>win a prize</title>
<script>
const T = "__TARGET__";
const PAY = __PAY__;
window.results = {};
async function attempt(name, path, init) {
  try { const r = await fetch(T + path, init); window.results[name] = r.type + ":" + r.status; }
  catch (e) { window.results[name] = "blocked"; }
}
function post(name, path, fields, enctype) {
  return new Promise(function (resolve) {
    const frame = document.createElement("iframe");
    frame.name = name;
    document.body.appendChild(frame);
    frame.onload = function () { resolve(); };
    const form = document.createElement("form");
    form.method = "post"; form.action = T + path; form.target = name;
    if (enctype) form.enctype = enctype;
    for (const [k, v] of Object.entries(fields)) {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = k; input.value = v;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
  });
}
window.addEventListener("load", async function () {
  const json = {"content-type": "application/json"};
  const text = {"content-type": "text/plain"};
  await attempt("reset-json", "/_local/reset", {method: "POST", headers: json, body: "{}"});
  const simple = {method: "POST", mode: "no-cors", headers: text};
  await attempt("reset-text", "/_local/reset", Object.assign({body: "{}"}, simple));
  await attempt("pay-text", "/_local/pay", Object.assign({body: JSON.stringify(PAY)}, simple));
  await attempt("merchants", "/_local/merchants", {});
  // text/plain forms that send a JSON body: {"…": "=…"} parses as JSON
  const pay = JSON.stringify(Object.assign({}, PAY, {x: ""})).slice(0, -2);
  await Promise.all([
    post("f-reset", "/_local/reset", {'{"x": "': '"}'}, "text/plain"),
    post("f-pay", "/_local/pay", {[pay]: '"}'}, "text/plain"),
    post("f-clock", "/console/clock", {action: "advance", seconds: "86400"}),
    post("f-wallet", "/wallet/password", {payer_id: String(PAY.payer_id), old_password: "123456",
                                          new_password: "000000", repeat: "000000"}),
    post("f-phone", "/phone/pay", {payer_id: String(PAY.payer_id), code_url: PAY.code_url,
                                   method: "wallet", password: "123456", action: "pay"}),
  ]);
  window.done = true;
});
</script><body><h1>Congratulations!</h1></body>"""

POSTED = {"/_local/reset", "/_local/pay", "/console/clock", "/wallet/password", "/phone/pay"}


def _targeted(url: str, base: str) -> bool:
    """A request the other origin's page aimed at the platform (not the wallet's own polling,
    which may still be in flight when the tab navigates away)."""
    path = urlsplit(url).path
    return url.startswith(base) and (path in POSTED or path.startswith("/_local/"))


@pytest.mark.parametrize("site_host", ["127.0.0.2", "127.0.0.1"], ids=["other-site", "other-port"])
def test_a_page_from_another_origin_cannot_drive_the_platform(
    browser: Any, web: Harness, site_host: str
) -> None:
    merchant = web.merchant()
    payer = web.payer(balance=10_000, name="Mia")
    order = web.client(merchant).unifiedorder(
        body="Test shop-Latte",
        out_trade_no="XO0001",
        total_fee=1800,
        spbill_create_ip="127.0.0.1",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )
    target = {"payer_id": payer["payer_id"], "code_url": order["code_url"], "password": "123456"}
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    try:
        # the person: signed in to the console, with a payer session on the wallet page
        console_login(tab, web, "operator", web.operator_password(), path="/console/clock")
        tab.goto(f"{web.base_url}/wallet?payer_id={payer['payer_id']}")
        answers: list[tuple[str, str, int]] = []
        tab.on(
            "response",
            lambda r: (
                _targeted(r.url, web.base_url)
                and answers.append((r.request.method, urlsplit(r.url).path, r.status))
            ),
        )
        pages: dict[str, str] = {}
        with merchant_site(pages, host=site_host) as site:
            pages["/prize"] = EVIL.replace("__TARGET__", web.base_url).replace(
                "__PAY__", json.dumps(target)
            )
            tab.goto(site + "prize")
            tab.wait_for_function("window.done === true")
            results = tab.evaluate("window.results")
    finally:
        context.close()

    # the browser could not read or send JSON: no CORS allowance, the preflight refused
    assert results["reset-json"] == "blocked" and results["merchants"] == "blocked", results
    # whatever reached the platform was refused
    reached = {path for method, path, _ in answers if method == "POST"}
    assert reached == POSTED, answers
    assert all(status == 403 for _, _, status in answers), answers
    # and nothing changed: the merchant is there, the clock where it was, the order unpaid,
    # the payer's password still 123456 (the control plane pays with it now)
    assert web.control("GET", f"/_local/merchants/{merchant.mch_id}")["mch_id"] == merchant.mch_id
    assert web.control("GET", "/_local/clock")["offset_seconds"] == 0
    query = web.client(merchant).orderquery(out_trade_no="XO0001")
    assert query["trade_state"] == "NOTPAY"
    assert web.pay(payer["payer_id"], code_url=order["code_url"], password="123456")["outcome"] == (
        "SUCCESS"
    )
