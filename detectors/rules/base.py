"""What every rule shares: its id, which payments it looks at, and the shape of what it finds."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from detectors.account_state import AccountState
    from detectors.runtime import Runtime

#: What a rule found at one anchor payment: (level, reason, evidence event ids). Level 2 is the
#: rule's strong form (e.g. pass-through within the hour), scored with its ``high_weight_factor``.
Finding = tuple[int, str, tuple[str, ...]]
NORMAL, HIGH = 1, 2


class Rule:
    """One indicator, evaluated at an anchor payment "as of" its event time.

    A rule only reads ledger entries up to the anchor (``end`` is the exclusive end index), and only
    reads history older than the lateness for anything that *absence* of events would decide (new
    counterparty, idle period, baseline). Adding an admissible late event can therefore only add
    evidence, never withdraw a finding; that is what keeps alerts independent of arrival order.
    """

    rule_id: ClassVar[str]
    on_inflow: ClassVar[bool] = False
    on_outflow: ClassVar[bool] = False

    #: How far back the rule reads: ledger (ms), day buckets (days), 30-day inflow periods.
    ledger_needed = 0
    days_needed = 0
    periods_needed = 0
    high_weight_factor = 1.0
    #: The strongest level a finding of the rule can have: NORMAL for a rule without a strong form.
    #: The engine skips judging a rule again where one of its hits already says as much as any finding
    #: of this level could (see ``engine._evaluate_from``), so a rule must never find above it.
    max_level: ClassVar[int] = HIGH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.money = runtime.money
        self.max_evidence = runtime.max_evidence
        self.lateness = runtime.lateness

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        raise NotImplementedError

    def evidence(self, ids) -> tuple[str, ...]:
        """Distinct event ids in first-seen order, capped."""
        return tuple(dict.fromkeys(ids))[: self.max_evidence]
