"""付款码查询openid authcodetoopenid: the payer behind a payment code, without charging it.

Spec §4.8: the answer is the payer's openid under the request's appid; the code is not consumed,
but once resolved it can be charged only by the merchant that resolved it.
"""

from __future__ import annotations

import pytest

from wxpay_local.codes import SignType
from wxpay_local.sdk import Client, FaultError, RejectedError
from wxpay_local.testing import Harness

pytestmark = pytest.mark.api

PATH = "/tools/authcodetoopenid"


def new_code(h: Harness, payer_id: int) -> str:
    return str(h.control("POST", f"/_local/payers/{payer_id}/codes")["auth_code"])


def resolve_refused(client: Client, auth_code: str) -> RejectedError:
    with pytest.raises(RejectedError) as caught:
        client.call(PATH, auth_code=auth_code)
    return caught.value


def charge(client: Client, auth_code: str, out_trade_no: str) -> dict[str, str]:
    return client.call(
        "/pay/micropay",
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        auth_code=auth_code,
    )


@pytest.mark.parametrize("sign_type", [SignType.MD5, SignType.HMAC_SHA256])
def test_the_openid_under_the_requests_appid(platform: Harness, sign_type: SignType) -> None:
    merchant = platform.merchant()
    payer = platform.payer()["payer_id"]
    code = new_code(platform, payer)
    seen = {}
    for kind in ("official_account", "mini_program"):
        client = platform.client(merchant, kind, sign_type)
        answer = client.call(PATH, auth_code=code)  # the SDK verified the signature
        assert answer["result_code"] == "SUCCESS"
        assert answer["appid"] == client.appid and answer["mch_id"] == merchant.mch_id
        assert answer["openid"] == platform.openid(payer, client.appid)
        seen[kind] = answer["openid"]
    assert seen["official_account"] != seen["mini_program"]  # an openid is per app


def test_the_code_is_not_consumed_and_stays_with_the_merchant(platform: Harness) -> None:
    merchant = platform.merchant()
    other = platform.merchant(name="Other shop")
    client, other_client = platform.client(merchant), platform.client(other)
    payer = platform.payer(balance=10_000)["payer_id"]
    code = new_code(platform, payer)

    openid = client.call(PATH, auth_code=code)["openid"]
    assert client.call(PATH, auth_code=code)["openid"] == openid  # asking again is fine

    # reserved for the merchant that asked: another merchant can neither resolve nor charge it
    assert resolve_refused(other_client, code).err_code == "AUTH_CODE_ERROR"
    with pytest.raises(RejectedError) as caught:
        charge(other_client, code, "OTHER001")
    assert caught.value.err_code == "AUTH_CODE_ERROR"
    with pytest.raises(RejectedError) as gone:
        other_client.orderquery(out_trade_no="OTHER001")
    assert gone.value.err_code == "ORDERNOTEXIST"

    paid = charge(client, code, "MINE001")
    assert paid["result_code"] == "SUCCESS" and paid["openid"] == openid
    ledger = platform.ledger()["accounts"]
    assert ledger[f"payer:{payer}:wallet"] == 10_000 - 1800

    # now it is used
    assert resolve_refused(client, code).err_code == "AUTH_CODE_ERROR"


def test_another_merchant_that_resolves_first_keeps_it(platform: Harness) -> None:
    first, second = platform.merchant(), platform.merchant(name="Second shop")
    payer = platform.payer()["payer_id"]
    code = new_code(platform, payer)
    platform.client(second).call(PATH, auth_code=code)
    with pytest.raises(RejectedError) as caught:
        charge(platform.client(first), code, "FIRST001")
    assert caught.value.err_code == "AUTH_CODE_ERROR"
    assert charge(platform.client(second), code, "SECOND001")["result_code"] == "SUCCESS"


def test_expired_unknown_and_invalid_codes(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    code = new_code(platform, payer)
    platform.advance(61)

    expired = resolve_refused(client, code)
    assert expired.err_code == "AUTHCODEEXPIRE"
    assert expired.fields["appid"] == client.appid  # a signed business refusal
    assert "openid" not in expired.fields

    unknown = ("14" if code.startswith("13") else "13") + code[2:]
    assert resolve_refused(client, unknown).err_code == "AUTH_CODE_ERROR"
    for bad in ("12345", "160000000000000001", "280000000000000001", "13abcdefghijklmnop"):
        assert resolve_refused(client, bad).err_code == "AUTH_CODE_INVALID", bad


def test_a_missing_auth_code_fails_at_the_protocol_layer(platform: Harness) -> None:
    client = platform.client(platform.merchant())
    with pytest.raises(FaultError) as caught:
        client.call(PATH)
    assert caught.value.return_msg == "缺少参数"
    assert "sign" not in caught.value.fields
