"""Amounts in a currency without a configured rate are never counted as zero in silence.

A feed in such a currency is judged on its accounts' own amounts (which need no rate); a payment in
such a currency to an account in another one adds no money to it but still counts; the engine counts
them by currency for replay's summary and the worker's metric.
"""

from __future__ import annotations

from scenarios import collection_mule, ordinary_history

from detectors import Engine
from schemas import Severity


def in_currency(events, currency: str):
    """The same story with every payment in ``currency``."""
    return [e.model_copy(update={"currency": currency}) if e.type == "payment" else e for e in events]


def test_a_feed_in_a_currency_without_a_rate_is_judged_on_its_own_amounts(config):
    assert "XOF" not in config.money.rates
    engine = Engine(config)
    alerts = list(engine.process_all(in_currency(collection_mule(), "XOF")))
    assert {t.typology.value for a in alerts for t in a.typologies} >= {"collection_account"}
    assert all(a.severity is Severity(config.severity.without_rate) for a in alerts)
    assert all(a.figures.currency == "XOF" for a in alerts)
    assert engine.stats.unvalued["XOF"] == sum(1 for e in collection_mule() if e.type == "payment")


def test_the_same_story_in_a_currency_with_a_rate_alerts_alike(config):
    """Only the severity comes from the amount ladder; what fires does not depend on the rate."""
    rated = list(Engine(config).process_all(collection_mule()))
    unrated = list(Engine(config).process_all(in_currency(collection_mule(), "XOF")))
    def found(alerts) -> set:
        return {(t.typology, a.account_id) for a in alerts for t in a.typologies}

    assert found(rated) == found(unrated)


def test_a_payment_in_an_unrated_currency_adds_no_money_to_an_account_in_another(run, config):
    """Victims' money arriving in a currency the config cannot value neither fakes nor hides a rate:
    the account's sums leave it out, its senders still count, and the engine says how many there were."""
    events = ordinary_history("M", "CM")
    events += [e.model_copy(update={"currency": "XOF"}) if e.type == "payment" and e.creditor.account_id == "M"
               and e.event_id.startswith("M-v") else e for e in collection_mule("M", "CM")[len(events):]]
    result = run(events)
    state = result.engine.accounts["M"]
    assert result.engine.stats.unvalued["XOF"] == 7
    assert all(entry[3] == 0 for entry in state.ledger if entry[1].startswith("M-v"))
    assert sum(1 for cp in state.counterparties if cp.endswith("VICTIM0") or "VICTIM" in cp) == 7
    assert "pass_through" not in result.rules_hit("M")  # the money out was not received, as far as sums go
