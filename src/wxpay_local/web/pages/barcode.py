"""Code 128 barcodes as inline SVG, for the wallet's payment code (付款码 shows a 1-D code too).

Only what an 18-digit payment code needs: code set C (two digits per symbol), start C, the
modulo-103 check symbol, stop. Each symbol is six alternating bar/space widths (in modules)
summing to 11; the stop symbol has a seventh, final bar. Pure: no I/O.
"""

from __future__ import annotations

from html import escape

#: The widths of symbols 0..106 (bar, space, bar, space, bar, space[, bar]).
WIDTHS = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 "
    "221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 "
    "221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 "
    "231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 "
    "231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 "
    "111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 "
    "114131 311141 411131 211412 211214 211232 2331112"
).split()
START_C, STOP = 105, 106
QUIET_ZONE = 10  # modules of white on each side, as the symbology requires


def code_c_values(digits: str) -> list[int]:
    """Start C, the digit pairs, the check symbol, stop: the symbol values of ``digits``."""
    if not digits or len(digits) % 2 or not (digits.isascii() and digits.isdigit()):
        raise ValueError("code set C encodes an even number of ASCII digits")
    data = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    check = (START_C + sum(weight * value for weight, value in enumerate(data, 1))) % 103
    return [START_C, *data, check, STOP]


def modules(values: list[int]) -> str:
    """The symbols as a string of modules, ``1`` for bar and ``0`` for space."""
    out: list[str] = []
    for value in values:
        for index, width in enumerate(WIDTHS[value]):
            out.append(("1" if index % 2 == 0 else "0") * int(width))
    return "".join(out)


def svg(digits: str, *, module: int = 2, height: int = 72, css_class: str = "barcode") -> str:
    """An inline SVG of ``digits`` in Code 128 set C, bars merged into runs, with quiet zones."""
    pattern = modules(code_c_values(digits))
    width = (len(pattern) + 2 * QUIET_ZONE) * module
    bars: list[str] = []
    run = 0
    for index, bit in enumerate(pattern + "0"):
        if bit == "1":
            run += 1
            continue
        if run:
            start = (QUIET_ZONE + index - run) * module
            bars.append(f'<rect x="{start}" y="0" width="{run * module}" height="{height}"/>')
        run = 0
    title = escape(digits)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{title}"'
        ' shape-rendering="crispEdges">'
        f'<title>{title}</title><rect width="{width}" height="{height}" fill="#fff"/>'
        f'<g fill="#000">{"".join(bars)}</g></svg>'
    )
