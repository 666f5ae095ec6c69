"""Configuration: reference defaults, environment, precedence, model registry, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from headroom import ConfigurationError, HeadroomConfig, HeadroomMode, SmartCrusherConfig
from headroom.config import CacheAlignerConfig, CCRConfig, PrefixFreezeConfig
from headroom.models import ModelRegistry
from hypothesis import given, settings
from hypothesis import strategies as st


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
    ("make", "message"),
    [
        (
            lambda: HeadroomConfig(default_mode="fast"),
            "invalid value 'fast' for HeadroomConfig.default_mode: expected one of 'audit', 'optimize', 'simulate'",
        ),
        (
            lambda: SmartCrusherConfig(max_items_after_crush=0),
            "invalid value 0 for SmartCrusherConfig.max_items_after_crush: expected an integer >= 1",
        ),
        (
            lambda: SmartCrusherConfig(first_fraction=1.5),
            "invalid value 1.5 for SmartCrusherConfig.first_fraction: expected a number from 0 to 1",
        ),
        (
            lambda: CacheAlignerConfig(detection_tiers=["regex", "magic"]),
            "invalid value 'magic' for CacheAlignerConfig.detection_tiers[1]: expected one of 'regex', 'ner', 'semantic'",
        ),
        (lambda: CCRConfig(ttl_seconds=0), "invalid value 0 for CCRConfig.ttl_seconds: expected an integer >= 1"),
        (
            lambda: HeadroomConfig(compaction_low_water=0),
            "invalid value 0 for HeadroomConfig.compaction_low_water: expected a number > 0 and <= 1",
        ),
        (
            lambda: HeadroomConfig(keep_turns="two"),
            "invalid value 'two' for HeadroomConfig.keep_turns: expected an integer >= 0",
        ),
        (
            lambda: HeadroomConfig(stateless="maybe"),
            "invalid value 'maybe' for HeadroomConfig.stateless: expected true or false",
        ),
        (
            lambda: HeadroomConfig(budget_usd=0),
            "invalid value 0 for HeadroomConfig.budget_usd: expected a number > 0 or None",
        ),
        (
            lambda: HeadroomConfig(model_context_limits={"gpt-4o": "big"}),
            "invalid value 'big' for HeadroomConfig.model_context_limits['gpt-4o']: expected an integer",
        ),
    ],
)
def test_bad_value_is_one_sentence_naming_field_value_and_accepted_values(make, message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        make()
    assert str(err.value) == message


def test_bad_value_of_a_nested_model_names_the_whole_path() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig(smart_crusher={"max_items_after_crush": 0})
    assert str(err.value) == (
        "invalid value 0 for HeadroomConfig.smart_crusher.max_items_after_crush: expected an integer >= 1"
    )


def test_bad_value_two_models_deep_names_the_whole_path() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig(content={"log": {"importance_pattern": "(error"}})
    assert str(err.value).startswith(
        "invalid value '(error' for HeadroomConfig.content.log.importance_pattern: expected a valid regular expression"
    )


def test_rule_across_fields_says_what_holds() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig(smart_crusher={"first_fraction": 0.9, "last_fraction": 0.5})
    assert str(err.value) == (
        "invalid value {'first_fraction': 0.9, 'last_fraction': 0.5} for HeadroomConfig.smart_crusher: "
        "expected first_fraction + last_fraction at most 1.0 (got 0.9 + 0.5)"
    )


def test_misspelt_field_suggests_the_nearest_and_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig(keep_turn=3)
    assert str(err.value).startswith(
        "unknown field 'keep_turn' of HeadroomConfig; did you mean 'keep_turns'? Valid fields: store_url, default_mode,"
    )
    assert err.value.suggestion == "keep_turns" and "budget_usd" in str(err.value)


def test_misspelt_nested_field_names_its_model_path() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig(smart_crusher={"max_item_after_crush": 3})
    assert str(err.value).startswith(
        "unknown field 'max_item_after_crush' of HeadroomConfig.smart_crusher; did you mean 'max_items_after_crush'?"
    )


def test_unrelated_unknown_field_lists_valid_fields_without_a_guess() -> None:
    with pytest.raises(ConfigurationError) as err:
        PrefixFreezeConfig(bogus=True)
    assert str(err.value) == (
        "unknown field 'bogus' of PrefixFreezeConfig. Valid fields: enabled, max_sessions, min_frozen_messages."
    )


def test_bad_tool_profile_names_the_tool() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig(tool_profiles={"search": {"max_items": 3}})
    assert str(err.value).startswith(
        "unknown field 'max_items' of HeadroomConfig.tool_profiles['search']; did you mean 'max_items_after_crush'?"
    )


def test_bad_assignment_is_a_configuration_error() -> None:
    cfg = HeadroomConfig()
    with pytest.raises(ConfigurationError) as err:
        cfg.smart_crusher.max_items_after_crush = 0
    assert str(err.value) == "invalid value 0 for SmartCrusherConfig.max_items_after_crush: expected an integer >= 1"


@settings(max_examples=60, deadline=None)
@given(name=st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True).filter(lambda n: n not in HeadroomConfig.model_fields))
def test_any_unknown_field_is_named_with_every_valid_field(name: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig(**{name: 1})
    text = str(err.value)
    assert f"unknown field {name!r} of HeadroomConfig" in text and "\n" not in text
    assert all(field in text for field in HeadroomConfig.model_fields)


@settings(max_examples=40, deadline=None)
@given(value=st.integers(max_value=0))
def test_any_out_of_range_value_is_named_with_its_bound(value: int) -> None:
    with pytest.raises(ConfigurationError) as err:
        SmartCrusherConfig(max_items_after_crush=value)
    assert str(err.value) == (
        f"invalid value {value} for SmartCrusherConfig.max_items_after_crush: expected an integer >= 1"
    )


def test_bad_environment_value_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_STATELESS", "maybe")
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig()
    assert (
        str(err.value)
        == "invalid value 'maybe' for HEADROOM_STATELESS: expected one of 1/true/yes/on or 0/false/no/off"
    )


def test_bad_environment_mode_lists_modes_and_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_MODE", "turbo")
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig()
    assert str(err.value).startswith(
        "invalid value 'turbo' for HeadroomConfig.optimization_mode: expected 'token' or 'cache'"
    )


def test_a_bad_proxy_variable_never_breaks_a_library_user_and_the_proxy_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from headroom.proxy.settings import ProxySettings

    monkeypatch.setenv("HEADROOM_PORT", "abc")
    monkeypatch.setenv("HEADROOM_TLS_STRICT", "maybe")
    assert HeadroomConfig().keep_turns == 0
    with pytest.raises(ConfigurationError) as err:
        ProxySettings.load()
    assert str(err.value).startswith("invalid value 'abc' for HEADROOM_PORT: ")


def test_bad_numeric_environment_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_KEEP_TURNS", "-2")
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig()
    assert str(err.value) == "invalid value '-2' for HEADROOM_KEEP_TURNS: expected an integer >= 0"


def test_unknown_per_request_override_suggests_the_nearest() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig().with_overrides(headroom_keep_turn=3)
    assert str(err.value) == (
        "unknown per-request override 'headroom_keep_turn'; did you mean 'headroom_keep_turns'? Valid per-request "
        "overrides: headroom_mode, headroom_optimization_mode, headroom_output_buffer_tokens, headroom_keep_turns, "
        "headroom_tool_profiles."
    )


def test_unrelated_per_request_override_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="unknown per-request override 'headroom_colour'\\. Valid"):
        HeadroomConfig().with_overrides(headroom_colour="blue")


def test_bad_per_request_value_names_the_keyword_the_caller_wrote() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig().with_overrides(headroom_keep_turns=-3)
    assert str(err.value) == "invalid value -3 for headroom_keep_turns: expected an integer >= 0"


def test_bad_per_request_tool_profile_names_the_keyword_and_tool() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig().with_overrides(headroom_tool_profiles={"search": {"max_items_after_crush": 0}})
    assert str(err.value) == (
        "invalid value 0 for headroom_tool_profiles['search'].max_items_after_crush: expected an integer >= 1 or None"
    )


def test_bad_per_request_mode_names_the_keyword() -> None:
    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig().with_overrides(headroom_mode="fast")
    assert str(err.value) == "invalid value 'fast' for headroom_mode: expected one of 'audit', 'optimize', 'simulate'"


def test_configuration_error_survives_pickling() -> None:
    import pickle

    with pytest.raises(ConfigurationError) as err:
        HeadroomConfig(keep_turn=3)
    again = pickle.loads(pickle.dumps(err.value))
    assert str(again) == str(err.value) and again.suggestion == "keep_turns"


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
