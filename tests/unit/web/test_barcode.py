"""The Code 128 encoder of the payment code: the symbol table, set C, the check symbol, the SVG."""

from __future__ import annotations

import re

import pytest

from wxpay_local.web.pages import barcode

pytestmark = pytest.mark.unit

#: Module patterns as the symbology's published table prints them (independent of WIDTHS).
KNOWN = {
    0: "11011001100",
    1: "11001101100",
    12: "10110011100",
    34: "10001011000",
    99: "10111011110",  # Code C / FNC4
    100: "10111101110",
    101: "11101011110",
    102: "11110101110",  # FNC1
    103: "11010000100",  # start A
    104: "11010010000",  # start B
    105: "11010011100",  # start C
    106: "1100011101011",  # stop
}


def test_the_table_has_107_distinct_well_formed_symbols() -> None:
    assert len(barcode.WIDTHS) == 107
    assert len(set(barcode.WIDTHS)) == 107
    for value, widths in enumerate(barcode.WIDTHS[:106]):
        assert len(widths) == 6 and sum(map(int, widths)) == 11, value
        # Bars take an even number of modules, spaces an odd one: a parity check readers use.
        assert sum(int(w) for w in widths[0::2]) % 2 == 0, value
    assert sum(map(int, barcode.WIDTHS[106])) == 13


@pytest.mark.parametrize(("value", "pattern"), sorted(KNOWN.items()))
def test_symbols_match_the_published_patterns(value: int, pattern: str) -> None:
    assert barcode.modules([value]) == pattern


def test_code_c_values_and_check_symbol() -> None:
    # 105 + 1×12 + 2×34 + 3×56 = 353; 353 mod 103 = 44
    assert barcode.code_c_values("123456") == [105, 12, 34, 56, 44, 106]
    # A payment code: 9 pairs, check = (105 + Σ i×pair) mod 103.
    values = barcode.code_c_values("134567890123456789")
    assert values[1:10] == [13, 45, 67, 89, 1, 23, 45, 67, 89]
    assert values[10] == (105 + sum(i * v for i, v in enumerate(values[1:10], 1))) % 103 == 88


@pytest.mark.parametrize("digits", ["", "1", "123", "12a4", "１２", "12 4"])
def test_code_c_refuses_what_it_cannot_encode(digits: str) -> None:
    with pytest.raises(ValueError):
        barcode.code_c_values(digits)


def _decode(svg: str, module: int) -> list[int]:
    """Read the SVG back: bar runs → modules → symbols, as a scanner would."""
    width = int(re.search(r'viewBox="0 0 (\d+) ', svg)[1])  # type: ignore[index]
    bits = ["0"] * (width // module)
    for x, w in re.findall(r'<rect x="(\d+)" y="0" width="(\d+)"', svg):
        for i in range(int(x) // module, (int(x) + int(w)) // module):
            bits[i] = "1"
    line = "".join(bits)
    assert line.startswith("0" * barcode.QUIET_ZONE + "1")
    assert line.endswith("1" + "0" * barcode.QUIET_ZONE)
    body = line.strip("0")
    table = {barcode.modules([v]): v for v in range(106)}
    symbols = [table[body[i : i + 11]] for i in range(0, len(body) - 13, 11)]
    assert body[-13:] == KNOWN[106]
    return symbols


def test_svg_reads_back_as_the_digits() -> None:
    digits = "134567890123456789"
    svg = barcode.svg(digits, module=3)
    assert svg.startswith("<svg") and f"<title>{digits}</title>" in svg
    symbols = _decode(svg, 3)
    assert symbols[0] == 105
    pairs, check = symbols[1:-1], symbols[-1]
    assert "".join(f"{p:02d}" for p in pairs) == digits
    assert check == (105 + sum(i * p for i, p in enumerate(pairs, 1))) % 103
    # 11 modules per symbol, 13 for stop, 10 quiet modules each side.
    assert f'viewBox="0 0 {(11 * 11 + 13 + 20) * 3} 72"' in svg
