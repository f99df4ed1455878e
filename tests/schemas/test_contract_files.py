"""The checked-in JSON Schemas match the models and describe the same contract."""

from __future__ import annotations

import json

from schemas import generate
from stream.cli import main


def test_checked_in_schemas_match_models():
    assert generate.drifted() == []


def test_check_command_fails_on_drift(tmp_path, capsys):
    for name, text in generate.render().items():
        (tmp_path / name).write_text(text)
    assert generate.drifted(tmp_path) == []
    (tmp_path / "alert.schema.json").write_text("{}\n")
    assert generate.drifted(tmp_path) == ["alert.schema.json"]
    assert main(["schemas", "--check"]) == 0
    assert "match" in capsys.readouterr().out


def test_event_schema_lists_every_event_type_under_one_discriminator():
    document = json.loads(generate.render()["input-event.schema.json"])
    assert document["discriminator"]["propertyName"] == "type"
    assert set(document["discriminator"]["mapping"]) == {
        "payment", "account_opened", "account_closed", "phone_changed", "email_changed", "device_bound",
        "login", "password_reset", "beneficiary_added", "limit_changed", "kyc_updated",
    }


def test_alert_schema_requires_the_explanation_fields():
    document = json.loads(generate.render()["alert.schema.json"])
    for field in ("alert_id", "version", "account_id", "episode_start", "typologies", "score", "severity", "rules",
                  "figures", "window_start", "window_end", "config_version", "recommended_action"):
        assert field in document["required"], field
    assert document["version"] == "2.0.0" and document["properties"]["schema_version"]["const"] == "2.0.0"
    scored = document["$defs"]["TypologyScore"]
    assert set(scored["required"]) == {"typology", "score", "severity", "recommended_action"}
    assert document["properties"]["typologies"]["minItems"] == 1


def test_disposition_schema_names_the_decisions_and_reason_codes():
    document = json.loads(generate.render()["disposition.schema.json"])
    assert set(document["required"]) == {"alert_id", "account_id", "version", "decision", "reason_code", "decided_at"}
    assert set(document["$defs"]["Decision"]["enum"]) == {"confirmed_mule", "legitimate", "inconclusive"}
    assert "other" in document["$defs"]["ReasonCode"]["enum"]
