"""Config: shipped defaults, partial overrides, clear errors, and a stable version hash."""

from __future__ import annotations

import re

import pytest

from detectors import ConfigError, load_config
from detectors.config import RulesConfig
from detectors.typologies import TypologyConfig


def write(tmp_path, text: str):
    path = tmp_path / "user.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_domain_notes_values(config):
    rules = config.rules
    assert rules.pass_through.min_outflow_ratio == 0.8 and rules.pass_through.window_hours == 24
    assert rules.fan_in.min_senders == 5 and rules.fan_out.window_hours == 8
    assert rules.dormant_reactivation.idle_days == 90 and rules.dormant_reactivation.inflow_multiple == 5
    assert rules.shared_device.min_customers == 3 and rules.shared_device.window_days == 30
    assert rules.shared_phone.min_customers == 2
    assert rules.remote_access.max_speed_kmh == 900
    assert rules.similar_amounts.min_count == 5 and rules.similar_amounts.tolerance == 0.10
    assert config.severity.critical_amount == 200_000 and config.money.reference_currency == "CNY"


def test_no_threshold_has_a_default_in_code():
    """Every rule setting must come from the TOML file, so code cannot silently disagree with it."""
    for name, field in RulesConfig.model_fields.items():
        for sub_name, sub in field.annotation.model_fields.items():
            assert sub.is_required(), f"rules.{name}.{sub_name} has a default in code"
    assert all(f.is_required() for f in TypologyConfig.model_fields.values())


def test_version_is_short_stable_and_content_based(tmp_path):
    first, second = load_config(), load_config()
    assert re.fullmatch(r"[0-9a-f]{12}", first.version)
    assert first.version == second.version
    same = load_config(write(tmp_path, "[rules.fan_in]\nmin_senders = 5\n"))
    assert same.version == first.version
    changed = load_config(write(tmp_path, "[rules.fan_in]\nmin_senders = 6\n"))
    assert changed.version != first.version


def test_user_file_overrides_only_its_keys(tmp_path):
    cfg = load_config(write(tmp_path, "[rules.pass_through]\nmin_outflow_ratio = 0.7\n[money.rates]\nXAF = 0.012\n"))
    assert cfg.rules.pass_through.min_outflow_ratio == 0.7
    assert cfg.rules.pass_through.window_hours == 24  # untouched sibling
    assert cfg.money.rates["XAF"] == 0.012 and cfg.money.rates["USD"] == 7.2  # tables merge


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[rules.pass_through]\nratio = 0.7\n", "rules.pass_through.ratio"),
        ("[rules.fan_in]\nmin_senders = 0\n", "rules.fan_in.min_senders"),
        ("[rules.pass_through]\nmin_outflow_ratio = 1.5\n", "rules.pass_through.min_outflow_ratio"),
        ("[typologies.account_sold]\nweights = { no_such_rule = 10 }\n", "typologies.account_sold.weights"),
        ("[typologies.account_farm]\nrequires = [[\"volume_spike\"]]\n", "volume_spike"),
        ("[money]\nreference_currency = \"USD\"\n", "rates.USD must be 1.0"),
        ("[severity]\nhigh_amount = 1\n", "medium_amount <= high_amount"),
        ("[engine]\nlateness_seconds = 7200\n", "engine.lateness_seconds"),
        ("[bogus]\nx = 1\n", "bogus"),
    ],
)
def test_wrong_key_or_value_is_a_clear_error(tmp_path, text, named):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert named in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_unreadable_or_invalid_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[rules\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_disabled_rule_is_not_run(tmp_path, run):
    from scenarios import collection_mule

    cfg = load_config(write(tmp_path, "[rules.fan_in]\nenabled = false\n"))
    result = run(collection_mule(), cfg)
    assert "fan_in" not in result.rules_hit("M1")
    assert "collection_account" not in result.typologies()


def test_detectors_import_no_kafka_or_faust():
    import subprocess
    import sys

    code = (
        "import detectors, sys; "
        "assert not any(m.split('.')[0] in {'faust','kafka','aiokafka'} for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
