"""Configuration: reference defaults, environment, precedence, model registry, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from headroom import ConfigurationError, HeadroomConfig, HeadroomMode, SmartCrusherConfig
from headroom.config import CacheAlignerConfig, CCRConfig, PrefixFreezeConfig
from headroom.models import ModelRegistry


def test_defaults_match_the_configuration_reference() -> None:
    cfg = HeadroomConfig()
    assert cfg.store_url == "sqlite:///headroom.db"
    assert cfg.default_mode is HeadroomMode.AUDIT
    assert cfg.model_context_limits == {} and cfg.output_buffer_tokens == 4000
    assert (cfg.intercept_tool_results, cfg.generate_diff_artifact, cfg.discover_pipeline_extensions) == (
        False,
        False,
        True,
    )
    sc = cfg.smart_crusher
    assert (sc.enabled, sc.min_items_to_analyze, sc.min_tokens_to_crush, sc.max_items_after_crush) == (True, 5, 200, 15)
    assert (sc.variance_threshold, sc.uniqueness_threshold, sc.similarity_threshold) == (2.0, 0.1, 0.8)
    assert (sc.first_fraction, sc.last_fraction, sc.preserve_change_points) == (0.3, 0.15, True)
    assert (sc.factor_out_constants, sc.include_summaries, sc.lossless_only) == (False, False, False)
    assert (sc.lossless_min_savings_ratio, sc.use_feedback_hints, sc.toin_confidence_threshold) == (0.15, True, 0.3)
    ca = cfg.cache_aligner
    assert (ca.enabled, ca.use_dynamic_detector, ca.detection_tiers, ca.extra_dynamic_labels) == (
        False,
        True,
        ["regex"],
        [],
    )
    assert (ca.entropy_threshold, ca.normalize_whitespace, ca.collapse_blank_lines) == (0.7, True, True)
    assert ca.dynamic_tail_separator == "\n\n---\n[Dynamic Context]\n" and len(ca.date_patterns) == 4
    assert cfg.cache_optimizer.enabled and cfg.ccr.enabled and cfg.prefix_freeze.enabled
    assert cfg.optimization_mode == "token"


def test_environment_sets_fields_not_given_to_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_MODE", "cost_savings")
    monkeypatch.setenv("HEADROOM_STATELESS", "true")
    monkeypatch.setenv("HEADROOM_PROTECT_TOOL_RESULTS", "read_secrets, audit_log")
    cfg = HeadroomConfig()
    assert cfg.optimization_mode == "cache" and cfg.stateless
    assert cfg.protect_tool_results == ["read_secrets", "audit_log"]


def test_constructor_beats_environment_and_request_beats_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_OUTPUT_BUFFER_TOKENS", "1000")
    assert HeadroomConfig().output_buffer_tokens == 1000
    cfg = HeadroomConfig(output_buffer_tokens=2000)
    assert cfg.output_buffer_tokens == 2000
    per_request = cfg.with_overrides(
        headroom_output_buffer_tokens=8000, headroom_mode="simulate", headroom_keep_turns=5
    )
    assert (per_request.output_buffer_tokens, per_request.default_mode, per_request.keep_turns) == (
        8000,
        HeadroomMode.SIMULATE,
        5,
    )
    assert cfg.output_buffer_tokens == 2000


def test_tool_profiles_override_crusher_fields_per_tool() -> None:
    cfg = HeadroomConfig().with_overrides(
        headroom_tool_profiles={
            "important_tool": {"skip_compression": True},
            "search_tool": {"max_items_after_crush": 25},
        }
    )
    assert cfg.skips_tool("important_tool") and not cfg.skips_tool("search_tool")
    assert cfg.crusher_for_tool("search_tool").max_items_after_crush == 25
    assert cfg.crusher_for_tool("other").max_items_after_crush == 15


def test_protected_tools_are_lossless_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_PROTECT_TOOL_RESULTS", "ledger")
    cfg = HeadroomConfig()
    assert cfg.crusher_for_tool("ledger").lossless_only and not cfg.crusher_for_tool("search").lossless_only


@pytest.mark.parametrize(
    ("make", "field", "accepted"),
    [
        (lambda: HeadroomConfig(default_mode="fast"), "default_mode", "'audit', 'optimize', 'simulate'"),
        (lambda: HeadroomConfig(optimization_mode="speed"), "optimization_mode", "'token' or 'cache'"),
        (lambda: SmartCrusherConfig(max_items_after_crush=0), "max_items_after_crush", "greater than or equal to 1"),
        (lambda: SmartCrusherConfig(first_fraction=1.5), "first_fraction", "less than or equal to 1"),
        (
            lambda: CacheAlignerConfig(detection_tiers=["regex", "magic"]),
            "detection_tiers",
            "'regex', 'ner' or 'semantic'",
        ),
        (lambda: CCRConfig(ttl_seconds=0), "ttl_seconds", "greater than or equal to 1"),
        (lambda: PrefixFreezeConfig(bogus=True), "bogus", "a known field name"),
    ],
)
def test_bad_values_name_field_and_accepted_values(make, field: str, accepted: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        make()
    assert field in str(err.value) and accepted in str(err.value)


def test_bad_environment_value_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_STATELESS", "maybe")
    with pytest.raises(ConfigurationError, match="HEADROOM_STATELESS"):
        HeadroomConfig()
    monkeypatch.setenv("HEADROOM_STATELESS", "0")
    monkeypatch.setenv("HEADROOM_MODE", "turbo")
    with pytest.raises(ConfigurationError, match="token"):
        HeadroomConfig()


def test_unknown_per_request_override_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="headroom_colour"):
        HeadroomConfig().with_overrides(headroom_colour="blue")


def test_models_json_in_config_dir_adds_limits_and_pricing(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_text(
        json.dumps(
            {
                "anthropic": {
                    "context_limits": {"claude-custom-finetune": 128000},
                    "pricing": {"claude-custom-finetune": {"input": 15.0, "output": 75.0, "cached_input": 1.5}},
                },
                "openai": {"context_limits": {"gpt-5": 256000}},
            }
        )
    )
    reg = ModelRegistry(config_dir=str(tmp_path))
    assert reg.context_window("claude-custom-finetune") == 128000 and reg.context_window("gpt-5") == 256000
    assert reg.cost("claude-custom-finetune", 1_000_000) == pytest.approx(15.0)
    assert reg.cost("claude-custom-finetune", 1_000_000, cached_input_tokens=1_000_000) == pytest.approx(1.5)


def test_model_limits_from_environment_json_string_or_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_MODEL_LIMITS", '{"openai": {"context_limits": {"ft:gpt-4o:my-org": 64000}}}')
    cfg = HeadroomConfig()
    assert ModelRegistry(limits_source=cfg.model_limits_source).context_window("ft:gpt-4o:my-org") == 64000
    path = tmp_path / "limits.json"
    path.write_text('{"openai": {"context_limits": {"my-model": 9000}}}')
    assert ModelRegistry(limits_source=str(path)).context_window("my-model") == 9000


def test_broken_models_file_names_the_problem() -> None:
    with pytest.raises(ConfigurationError, match="valid JSON"):
        ModelRegistry(limits_source="{not json")


def test_unknown_models_are_inferred_from_their_names() -> None:
    reg = ModelRegistry()
    for name, window in [
        ("claude-opus-9", 200_000),
        ("my-sonnet-x", 200_000),
        ("gpt-4o-2030-01-01", 128_000),
        ("o3-pro-max", 200_000),
    ]:
        info = reg.get(name)
        assert info.context_window == window and info.pricing is not None
    assert reg.get("claude-opus-9").pricing.input > reg.get("my-sonnet-x").pricing.input  # type: ignore[union-attr]


def test_constructor_context_limits_win() -> None:
    assert ModelRegistry(context_limits={"gpt-4o": 8000}).context_window("gpt-4o") == 8000


def test_registry_for_config_is_shared_and_sees_models_json_edits(tmp_path: Path) -> None:
    import os

    cfg = HeadroomConfig(config_dir=str(tmp_path))
    assert ModelRegistry.for_config(cfg) is ModelRegistry.for_config(cfg)
    models = tmp_path / "models.json"
    models.write_text('{"openai": {"context_limits": {"my-model": 9000}}}')
    assert ModelRegistry.for_config(cfg).context_window("my-model") == 9000
    models.write_text('{"openai": {"context_limits": {"my-model": 7000}}}')
    os.utime(models, ns=(models.stat().st_atime_ns, models.stat().st_mtime_ns + 1_000_000))
    assert ModelRegistry.for_config(cfg).context_window("my-model") == 7000
