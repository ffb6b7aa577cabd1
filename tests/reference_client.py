"""The merchant client the API tests use: the project's SDK client and harness, but every
request signed and encoded, and every answer decoded and verified, by ``reference_wire`` (the
spec's signer, sharing no code with ``wxpay_local.wire``). A signer bug in ``wire/`` that the
SDK shares therefore cannot make the protocol tests pass."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from reference_wire import MD5, from_xml, to_xml, v2_sign, verify
from wxpay_local.codes import SignType
from wxpay_local.sdk import BadSignature, Client, FaultError, RejectedError
from wxpay_local.testing import Harness, MerchantInfo

#: The answers the spec leaves unsigned (§4.8 report, the sandbox's getsignkey).
UNSIGNED_PATHS = ("/pay/getsignkey", "/payitil/report")


class ReferenceClient(Client):
    def body(self, fields: Mapping[str, Any]) -> bytes:
        data: dict[str, object] = {"mch_id": self.mch_id, "nonce_str": secrets.token_hex(16)}
        if self.appid:
            data["appid"] = self.appid
        if str(self.sign_type) != MD5:
            data["sign_type"] = str(self.sign_type)
        data.update({k: str(v) for k, v in fields.items()})  # as the SDK sends them
        data["sign"] = v2_sign(data, self.api_key, str(self.sign_type))
        return to_xml(data)

    def call(self, path: str, **fields: Any) -> dict[str, str]:
        response = self.http.post(self.base_url + path, content=self.body(fields))
        answer = from_xml(response.content)
        if answer.get("return_code") != "SUCCESS":
            raise FaultError(answer.get("return_msg", ""), answer)
        if not path.endswith(UNSIGNED_PATHS) and not verify(
            answer, self.api_key, str(self.sign_type)
        ):
            raise BadSignature(f"answer to {path} does not verify")
        if answer.get("result_code") == "FAIL":
            raise RejectedError(answer.get("err_code", ""), answer.get("err_code_des", ""), answer)
        return answer


class OracleHarness(Harness):
    """The harness whose merchant clients sign with the reference signer."""

    def client(
        self,
        merchant: MerchantInfo,
        kind: str = "official_account",
        sign_type: SignType = SignType.MD5,
    ) -> Client:
        return ReferenceClient(
            self.base_url,
            mch_id=merchant.mch_id,
            api_key=merchant.api_key,
            appid=merchant.apps[kind],
            sign_type=sign_type,
            http=self.http,
        )
