"""Settings: when the platform counts as exposed, and the URLs a wildcard bind advertises."""

from __future__ import annotations

import pytest

from wxpay_local.settings import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_binds_are_not_exposed(host: str) -> None:
    assert not Settings(host=host).exposed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "wxpay.internal"])
def test_other_binds_are_exposed(host: str) -> None:
    assert Settings(host=host).exposed


def test_a_public_url_exposes_a_loopback_bind() -> None:
    assert Settings(public_url="https://wxpay.team.example").exposed


def test_a_wildcard_bind_advertises_loopback_urls() -> None:
    settings = Settings(host="0.0.0.0", port=9100, tls_port=9101)
    assert settings.local_url == "http://127.0.0.1:9100"
    assert settings.base_url == "http://127.0.0.1:9100"
    assert settings.tls_base_url == "https://127.0.0.1:9101"
    assert Settings(host="::", port=9100).local_url == "http://[::1]:9100"
    assert Settings(host="::1", port=9100).local_url == "http://[::1]:9100"
    published = Settings(host="0.0.0.0", public_url="https://wxpay.team.example")
    assert published.base_url == "https://wxpay.team.example"


def test_allowed_hosts_and_the_token_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WXPAY_ALLOWED_HOSTS", "wxpay.internal, pay.lan ,")
    monkeypatch.setenv("WXPAY_ADMIN_TOKEN", "T-env")
    monkeypatch.setenv("WXPAY_PUBLIC_URL", "https://wxpay.team.example")
    settings = Settings.from_env()
    assert settings.allowed_hosts == ("wxpay.internal", "pay.lan")
    assert settings.admin_token == "T-env" and settings.exposed
