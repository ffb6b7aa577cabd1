"""The shop's HTML: small server-rendered pages, every value escaped."""

from __future__ import annotations

import json
from html import escape
from typing import Any

PRODUCTS = {
    "latte": ("拿铁 Latte", 1800),
    "tea": ("龙井茶 Longjing tea", 1250),
    "cake": ("芝士蛋糕 Cheesecake", 990),
}
STATE_NAMES = {
    "NOTPAY": "待支付",
    "PAID": "已支付",
    "FAILED": "支付失败",
    "REVERSED": "已撤销",
    "REFUNDED": "已退款",
    "UNRESOLVED": "待人工处理",
}
STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;
background:#f6f7f9;color:#222}
header{background:#07c160;color:#fff;padding:12px 24px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none}header b{font-size:20px;margin-right:auto}
main{max-width:880px;margin:24px auto;padding:0 16px}
.card{background:#fff;border-radius:8px;padding:16px 20px;margin-bottom:16px;
box-shadow:0 1px 2px #0001}
.products{display:grid;grid-template-columns:repeat(3,1fr);gap:16px}
.price{font-size:22px;color:#fa5151;margin:8px 0}
button,.button{background:#07c160;color:#fff;border:0;border-radius:6px;padding:8px 14px;
font-size:14px;cursor:pointer;text-decoration:none;display:inline-block;margin:2px}
button.secondary{background:#576b95}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:6px;text-align:left}
.ok{color:#07c160}.bad{color:#fa5151}.muted{color:#888;font-size:13px}
input{font-size:16px;padding:6px;width:18em}
"""


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def layout(title: str, body: str, script: str = "") -> str:
    return (
        f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{escape(title)}</title>"
        f"<meta name=viewport content='width=device-width'><style>{STYLE}</style>"
        "<header><b>☕ 蓝鲸咖啡 Demo shop</b><a href='/'>商品</a><a href='/cashier'>收银台</a>"
        "<a href='/orders'>订单</a><a href='/reconcile'>对账</a></header>"
        f"<main>{body}</main>{script}</html>"
    )


def home() -> str:
    cards = []
    for key, (name, fee) in PRODUCTS.items():
        buttons = "".join(
            f"<button name=method value={m} id=buy-{key}-{m.lower()}>{label}</button>"
            for m, label in (("NATIVE", "扫码支付"), ("JSAPI", "公众号支付"), ("MWEB", "H5 支付"))
        )
        cards.append(
            f"<form class=card method=post action=/buy><input type=hidden name=product "
            f"value={key}><h3>{escape(name)}</h3><div class=price>¥{yuan(fee)}</div>"
            f"{buttons}</form>"
        )
    return layout("Demo shop", f"<div class=products>{''.join(cards)}</div>")


def order_page(order: dict[str, Any], platform: str, refund_note: str = "") -> str:
    no, state = order["out_trade_no"], order["state"]
    qr = ""
    if state == "NOTPAY" and order["method"] == "NATIVE":
        from urllib.parse import urlencode

        link = f"{platform}/pay/qr?" + urlencode({"code_url": order["code_url"]})
        qr = (
            f"<p>请用微信扫码支付: <code>{escape(order['code_url'])}</code></p>"
            f"<a class=button id=qr href='{escape(link)}'>打开二维码 (wxpay-local)</a>"
        )
    refund = ""
    if state == "PAID":
        refund = (
            f"<form method=post action='/orders/{escape(no)}/refund'>"
            "<button class=secondary id=refund>全额退款</button></form>"
        )
    if order["refund_id"]:
        refund = f"<p id=refund-info>退款已受理: {escape(order['refund_id'])}</p>"
    body = (
        f"<div class=card><h2>订单 <span id=order-no>{escape(no)}</span></h2>"
        f"<p>{escape(order['body'])} · ¥{yuan(order['total_fee'])} · {escape(order['method'])}</p>"
        f"<p>状态: <b id=state data-state='{escape(state)}'>{STATE_NAMES.get(state, state)}</b></p>"
        f"<p class=muted>微信支付订单号 {escape(order['transaction_id'] or '—')} · "
        f"通知 <span id=notified>{order['notifications']}</span> 次</p>"
        f"{qr}{refund}{escape(refund_note)}</div>"
    )
    poll = ""
    if state == "NOTPAY":
        poll = (
            "<script>setInterval(async()=>{const r=await fetch(location.pathname+'.json');"
            "const o=await r.json();if(o.state!=='NOTPAY')location.reload()},1000)</script>"
        )
    return layout(f"订单 {no}", body, poll)


def orders_page(orders: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td><a href='/orders/{escape(o['out_trade_no'])}'>{escape(o['out_trade_no'])}</a>"
        f"</td><td>{escape(o['body'])}</td><td>¥{yuan(o['total_fee'])}</td>"
        f"<td>{escape(o['method'])}</td><td>{STATE_NAMES.get(o['state'], o['state'])}</td></tr>"
        for o in orders
    )
    return layout(
        "订单",
        "<div class=card><h2>订单</h2><table><tr><th>订单号</th><th>商品</th><th>金额</th>"
        f"<th>方式</th><th>状态</th></tr>{rows}</table></div>",
    )


def jsapi_page(platform: str, out_trade_no: str, params: dict[str, str], total_fee: int) -> str:
    script = (
        f"<script src='{escape(platform)}/jsapi/jweixin.js'></script><script>"
        f"const params={json.dumps(params)};"
        "document.getElementById('pay').onclick=()=>WeixinJSBridge.invoke("
        "'getBrandWCPayRequest',params,(res)=>{"
        "document.getElementById('message').textContent=res.err_msg;"
        "if(res.err_msg==='get_brand_wcpay_request:ok')"
        f"location.href='/orders/{out_trade_no}'}});</script>"
    )
    body = (
        f"<div class=card><h2>公众号支付</h2><p>订单 {escape(out_trade_no)} · "
        f"¥{yuan(total_fee)}</p><button id=pay>确认支付</button><p id=message class=muted></p>"
        "</div>"
    )
    return layout("公众号支付", body, script)


def cashier_page(message: str = "") -> str:
    options = "".join(
        f"<option value={k}>{escape(n)} ¥{yuan(f)}</option>" for k, (n, f) in PRODUCTS.items()
    )
    body = (
        "<form class=card method=post action=/cashier><h2>收银台 · 付款码支付</h2>"
        f"<p><select name=product id=product>{options}</select></p>"
        "<p><input name=auth_code id=auth-code placeholder='扫描或输入付款码 (18 位)' "
        "autofocus inputmode=numeric></p><button id=charge>收款</button>"
        f"<p class=bad>{escape(message)}</p></form>"
    )
    return layout("收银台", body)


def till_page(out_trade_no: str) -> str:
    script = (
        "<script>async function tick(){const r=await fetch(location.pathname+'.json');"
        "const t=await r.json();document.getElementById('steps').innerHTML=t.steps.map("
        "s=>'<li>+'+s.seconds+' s '+s.text.replace(/[<&]/g,'')+'</li>').join('');"
        "const o=document.getElementById('outcome');o.dataset.state=t.state;"
        "o.textContent=t.state_name;if(t.final)clearInterval(timer)}"
        "const timer=setInterval(tick,500);tick()</script>"
    )
    body = (
        f"<div class=card><h2>收款 {escape(out_trade_no)}</h2>"
        "<p>结果: <b id=outcome data-state=''>…</b></p>"
        "<p class=muted>最佳实践: 付款码支付 → 不明确时 5 秒后查单, 每 10 秒再查, 45 秒后撤销"
        "(不早于 15 秒)</p><ol id=steps></ol><a class=button href=/cashier>下一位</a></div>"
    )
    return layout("收款", body, script)


def reconcile_page(date: str, lines: list[tuple[str, str, str, str, str]], note: str) -> str:
    rows = "".join(
        f"<tr data-status='{escape(status)}'><td>{escape(no)}</td><td>{escape(shop)}</td>"
        f"<td>{escape(bill)}</td><td class={'ok' if status == 'matched' else 'bad'}>"
        f"{escape(status)}</td><td>{escape(kind)}</td></tr>"
        for no, shop, bill, status, kind in lines
    )
    problems = sum(1 for line in lines if line[3] != "matched")
    body = (
        "<form class=card><h2>对账 · 交易账单</h2><input name=date id=date value='"
        f"{escape(date)}' placeholder=yyyyMMdd><button id=load>下载并核对</button></form>"
        f"<div class=card><p id=summary>{len(lines) - problems} 笔一致, {problems} 笔有差异"
        f"</p><p class=muted>{escape(note)}</p><table id=recon><tr><th>订单号</th><th>本店</th>"
        f"<th>账单</th><th>结果</th><th>类型</th></tr>{rows}</table></div>"
    )
    return layout("对账", body)
