"""The config turned into ready-to-run objects: rules, scorer, caps and retention horizons in ms.

Built once per DetectorConfig (``config.runtime``) so the hot path reads plain attributes, never
pydantic models. Retention horizons are derived from the rules' windows plus the lateness, so no
entry a rule may still read is ever aged out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from detectors.eventtime import MS_PER_DAY, days, hours
from detectors.money import Money
from detectors.network import Network
from detectors.population import Rarity
from detectors.dispositions import Dispositions
from detectors.rules import (
    DISPOSITION_RULE_IDS,
    IDENTIFIER_RULES,
    NETWORK_RULE_IDS,
    PAYMENT_RULES,
    GatherScatter,
    RepeatedPassThrough,
)
from detectors.scoring import Scoring
from detectors.typologies import Typologies

if TYPE_CHECKING:
    from detectors.config import DetectorConfig


class Runtime:
    def __init__(self, config: DetectorConfig) -> None:
        limits = config.limits
        self.money = Money(config.money)
        self.counted_statuses = frozenset(config.money.counted_statuses)
        self.sale_methods = frozenset(m.value for m in config.money.sale_methods)
        self.lateness = round(config.engine.lateness_seconds * 1000)
        self.keep_ids = round(config.engine.remember_ids_seconds * 1000)
        self.baseline_active_days = config.engine.baseline_active_days
        self.baseline_watch = days(config.engine.baseline_watch_days)
        self.max_seen_ids = limits.max_seen_ids
        self.max_ledger = limits.max_ledger_entries
        self.max_counterparties = limits.max_counterparties
        self.max_devices = limits.max_devices
        self.max_controls = limits.max_controls
        self.max_accesses = limits.max_accesses
        self.max_beneficiaries = limits.max_beneficiaries
        self.max_hits = limits.max_hits
        self.max_hits_per_rule = limits.max_hits_per_rule
        self.max_episodes = limits.max_alert_episodes
        self.max_evidence = limits.max_evidence_per_hit
        self.keep_counterparties = days(limits.counterparty_memory_days)

        rules = config.rules
        self.rules = [cls(getattr(rules, cls.rule_id), self) for cls in PAYMENT_RULES if getattr(rules, cls.rule_id).enabled]
        self.gather_scatter = GatherScatter(rules.gather_scatter, self) if rules.gather_scatter.enabled else None
        repeated = rules.repeated_pass_through
        self.repeated_pass_through = RepeatedPassThrough(repeated, self) if repeated.enabled and rules.pass_through.enabled else None
        #: Rules built from other hits: each derives its hits from a hit just stored.
        self.derivers = [d for d in (self.gather_scatter, self.repeated_pass_through) if d is not None]
        #: Rules judged on the account's own events (not hits from other partitions).
        self.own_rules = frozenset([r.rule_id for r in self.rules] + [d.rule_id for d in self.derivers])
        self.identifier_rules = {
            cls.kind: cls(getattr(rules, cls.rule_id), self)
            for cls in IDENTIFIER_RULES
            if getattr(rules, cls.rule_id).enabled
        }
        control = rules.control_change_outflow
        self.control_changes = frozenset(control.changes) if control.enabled else frozenset()
        self.high_factors = {
            r.rule_id: r.high_weight_factor for r in (*self.rules, *self.identifier_rules.values())
        }
        self.high_factors.update(dict.fromkeys(NETWORK_RULE_IDS, config.network.high_weight_factor))
        self.dispositions = Dispositions(config.dispositions, self)
        self.high_factors.update(dict.fromkeys(DISPOSITION_RULE_IDS, config.dispositions.high_weight_factor))

        self.typologies = Typologies(config.typologies, self)
        self.flow_windows = self.typologies.flow_windows
        self.network = Network(config.network, self)
        self.rarity = Rarity(config.population, self)
        #: The payment rules judged on an inflow or an outflow, in order, as (rule_id, evaluate, the
        #: rule's bit in ``fired``, its max_level): what the engine reads for every payment.
        judged = [(r, (r.rule_id, r.evaluate, self.rarity.bit(r.rule_id), r.max_level)) for r in self.rules]
        self.inflow_rules = [entry for r, entry in judged if r.on_inflow]
        self.outflow_rules = [entry for r, entry in judged if r.on_outflow]
        self.scoring = Scoring(config.severity, config.version, self)
        self.keep_hits = max(self.typologies.max_window, days(repeated.window_days) if repeated.enabled else 0) + self.lateness
        # The ledger also serves the exact "today so far" part of flows() for hits up to a day old.
        self.keep_ledger = max([2 * MS_PER_DAY, *(r.ledger_needed for r in self.rules)]) + self.lateness
        self.keep_days = max([self.typologies.max_window // MS_PER_DAY + 2, *(r.days_needed for r in self.rules)])
        self.keep_periods = max([0, *(r.periods_needed for r in self.rules)])
        self.keep_controls = hours(control.window_hours) + self.lateness
        self.keep_accesses = hours(rules.remote_access.window_hours) + self.lateness
        self.keep_beneficiaries = hours(rules.new_beneficiary_paid.window_hours) + self.lateness
