"""Rapid pass-through: money leaves soon after it arrives ("fast in, fast out")."""

from __future__ import annotations

from detectors.account_state import AMOUNT, COUNTERPARTY, EVENT_ID, OUTGOING, SALE, TIME, AccountState
from typing import Annotated

from pydantic import Field

from detectors.config_types import Fraction, Hours, Minutes, Money, RuleConfig, WeightFactor
from detectors.eventtime import days, describe_duration, hours, minutes
from detectors.money import Money as Converter
from detectors.rules.base import HIGH, NORMAL, Finding, Rule


class PassThroughConfig(RuleConfig):
    window_hours: Hours
    min_inflow: Money
    #: The inflows judged together must add up to at least this: a few hundred passing through an
    #: account that also holds a salary is everyday life, not "the balance stays near zero".
    min_total: Money
    min_outflow_ratio: Fraction
    high_outflow_ratio: Fraction
    high_within_minutes: Minutes
    high_weight_factor: WeightFactor
    #: Outflows to a beneficiary first paid at least this long before do not count: payroll to the
    #: same staff, rent to the same landlord. 0 counts every outflow.
    established_beneficiary_days: Annotated[float, Field(ge=0, le=800)]


class PassThrough(Rule):
    """Fires on an outflow when the outflows since the first inflow of the window reach the ratio
    of the inflows (each >= the minimum) received in the window; strong form over the last hour
    with the higher ratio.

    Inflows younger than the lateness may still be joined by a reordered one, so they are not
    summed: each is judged together with the settled inflows. A late event can then only add a
    witness, never remove one, which keeps findings independent of arrival order.
    """

    rule_id = "pass_through"
    on_outflow = True

    def __init__(self, config: PassThroughConfig, runtime) -> None:
        super().__init__(runtime)
        self.window = self.ledger_needed = hours(config.window_hours)
        self.min_inflow = Converter.threshold(config.min_inflow)
        self.min_total = Converter.threshold(config.min_total)
        self.ratio = config.min_outflow_ratio
        self.high_ratio = config.high_outflow_ratio
        self.high_within = minutes(config.high_within_minutes)
        self.high_weight_factor = config.high_weight_factor
        self.established = days(config.established_beneficiary_days)

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        if anchor[SALE]:
            return None
        now = anchor[TIME]
        found = self._witness(state, now, end, self.window, self.ratio)
        if found is None:
            return None
        high = self._witness(state, now, end, self.high_within, self.high_ratio) is not None
        first, received, left = found
        ledger = state.ledger
        moved = [e for e in ledger[first:end] if not e[SALE]]
        ids = [e[EVENT_ID] for e in moved]
        senders = {e[COUNTERPARTY] for e in moved if not e[OUTGOING]}
        reason = (
            f"{min(100, round(100 * left / received))} % of {self.money.describe(received, state.currency)} received"
            f" from {len(senders)} sender{'s' if len(senders) > 1 else ''} left within"
            f" {describe_duration(now - ledger[first][TIME])}"
        )
        return (HIGH if high else NORMAL, reason, self.evidence(ids))

    def _witness(self, state: AccountState, now: int, end: int, window: int, ratio: float):
        """(first index, inflow judged, outflow after it) of the largest witness, or None."""
        ledger = state.ledger
        settled = now - self.lateness
        settled_in = 0
        first = -1
        recent = []
        out_before = {}  # inflow index -> outflow total strictly before it in the window
        out_total = 0
        known = state.counterparties
        # A payee met before the warm-up ended counts as established: on a new deployment's first
        # payday the landlord and the utilities are unknown, not new.
        established_before = now - self.established if self.established else -1
        known_from = state.payees_known_from(self.runtime)
        if self.established and (known_from is None or known_from > established_before):
            established_before = known_from if known_from is not None else now + 1
        for i in range(state.window(now - window, end), end):
            entry = ledger[i]
            if entry[SALE]:
                continue  # shopping, or a shop's takings: not money passed on
            amount = entry[AMOUNT]
            if entry[OUTGOING]:
                payee = known.get(entry[COUNTERPARTY])
                if payee is None or payee[0] >= established_before:
                    out_total += amount
            elif amount >= self.min_inflow:
                out_before[i] = out_total
                if entry[TIME] < settled:
                    settled_in += amount
                    if first < 0:
                        first = i
                else:
                    recent.append(i)
        best = None
        floor = self.min_total
        if first >= 0 and settled_in >= floor and out_total - out_before[first] >= ratio * settled_in:
            best = (first, settled_in, out_total - out_before[first])
        for i in recent:
            since = first if first >= 0 else i
            received = settled_in + ledger[i][AMOUNT]
            left = out_total - out_before[since]
            if received >= floor and left >= ratio * received and (best is None or received > best[1]):
                best = (since, received, left)
        return best
