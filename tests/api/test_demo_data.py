"""The first run's demo data can show every flow, and the banner says which payer shows what."""

from __future__ import annotations

from pathlib import Path

from wxpay_local.demo import banner, seed_if_empty
from wxpay_local.domain import ledger
from wxpay_local.settings import Settings
from wxpay_local.store import open_store

#: Micropay asks for the password above 1000 CNY (spec: 付款码支付 password rules).
PROMPT_THRESHOLD_FEN = 100_000


def test_a_demo_payer_can_reach_the_password_prompt_and_the_banner_says_who(
    tmp_path: Path,
) -> None:
    store = open_store(str(tmp_path / "demo.sqlite3"))
    try:
        settings = Settings(data_dir=tmp_path)
        seeded = seed_if_empty(store, settings)
        with store.begin(write=False) as tx:
            balances = {p.name: tx.balance(ledger.wallet(p.id)) for p in tx.payers(100)}
        assert balances["Alice"] > PROMPT_THRESHOLD_FEN
        assert balances["Carol"] < 1800  # the README's ¥18 latte: Carol shows NOTENOUGH
        text = banner(store, settings, seeded)
    finally:
        store.close()
    assert "curl -s http://127.0.0.1:8700/pay/unifiedorder -d " in text  # kept for install_check
    assert "  demo      Alice: " in text and "password prompt" in text
    assert "  demo      Carol: " in text and "NOTENOUGH" in text
    assert "http://127.0.0.1:8700/pages" in text
