"""Every platform message in ``codes.py``, as the spec (or docs/behaviour.md, where the text is
ours) writes it: a typo in any of them fails here, even in a text no scenario reaches.

The literals below are copied from ``../shared/spec/`` (return_msg, err_code_des, trade_state_desc
tables) and from the table "err_code_des texts that are ours" in docs/behaviour.md; they are
never read from the code under test.
"""

from __future__ import annotations

import pytest

from wxpay_local import codes

pytestmark = pytest.mark.unit

RETURN_MSG = {
    "SIGN_ERROR": "签名错误",
    "SIGN_TYPE_ERROR": "签名类型错误",
    "LACK_PARAMS": "缺少参数",
    "XML_FORMAT_ERROR": "XML格式错误",
    "POST_DATA_EMPTY": "post数据为空",
    "NOT_UTF8": "编码格式错误",
    "REQUIRE_POST_METHOD": "请使用post方法",
    "MCHID_NOT_EXIST": "mch_id不存在",
    "BODY_TOO_LARGE": "请求数据过长",
    "JSAPI_OPENID": "JSAPI支付必须传openid",
    "NATIVE_PRODUCT_ID": "trade_type=NATIVE时，product_id为必填参数",
    "MWEB_SCENE_INFO": "trade_type=MWEB时，scene_info为必填参数",
    "RATE_LIMITED": "频率限制",
    "CERT_ERROR": "证书错误",
}

ERR_CODE_DES = {
    "SYSTEMERROR": "系统错误",
    "PARAM_ERROR": "参数错误",
    "ORDERPAID": "该订单已支付",
    "ORDERCLOSED": "该订单已关闭",
    "ORDERNOTEXIST": "订单不存在",
    "ORDERREVERSED": "订单已撤销",
    "OUT_TRADE_NO_USED": "商户订单号重复",
    "INVALID_REQUEST": "201 商户订单号重复",
    "NOAUTH": "商户无此接口权限",
    "NOTENOUGH": "余额不足",
    "APPID_NOT_EXIST": "APPID不存在",
    "MCHID_NOT_EXIST": "MCHID不存在",
    "APPID_MCHID_NOT_MATCH": "appid和mch_id不匹配",
    "TRADE_STATE_ERROR": "订单状态错误",
    "FREQUENCY_LIMITED": "频率限制",
    "USERPAYING": "需要用户输入支付密码",
    "BANKERROR": "银行系统异常",
    "AUTHCODEEXPIRE": "101 付款码已过期，请退出重试",
    "AUTH_CODE_ERROR": "101 每个二维码仅限使用一次，请刷新再试",
    "AUTH_CODE_INVALID": "101 付款码无效，请重新扫码",
    "BUYER_MISMATCH": "支付帐号错误",
    "NOTSUPORTCARD": "不支持卡类型",
    "TRADE_ERROR": "交易错误",
    "INVALID_TRANSACTIONID": "无效transaction_id",
    "REVERSE_EXPIRE": "订单已超过撤销时间",
    "REFUND_FEE_MISMATCH": "订单金额或退款金额与之前请求不一致，请核实后再试",
    "TRADE_OVERDUE": "订单已经超过退款期限",
    "ERROR": "业务错误",
    "REFUNDNOTEXIST": "退款订单查询失败",
    "CERT_ERROR": "证书校验错误",
    "BIZERR_NEED_RETRY": "退款业务流程错误，需要商户触发重试来解决",
    "USER_ACCOUNT_ABNORMAL": "用户账户异常或已注销，不能原路退回，请使用其他方式进行退款。",
    "INVALID_REQ_TOO_MUCH": "无效请求过多",
    "ORDER_NOT_READY": "订单处理中，暂时无法退款，请稍后再试",
}

TRADE_STATE_DESC = {
    "SUCCESS": "支付成功",
    "REFUND": "订单发生过退款",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
    "REVOKED": "订单已撤销",
    "USERPAYING": "需要用户输入支付密码",
    "PAYERROR": "支付失败，请撤销订单",
    "ACCEPT": "已接收，等待扣款",
}


def test_every_return_msg_is_the_documented_text() -> None:
    sent = {k: v for k, v in vars(codes.ReturnMsg).items() if k.isupper() and isinstance(v, str)}
    assert sent == RETURN_MSG


def test_every_default_err_code_des_is_the_documented_text() -> None:
    assert {code.name: code.desc for code in codes.ErrCode} == ERR_CODE_DES


def test_every_trade_state_desc_is_the_documented_text() -> None:
    assert {state.name: state.desc for state in codes.TradeState} == TRADE_STATE_DESC
