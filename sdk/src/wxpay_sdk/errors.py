"""The SDK's error tree (spec §1.4: the platform's answer has two error layers).

::

    WxPayError
    ├── ReturnError      return_code=FAIL: the request was not processed (return_msg)
    ├── ResultError      result_code=FAIL: processed and refused (err_code, err_code_des)
    ├── SignatureError   an answer or notification whose sign does not verify
    ├── ProtocolError    an answer that is not a v2 document at all
    └── TransportError   no answer (connection refused, timeout); ``outcome_unknown`` says
                         whether the request may have reached the platform
"""

from __future__ import annotations

from collections.abc import Mapping


class WxPayError(Exception):
    """Base of every SDK error."""


class ReturnError(WxPayError):
    """``return_code=FAIL``: bad signature, bad field, rate limit, … (nothing happened)."""

    def __init__(self, return_msg: str, fields: Mapping[str, str]) -> None:
        super().__init__(return_msg or "return_code=FAIL")
        self.return_msg = return_msg
        self.fields = dict(fields)


class ResultError(WxPayError):
    """``result_code=FAIL`` with ``err_code``: the platform processed the call and refused it."""

    def __init__(self, err_code: str, err_code_des: str, fields: Mapping[str, str]) -> None:
        super().__init__(f"{err_code}: {err_code_des}")
        self.err_code = err_code
        self.err_code_des = err_code_des
        self.fields = dict(fields)


class SignatureError(WxPayError):
    """A signed document whose ``sign`` does not verify with our key."""


class ProtocolError(WxPayError):
    """An answer that is not a v2 XML document (or a bill that is neither text nor XML)."""


class TransportError(WxPayError):
    """No answer from any host. ``outcome_unknown``: the request may have been executed (a read
    timeout after sending), so query before assuming it failed."""

    def __init__(self, message: str, *, outcome_unknown: bool) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown
