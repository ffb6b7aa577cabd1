"""The WeChat Pay v2 vocabulary shared by every layer: states, types, error codes, two errors."""

from __future__ import annotations

from enum import StrEnum


class TradeType(StrEnum):
    JSAPI = "JSAPI"
    NATIVE = "NATIVE"
    APP = "APP"
    MWEB = "MWEB"
    MICROPAY = "MICROPAY"


class RefundStatus(StrEnum):
    """A refund's refund_status (spec refunds §3.2)."""

    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    CHANGE = "CHANGE"
    REFUNDCLOSE = "REFUNDCLOSE"


class NotificationStatus(StrEnum):
    """Where a notification of the outbox is: still to be delivered, delivered, given up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    EXHAUSTED = "exhausted"


class TradeState(StrEnum):
    SUCCESS = "SUCCESS"
    REFUND = "REFUND"
    NOTPAY = "NOTPAY"
    CLOSED = "CLOSED"
    REVOKED = "REVOKED"
    USERPAYING = "USERPAYING"
    PAYERROR = "PAYERROR"
    ACCEPT = "ACCEPT"

    @property
    def desc(self) -> str:
        """The trade_state_desc the platform shows for this state (spec §5.4)."""
        return _TRADE_STATE_DESC[self]


_TRADE_STATE_DESC = {
    TradeState.SUCCESS: "支付成功",
    TradeState.REFUND: "订单发生过退款",
    TradeState.NOTPAY: "订单未支付",
    TradeState.CLOSED: "订单已关闭",
    TradeState.REVOKED: "订单已撤销",
    TradeState.USERPAYING: "需要用户输入支付密码",
    TradeState.PAYERROR: "支付失败，请撤销订单",
    TradeState.ACCEPT: "已接收，等待扣款",
}


class SignType(StrEnum):
    MD5 = "MD5"
    HMAC_SHA256 = "HMAC-SHA256"


class AppKind(StrEnum):
    """What kind of WeChat application an appid belongs to."""

    OFFICIAL_ACCOUNT = "official_account"
    MINI_PROGRAM = "mini_program"
    APP = "app"


class ErrCode(StrEnum):
    """Business-layer err_code values; each carries the platform's default err_code_des."""

    SYSTEMERROR = "SYSTEMERROR"
    PARAM_ERROR = "PARAM_ERROR"
    ORDERPAID = "ORDERPAID"
    ORDERCLOSED = "ORDERCLOSED"
    ORDERNOTEXIST = "ORDERNOTEXIST"
    ORDERREVERSED = "ORDERREVERSED"
    OUT_TRADE_NO_USED = "OUT_TRADE_NO_USED"
    INVALID_REQUEST = "INVALID_REQUEST"
    NOAUTH = "NOAUTH"
    NOTENOUGH = "NOTENOUGH"
    APPID_NOT_EXIST = "APPID_NOT_EXIST"
    MCHID_NOT_EXIST = "MCHID_NOT_EXIST"
    APPID_MCHID_NOT_MATCH = "APPID_MCHID_NOT_MATCH"
    TRADE_STATE_ERROR = "TRADE_STATE_ERROR"
    FREQUENCY_LIMITED = "FREQUENCY_LIMITED"
    USERPAYING = "USERPAYING"
    BANKERROR = "BANKERROR"
    AUTHCODEEXPIRE = "AUTHCODEEXPIRE"
    AUTH_CODE_ERROR = "AUTH_CODE_ERROR"
    AUTH_CODE_INVALID = "AUTH_CODE_INVALID"
    BUYER_MISMATCH = "BUYER_MISMATCH"
    NOTSUPORTCARD = "NOTSUPORTCARD"
    TRADE_ERROR = "TRADE_ERROR"
    INVALID_TRANSACTIONID = "INVALID_TRANSACTIONID"
    REVERSE_EXPIRE = "REVERSE_EXPIRE"
    REFUND_FEE_MISMATCH = "REFUND_FEE_MISMATCH"
    TRADE_OVERDUE = "TRADE_OVERDUE"
    ERROR = "ERROR"
    REFUNDNOTEXIST = "REFUNDNOTEXIST"
    CERT_ERROR = "CERT_ERROR"
    BIZERR_NEED_RETRY = "BIZERR_NEED_RETRY"
    USER_ACCOUNT_ABNORMAL = "USER_ACCOUNT_ABNORMAL"
    INVALID_REQ_TOO_MUCH = "INVALID_REQ_TOO_MUCH"
    ORDER_NOT_READY = "ORDER_NOT_READY"

    @property
    def desc(self) -> str:
        return _ERR_DESC[self]


_ERR_DESC = {
    ErrCode.SYSTEMERROR: "系统错误",
    ErrCode.PARAM_ERROR: "参数错误",
    ErrCode.ORDERPAID: "该订单已支付",
    ErrCode.ORDERCLOSED: "该订单已关闭",
    ErrCode.ORDERNOTEXIST: "订单不存在",
    ErrCode.ORDERREVERSED: "订单已撤销",
    ErrCode.OUT_TRADE_NO_USED: "商户订单号重复",
    ErrCode.INVALID_REQUEST: "201 商户订单号重复",
    ErrCode.NOAUTH: "商户无此接口权限",
    ErrCode.NOTENOUGH: "余额不足",
    ErrCode.APPID_NOT_EXIST: "APPID不存在",
    ErrCode.MCHID_NOT_EXIST: "MCHID不存在",
    ErrCode.APPID_MCHID_NOT_MATCH: "appid和mch_id不匹配",
    ErrCode.TRADE_STATE_ERROR: "订单状态错误",
    ErrCode.FREQUENCY_LIMITED: "频率限制",
    ErrCode.USERPAYING: "需要用户输入支付密码",
    ErrCode.BANKERROR: "银行系统异常",
    ErrCode.AUTHCODEEXPIRE: "101 付款码已过期，请退出重试",
    ErrCode.AUTH_CODE_ERROR: "101 每个二维码仅限使用一次，请刷新再试",
    ErrCode.AUTH_CODE_INVALID: "101 付款码无效，请重新扫码",
    ErrCode.BUYER_MISMATCH: "支付帐号错误",
    ErrCode.NOTSUPORTCARD: "不支持卡类型",
    ErrCode.TRADE_ERROR: "交易错误",
    ErrCode.INVALID_TRANSACTIONID: "无效transaction_id",
    ErrCode.REVERSE_EXPIRE: "订单已超过撤销时间",
    ErrCode.REFUND_FEE_MISMATCH: "订单金额或退款金额与之前请求不一致，请核实后再试",
    ErrCode.TRADE_OVERDUE: "订单已经超过退款期限",
    ErrCode.ERROR: "业务错误",
    ErrCode.REFUNDNOTEXIST: "退款订单查询失败",
    ErrCode.CERT_ERROR: "证书校验错误",
    ErrCode.BIZERR_NEED_RETRY: "退款业务流程错误，需要商户触发重试来解决",
    ErrCode.USER_ACCOUNT_ABNORMAL: "用户账户异常或已注销，不能原路退回，请使用其他方式进行退款。",
    ErrCode.INVALID_REQ_TOO_MUCH: "无效请求过多",
    ErrCode.ORDER_NOT_READY: "订单处理中，暂时无法退款，请稍后再试",
}


class Fault(Exception):
    """The exchange failed: answered return_code=FAIL with return_msg, unsigned."""

    def __init__(
        self, return_msg: str, *, detail: str | None = None, error_code: str | None = None
    ) -> None:
        super().__init__(return_msg)
        self.return_msg = return_msg
        #: An English explanation for the request journal (never sent on the wire).
        self.detail = detail
        #: The bill downloads' numeric ``error_code`` (e.g. 20002 for No Bill Exist).
        self.error_code = error_code


class Rejected(Exception):
    """A business refusal: return_code=SUCCESS, result_code=FAIL, err_code, err_code_des, signed."""

    def __init__(self, err_code: ErrCode, err_code_des: str | None = None, **fields: str) -> None:
        super().__init__(f"{err_code}: {err_code_des or err_code.desc}")
        self.err_code = err_code
        self.err_code_des = err_code_des or err_code.desc
        #: Business fields the refusal still carries (e.g. reverse's ``recall``).
        self.fields = fields


class ReturnMsg:
    """The platform's observed return_msg texts for protocol-level failures (spec §1.4)."""

    SIGN_ERROR = "签名错误"
    SIGN_TYPE_ERROR = "签名类型错误"
    LACK_PARAMS = "缺少参数"
    XML_FORMAT_ERROR = "XML格式错误"
    POST_DATA_EMPTY = "post数据为空"
    NOT_UTF8 = "编码格式错误"
    REQUIRE_POST_METHOD = "请使用post方法"
    MCHID_NOT_EXIST = "mch_id不存在"
    BODY_TOO_LARGE = "请求数据过长"
    JSAPI_OPENID = "JSAPI支付必须传openid"
    NATIVE_PRODUCT_ID = "trade_type=NATIVE时，product_id为必填参数"
    MWEB_SCENE_INFO = "trade_type=MWEB时，scene_info为必填参数"
    RATE_LIMITED = "频率限制"
    CERT_ERROR = "证书错误"

    @staticmethod
    def bad_format(field: str) -> str:
        return f"{field}参数格式错误"

    @staticmethod
    def bad_length(field: str) -> str:
        return f"{field}参数长度有误"
