"""Identifier formats (protocol spec §2.3) and the reproducibility of a seeded ``Ids``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from wxpay_local.domain.ids import Ids
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.unit

AT = datetime(2024, 5, 1, 9, 30, 15, tzinfo=SHANGHAI)


def test_transaction_id_is_28_digits_with_the_date() -> None:
    ids = Ids(seed=1)
    for _ in range(50):
        tid = ids.transaction_id(AT)
        assert re.fullmatch(r"\d{28}", tid), tid
        assert "20240501" in tid
        assert tid[10:18] == "20240501"


def test_transaction_id_date_is_the_beijing_date() -> None:
    # 20:00 UTC on 30 April is 04:00 on 1 May in Beijing.
    utc_evening = datetime(2024, 4, 30, 20, 0, tzinfo=UTC)
    tid = Ids(seed=1).transaction_id(utc_evening)
    assert tid[10:18] == "20240501"


def test_prepay_id_is_wx_time_and_20_hex() -> None:
    ids = Ids(seed=1)
    for _ in range(50):
        prepay_id = ids.prepay_id(AT)
        assert len(prepay_id) == 36
        assert re.fullmatch(r"wx\d{14}[0-9a-f]{20}", prepay_id), prepay_id
        assert prepay_id[2:16] == "20240501093015"


def test_prepay_id_time_is_beijing_time() -> None:
    prepay_id = Ids(seed=1).prepay_id(datetime(2024, 4, 30, 20, 0, tzinfo=UTC))
    assert prepay_id[2:16] == "20240501040000"


def test_openid_is_28_url_safe_characters() -> None:
    ids = Ids(seed=1)
    for _ in range(200):
        openid = ids.openid()
        assert len(openid) == 28
        assert re.fullmatch(r"[A-Za-z0-9_-]{28}", openid), openid
        assert openid.startswith("o")


def test_api_key_is_32_alphanumerics() -> None:
    ids = Ids(seed=1)
    for _ in range(20):
        assert re.fullmatch(r"[A-Za-z0-9]{32}", ids.api_key())


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        pytest.param(lambda i: i.nonce(), r"[A-Za-z0-9]{16}", id="nonce"),
        pytest.param(lambda i: i.nonce(32), r"[A-Za-z0-9]{32}", id="nonce-32"),
        pytest.param(lambda i: i.qr_code(), r"[A-Za-z0-9]{7}", id="qr_code"),
        pytest.param(lambda i: i.app_secret(), r"[0-9a-f]{32}", id="app_secret"),
        pytest.param(lambda i: i.appid(), r"wx[0-9a-f]{16}", id="appid"),
        pytest.param(lambda i: i.mch_id(), r"19\d{8}", id="mch_id"),
        pytest.param(lambda i: i.password(), r"\d{6}", id="password"),
    ],
)
def test_other_formats(make, pattern: str) -> None:  # type: ignore[no-untyped-def]
    ids = Ids(seed=1)
    for _ in range(20):
        assert re.fullmatch(pattern, make(ids))


def _sample(ids: Ids) -> list[str]:
    return [
        ids.transaction_id(AT),
        ids.prepay_id(AT),
        ids.openid(),
        ids.api_key(),
        ids.nonce(),
        ids.qr_code(),
        ids.appid(),
        ids.mch_id(),
        ids.app_secret(),
        ids.password(),
    ]


def test_seeded_ids_are_reproducible() -> None:
    assert _sample(Ids(seed=1)) == _sample(Ids(seed=1))
    assert _sample(Ids(seed=2)) == _sample(Ids(seed=2))


def test_different_seeds_differ() -> None:
    assert _sample(Ids(seed=1)) != _sample(Ids(seed=2))


def test_reseeding_restarts_the_sequence() -> None:
    ids = Ids(seed=7)
    first = _sample(ids)
    assert _sample(ids) != first  # the sequence moves on
    ids.seed(7)
    assert _sample(ids) == first


def test_unseeded_ids_are_random() -> None:
    assert Ids().api_key() != Ids().api_key()
