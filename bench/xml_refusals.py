"""How fast the XML decoder refuses hostile bodies (the speed half of the wire XML tests).

The tests check that every hostile body is refused (and never expanded or fetched); how long a
refusal takes depends on the machine and its load, so it is measured here instead of asserted
in the test suite. Each body is decoded ``--repeat`` times; the best time is compared with its
budget and the run exits 1 if any is over.

    python bench/xml_refusals.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from wxpay_local.wire import xml

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<xml><mch_id>&lol9;</mch_id></xml>"
)
XXE = b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><body>&xxe;</body></xml>'
#: Bodies the fast path must give up on at once (the slow path then refuses them).
FAST_PATH = {
    "deep nesting": b"<xml>" + b"<a>" * 20000,
    "unclosed long text": b"<xml><a>" + b"x" * 65000,
    "many fields then junk": b"<xml>" + b"<a>1</a>" * 7000 + b"<b>",
    "long whitespace": b"<xml>" + b" " * 65000 + b"x</xml>",
    "fields and whitespace": b"<xml>" + b"<a>1</a>   " * 5000 + b"x</xml>",
}


def _refuse(body: bytes) -> Callable[[], None]:
    def run() -> None:
        try:
            xml.decode(body)
        except (xml.XmlError, xml.NotUtf8):
            return
        raise AssertionError(f"accepted: {body[:60]!r}")

    return run


def _fast_path(body: bytes) -> Callable[[], None]:
    def run() -> None:
        assert xml._decode_simple(body[: xml.MAX_BODY_BYTES].decode()) is None

    return run


def cases() -> list[tuple[str, Callable[[], None], float]]:
    found = [
        ("billion laughs refused", _refuse(BILLION_LAUGHS), 0.1),
        ("external entity refused", _refuse(XXE), 0.5),
    ]
    for name, body in FAST_PATH.items():
        found.append((f"{name} refused", _refuse(body), 0.5))
        found.append((f"{name}: fast path gives up", _fast_path(body), 0.1))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per body (best counts)")
    args = parser.parse_args()
    over = 0
    for name, run, budget in cases():
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
        verdict = "ok" if best < budget else "OVER"
        over += verdict == "OVER"
        print(f"{verdict:4} {best * 1000:8.2f} ms  (budget {budget * 1000:.0f} ms)  {name}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
