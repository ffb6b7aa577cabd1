"""secure.equal: one constant-time comparison for text and bytes."""

from __future__ import annotations

import pytest

from wxpay_local import secure

pytestmark = pytest.mark.unit


def test_equal_text_and_bytes_compare_by_their_utf8_bytes() -> None:
    assert secure.equal("123456", "123456")
    assert secure.equal("密码", "密码".encode())
    assert secure.equal(b"token", "token")


def test_unequal_values_of_any_length_or_script_are_unequal() -> None:
    assert not secure.equal("123456", "123457")
    assert not secure.equal("12345", "123456")
    assert not secure.equal("密码", "123456")
    assert not secure.equal("", "x")
    assert not secure.equal("\udcff", "x")  # a lone surrogate (from a bad decode) compares too
