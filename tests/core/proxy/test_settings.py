"""ProxySettings: defaults -> environment -> command line, and one clear error per bad value."""

from __future__ import annotations

import pytest
from headroom.config import HeadroomConfig, HeadroomMode
from headroom.errors import ConfigurationError
from headroom.proxy.settings import ProxySettings, parse_upstream


def test_defaults_match_the_reference() -> None:
    s = ProxySettings.load()
    assert (s.host, s.port, s.mode, s.workers, s.stateless) == ("127.0.0.1", 8787, "token", 1, False)
    assert (s.request_timeout, s.tls_strict, s.budget_usd, s.proxy_token) == (300.0, True, None, None)
    assert s.openai_upstream == "https://api.openai.com"
    assert s.anthropic_upstream == "https://api.anthropic.com"


def test_environment_sets_every_option(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "HEADROOM_HOST": "0.0.0.0", "HEADROOM_PORT": "9001", "HEADROOM_MODE": "cost_savings",
        "HEADROOM_WORKERS": "3", "HEADROOM_STATELESS": "true", "HEADROOM_BUDGET": "2.5",
        "HEADROOM_STORE_URL": "sqlite:////tmp/x.db", "HEADROOM_REQUEST_TIMEOUT": "30",
        "HEADROOM_OPENAI_UPSTREAM": "http://127.0.0.1:1/", "HEADROOM_ANTHROPIC_UPSTREAM": "https://gw.example/anthropic",
        "HEADROOM_PROXY_TOKEN": "tok", "HEADROOM_TLS_STRICT": "0", "HEADROOM_COMPRESS_TIMEOUT": "2",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    s = ProxySettings.load()
    assert (s.host, s.port, s.mode, s.workers, s.stateless, s.budget_usd) == ("0.0.0.0", 9001, "cache", 3, True, 2.5)
    assert (s.store_url, s.request_timeout, s.compress_timeout) == ("sqlite:////tmp/x.db", 30.0, 2.0)
    assert s.openai_upstream == "http://127.0.0.1:1"
    assert s.anthropic_upstream == "https://gw.example/anthropic"
    assert (s.proxy_token, s.tls_strict) == ("tok", False)


def test_command_line_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_PORT", "9001")
    monkeypatch.setenv("HEADROOM_MODE", "cache")
    s = ProxySettings.load(port=9002, mode=None, host=None)
    assert (s.port, s.mode, s.host) == (9002, "cache", "127.0.0.1")


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("HEADROOM_PORT", "http", "an integer from 1 to 65535"),
        ("HEADROOM_PORT", "70000", "an integer from 1 to 65535"),
        ("HEADROOM_WORKERS", "0", "an integer >= 1"),
        ("HEADROOM_REQUEST_TIMEOUT", "soon", "a positive number of seconds"),
        ("HEADROOM_TLS_STRICT", "maybe", "1/true/yes/on"),
        ("HEADROOM_BUDGET", "-3", "a positive number of US dollars"),
        ("HEADROOM_MODE", "fast", "'token' or 'cache'"),
        ("HEADROOM_OPENAI_UPSTREAM", "api.openai.com", "an http(s) base URL"),
        ("HEADROOM_OPENAI_UPSTREAM", "https://api.openai.com/v1", "no /v1"),
    ],
)
def test_a_bad_environment_value_is_one_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, accepted: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        ProxySettings.load()
    assert info.value.field == name
    assert accepted in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("HEADROOM_REQUEST_TIMEOUT", "soon"), ("HEADROOM_COMPRESS_TIMEOUT", "never"),
     ("HEADROOM_OPENAI_UPSTREAM", "nowhere"), ("HEADROOM_ANTHROPIC_UPSTREAM", "https://x/v1"),
     ("HEADROOM_HOST", "  ")],
)  # fmt: skip
def test_the_proxys_own_variables_never_break_a_library_config(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    expected = HeadroomConfig().model_dump()
    monkeypatch.setenv(name, value)
    assert HeadroomConfig().model_dump() == expected


def test_the_pipeline_config_carries_the_proxy_mode_and_store(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ProxySettings(mode="cache", store_url="sqlite:////tmp/p.db", budget_usd=3).headroom_config()
    assert (cfg.optimization_mode, cfg.store_url, cfg.budget_usd) == ("cache", "sqlite:////tmp/p.db", 3)
    assert cfg.default_mode is HeadroomMode.OPTIMIZE
    monkeypatch.setenv("HEADROOM_DEFAULT_MODE", "audit")
    assert ProxySettings().headroom_config().default_mode is HeadroomMode.AUDIT


def test_upstream_keeps_a_path_prefix_and_drops_the_trailing_slash() -> None:
    assert parse_upstream("https://gateway.example/openai/") == "https://gateway.example/openai"
    with pytest.raises(ConfigurationError):
        parse_upstream("https://host:notaport")
