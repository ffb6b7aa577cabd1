"""One comparison for every password, token, signature and secret: constant time, on bytes.

``hmac.compare_digest`` on ``str`` raises ``TypeError`` for non-ASCII text (a payer typing a
Chinese character as the password was a 500), and plain ``==`` leaks how long a prefix matched.
Text is UTF-8 encoded first, so any input compares, and unequal lengths are just unequal.
"""

from __future__ import annotations

import hmac


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value


def equal(given: str | bytes, expected: str | bytes) -> bool:
    """Whether ``given`` equals ``expected``, in time that does not depend on where they differ."""
    return hmac.compare_digest(_bytes(given), _bytes(expected))
