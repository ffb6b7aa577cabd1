"""The SDK client: one ``call`` that signs, posts, decodes and verifies."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import httpx

from wxpay_local.codes import SignType
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode, encode

UNSIGNED_PATHS = ("/pay/getsignkey", "/payitil/report")


class WxPayError(Exception):
    """Base of every SDK error."""


class FaultError(WxPayError):
    def __init__(self, return_msg: str, fields: Mapping[str, str]) -> None:
        super().__init__(return_msg)
        self.return_msg, self.fields = return_msg, dict(fields)


class RejectedError(WxPayError):
    def __init__(self, err_code: str, err_code_des: str, fields: Mapping[str, str]) -> None:
        super().__init__(f"{err_code}: {err_code_des}")
        self.err_code, self.err_code_des, self.fields = err_code, err_code_des, dict(fields)


class BadSignature(WxPayError):
    """The platform's answer is not signed with our key."""


class Client:
    def __init__(
        self,
        base_url: str,
        *,
        mch_id: str,
        api_key: str,
        appid: str = "",
        sign_type: SignType = SignType.MD5,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.mch_id, self.api_key, self.appid = mch_id, api_key, appid
        self.sign_type = sign_type
        self.http = http or httpx.Client(timeout=10, trust_env=False)

    def body(self, fields: Mapping[str, Any]) -> bytes:
        """The signed XML body for fields (common fields added when absent)."""
        data: dict[str, str | int] = {"mch_id": self.mch_id, "nonce_str": secrets.token_hex(16)}
        if self.appid:
            data["appid"] = self.appid
        if self.sign_type is not SignType.MD5:
            data["sign_type"] = str(self.sign_type)
        data.update({k: v if isinstance(v, int) else str(v) for k, v in fields.items()})
        data["sign"] = signing.sign(data, self.api_key, self.sign_type)
        return encode(data)

    def call(self, path: str, **fields: Any) -> dict[str, str]:
        """POST a signed request; the answer's fields, or an error from the tree above."""
        response = self.http.post(self.base_url + path, content=self.body(fields))
        answer = decode(response.content)
        if answer.get("return_code") != "SUCCESS":
            raise FaultError(answer.get("return_msg", ""), answer)
        if not path.endswith(UNSIGNED_PATHS) and not signing.verify(
            answer, self.api_key, self.sign_type
        ):
            raise BadSignature(f"answer to {path} does not verify")
        if answer.get("result_code") == "FAIL":
            raise RejectedError(answer.get("err_code", ""), answer.get("err_code_des", ""), answer)
        return answer

    def unifiedorder(self, **fields: Any) -> dict[str, str]:
        return self.call("/pay/unifiedorder", **fields)

    def orderquery(self, **fields: Any) -> dict[str, str]:
        return self.call("/pay/orderquery", **fields)

    def closeorder(self, **fields: Any) -> dict[str, str]:
        return self.call("/pay/closeorder", **fields)

    def close(self) -> None:
        self.http.close()
