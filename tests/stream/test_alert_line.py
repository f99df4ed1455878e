"""``make run``'s terminal line for one alert version (contract 2.0.0)."""

from __future__ import annotations

from stream.run_local import alert_line


def test_the_line_names_every_typology_strongest_first_and_the_strongest_rules_reason():
    alert = {
        "window_end": "2026-03-01T10:20:00.000Z", "severity": "high", "account_id": "ACC-1", "version": 555,
        "typologies": [{"typology": "account_farm", "score": 80}, {"typology": "account_rented", "score": 75}],
        "rules": [{"reason": "pass-through 95 % within 1 h", "weight": 30},
                  {"reason": "device used on accounts of 3 customers", "weight": 35}],
    }
    line = alert_line(alert)
    assert line.startswith("2026-03-01T10:20:00  high")
    assert "account ACC-1" in line and "v555" in line
    assert line.index("account_farm:80") < line.index("account_rented:75")
    assert line.endswith("-- device used on accounts of 3 customers")
