"""What a merchant configures on the merchant platform (商户平台) besides its key.

The real platform checks payer-side requests against these: the Native mode 1 scan callback,
the H5 domains an ``mweb_url`` may be opened from, the JSAPI payment directories (支付授权目录)
and the web-authorization domains OAuth2 ``redirect_uri`` must be on. An empty list means
"not configured": the emulator then skips that check (and says so in docs/behaviour.md), so
a merchant who never opens the console is not refused. The H5 switches are the exception: they
default to on, as the real middle page always checks.

Stored as one JSON document per merchant in the platform settings table (a reset clears it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

from wxpay_local.codes import ErrCode, Rejected
from wxpay_local.domain.ports import Merchants

SETTING_PREFIX = "merchant_config."
#: How payment notifications are signed (docs/behaviour.md "Notification signature"):
#: ``MD5`` always MD5 and no sign_type element, whatever the order used (the default: every
#: client we checked verifies it); ``ORDER`` the order's sign type, with
#: ``<sign_type>HMAC-SHA256</sign_type>`` on HMAC orders; ``ORDER_NO_SIGN_TYPE`` the order's
#: sign type and no sign_type element (what captures of the real platform show).
NOTIFY_SIGN_TYPES = ("MD5", "ORDER", "ORDER_NO_SIGN_TYPE")
MAX_ENTRIES = 20
MAX_TEXT = 256


@dataclass(frozen=True, slots=True)
class MerchantConfig:
    #: 扫码回调链接: where a Native mode 1 scan is POSTed for a prepay_id.
    native_callback_url: str = ""
    #: H5 支付域名: hosts (``shop.example.com``) an mweb_url's Referer must be on.
    h5_domains: tuple[str, ...] = ()
    #: JSAPI 支付授权目录: URL prefixes (``https://shop.example.com/pay/``) a page pays under.
    jsapi_directories: tuple[str, ...] = ()
    #: 网页授权域名: hosts an OAuth2 redirect_uri must be on.
    oauth_domains: tuple[str, ...] = ()
    #: H5: the browser's address must equal the order's spbill_create_ip (on by default, as on
    #: the real platform; switch it off to pay an H5 order from a browser behind a proxy).
    h5_ip_check: bool = True
    #: H5: refuse an mweb_url opened inside WeChat (User-Agent with ``MicroMessenger``).
    h5_wechat_check: bool = True
    #: H5: one WeChat account per mweb_url; a second payer on the same link is refused.
    h5_one_account_check: bool = True
    #: How payment notifications are signed: one of ``NOTIFY_SIGN_TYPES``.
    notify_sign_type: str = "MD5"

    def as_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


FIELD_NAMES = tuple(f.name for f in fields(MerchantConfig))
BOOL_FIELDS = ("h5_ip_check", "h5_wechat_check", "h5_one_account_check")


def load(tx: Merchants, mch_id: str) -> MerchantConfig:
    saved = tx.get_setting(SETTING_PREFIX + mch_id)
    if not saved:
        return MerchantConfig()
    data = json.loads(saved)
    return MerchantConfig(
        native_callback_url=str(data.get("native_callback_url", "")),
        h5_domains=tuple(data.get("h5_domains", ())),
        jsapi_directories=tuple(data.get("jsapi_directories", ())),
        oauth_domains=tuple(data.get("oauth_domains", ())),
        h5_ip_check=bool(data.get("h5_ip_check", True)),
        h5_wechat_check=bool(data.get("h5_wechat_check", True)),
        h5_one_account_check=bool(data.get("h5_one_account_check", True)),
        notify_sign_type=str(data.get("notify_sign_type", "MD5")),
    )


def update(tx: Merchants, mch_id: str, changes: dict[str, Any]) -> MerchantConfig:
    """Apply the named changes (validated) and save; unknown names are refused."""
    config = load(tx, mch_id)
    checked = {name: _checked(name, value) for name, value in changes.items()}
    config = replace(config, **checked)
    tx.put_setting(SETTING_PREFIX + mch_id, json.dumps(config.as_json()))
    return config


def problems(changes: dict[str, Any]) -> dict[str, str]:
    """Every refused change at once, by field name (a form shows each beside its field)."""
    found: dict[str, str] = {}
    for name, value in changes.items():
        try:
            _checked(name, value)
        except Rejected as exc:
            found[name] = exc.err_code_des
    return found


def _checked(name: str, value: Any) -> Any:
    if name not in FIELD_NAMES:
        raise Rejected(ErrCode.PARAM_ERROR, f"unknown setting {name}")
    if name == "native_callback_url":
        return _url(name, value, allow_empty=True)
    if name in BOOL_FIELDS:
        if not isinstance(value, bool):
            raise Rejected(ErrCode.PARAM_ERROR, f"{name} must be true or false")
        return value
    if name == "notify_sign_type":
        if value not in NOTIFY_SIGN_TYPES:
            raise Rejected(ErrCode.PARAM_ERROR, f"{name} is one of {', '.join(NOTIFY_SIGN_TYPES)}")
        return value
    if name == "jsapi_directories":
        return tuple(_url(name, v) for v in _entries(name, value))
    return tuple(_host(name, v) for v in _entries(name, value))


def host_allowed(allowed: tuple[str, ...], host: str) -> bool:
    """A host is allowed when no list is configured, or it is a listed host or under one."""
    if not allowed:
        return True
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in allowed)


def directory_allowed(allowed: tuple[str, ...], page_url: str) -> bool:
    """A page is allowed when no directory is configured, or its URL starts with one."""
    if not allowed:
        return True
    page = page_url.split("#", 1)[0].split("?", 1)[0]
    return any(page.startswith(d) for d in allowed)


def _entries(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.replace(",", "\n").splitlines()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Rejected(ErrCode.PARAM_ERROR, f"{name} must be a list of text")
    entries = [v.strip() for v in value if v.strip()]
    if len(entries) > MAX_ENTRIES:
        raise Rejected(ErrCode.PARAM_ERROR, f"{name} takes at most {MAX_ENTRIES} entries")
    return entries


def _url(name: str, value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Rejected(
            ErrCode.PARAM_ERROR, f"{name} must be a URL of at most {MAX_TEXT} characters"
        )
    url = str(value).strip()
    if not url and allow_empty:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Rejected(ErrCode.PARAM_ERROR, f"{name}: {url!r} is not an http(s) URL")
    return url


def _host(name: str, value: str) -> str:
    host = value.strip().lower().rstrip(".")
    if "://" in host:
        host = urlsplit(host).hostname or ""
    ok = host and len(host) <= MAX_TEXT and all(c.isalnum() or c in ".-:" for c in host)
    if not ok:
        raise Rejected(ErrCode.PARAM_ERROR, f"{name}: {value!r} is not a host name")
    return host
