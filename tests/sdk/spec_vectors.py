# ruff: noqa: E501 - the spec's lines, verbatim
"""Literal vectors copied from /work/shared/spec (refunds-bills-notifications.md §4.8, §5.5,
§6.9): the SDK is checked against the platform documentation's own bytes."""

#: §5.5: the refund notification's req_info under REFUND_KEY
REFUND_KEY = "Zk9s3Hq7Lm2Xc8Vb4Nn6Tt1Rr5Ww0PaE"
REQ_INFO = (
    "cgHklalPJKx0m5d2Mam3d/7EdUTK+zaXOFFhhUat1yn4SlK8IqCF5kQsvKvREz63VlrmrXF2wfds/dDFnHsSX/Ck"
    "Ub/F0ujw7/vgWuPWThnevS5kqqCy5Nnpe+50hXxm/Xrq30PiBoQDt6VbpdGN0DatrHTPOiIm0mWrSn2/9O7fXEz4"
    "ewHWsJ4FPCbNF67xemQw2BlgR8l3cn57wbziIqK794oPcjxEF7lZXK0Q+oUa3cZ/zop3gcjLUUve6PdsIyFoyK1N"
    "Ingrm0aSyRd2TLvVXFGC4gvx3PMNSGAB5WcU7QMBhJJ4mZ1P88s8HCw2lJo28VgnjE2QoLngkhbzneqGpnu1nERY"
    "qBph7rJZapbsCj9kEkFs0z5KViNtIdsicLuKiy8roplBNuyKkz0wGKiAhX0bsLe/8zposlvNQsa8+55DVwPOKuaL"
    "SnJzDZEacfW8L216arVxrSSM24JkPRs2wW//5nGO7U79DIMdxIQIoGib3fjA/WPN2CuVc2ceue6v+vzZ8dtaccit"
    "IQjQ/5e5twQPRN0/qsjjvzttZrxAgE72YKQtSSkPwndWYsLrAxhLifTWxUm9ILXQLZ/a5PAc2p7HefdN+/Hg6muZ"
    "XBkSjFblMwg1oTP/qoYpnxieTYlda/4cuMN3N7o8I0QeeR0ke8+R7vMbFYd0hC6HneqGY2YWLOcV4pwqOYNEfIul"
    "rJZXeqgyETeouTq61HqRVNR/1nl2A+DuvnBcAvJMZoCg2E5c8/oVChjf2uoRLMv/Gmo4jXIasNegGGborAizc4UJ"
    "wi/r591E6pcYlpHrhRvPq69qlj84zGO/Y0uqgBTfmPH4g8v2M3yrIvmbMDCxIzZO/QnsvyOaeIPRqB2YLMKWDBaj"
    "8AQNQColrgagoad9+sUSt9YUU1HlIHyRnfO9L3FChHecDnA0Frt0xsKP2pIWhIjTHfC7WDWXIz6UGxnBA76VFxEH"
    "BeFWpOc6FZ0EN8l46UcOEwPpZ57bf7xwrFs2wpqNxPyodV2Bszwo7KPZ5ZtaiyE24C7M8IyFBr393aVjC6QL60T9"
    "7f/u/qXZpd8="
)

#: §4.8: a payment notification signed MD5 under REFUND_KEY (the same worked-example key)
PAYMENT_NOTIFICATION = b"""<xml>
<appid><![CDATA[wx1234567890abcdef]]></appid>
<attach><![CDATA[store=SZ01]]></attach>
<bank_type><![CDATA[CMB_CREDIT]]></bank_type>
<cash_fee><![CDATA[800]]></cash_fee>
<fee_type><![CDATA[CNY]]></fee_type>
<is_subscribe><![CDATA[N]]></is_subscribe>
<mch_id><![CDATA[1900000109]]></mch_id>
<nonce_str><![CDATA[5f0c3a8e2b7d4c19a6e0f3b2d1c4a597]]></nonce_str>
<openid><![CDATA[o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c]]></openid>
<out_trade_no><![CDATA[T20240430190001]]></out_trade_no>
<result_code><![CDATA[SUCCESS]]></result_code>
<return_code><![CDATA[SUCCESS]]></return_code>
<sign><![CDATA[D9001E3EBAEAB07BF31F2683D008529B]]></sign>
<time_end><![CDATA[20240430190215]]></time_end>
<total_fee>800</total_fee>
<trade_type><![CDATA[JSAPI]]></trade_type>
<transaction_id><![CDATA[4200000000202404300000000001]]></transaction_id>
</xml>
"""

#: §6.9: the ALL bill of 2024-05-01 (shown there without its BOM)
BILL_ALL = """交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
`2024-05-01 09:15:02,`wx1234567890abcdef,`1900000109,`0,`,`4200000000202405010000000011,`T20240501091455,`o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c,`JSAPI,`SUCCESS,`CMB_CREDIT,`CNY,`10.00,`0.00,`0,`0,`0.00,`0.00,`,`,`测试商品A,`store=SZ01,`0.06000,`0.60%,`10.00,`0.00,`
`2024-05-01 12:30:45,`wx1234567890abcdef,`1900000109,`0,`POS-01,`4200000000202405010000000012,`T20240501123012,`oQm2Tn8Vc4Xz6Bk1Lp9Rs3Dw7Fh5,`NATIVE,`SUCCESS,`OTHERS,`CNY,`25.50,`0.00,`0,`0,`0.00,`0.00,`,`,`测试商品B,`,`0.15000,`0.60%,`25.50,`0.00,`
`2024-05-01 16:20:11,`wx1234567890abcdef,`1900000109,`0,`,`4200000000202404300000000001,`T20240430190001,`o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c,`JSAPI,`REFUND,`CMB_CREDIT,`CNY,`0.00,`0.00,`50300000012024050100000000001,`R20240501162011001,`3.00,`0.00,`ORIGINAL,`SUCCESS,`测试商品C,`store=SZ01,`-0.02000,`0.60%,`0.00,`3.00,`
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
`3,`35.50,`3.00,`0.00,`0.19000,`35.50,`3.00
"""
