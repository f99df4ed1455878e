"""What analysts' decisions changed in a backtest: ``mulewatch evaluate --dispositions``.

Judged on the alert versions of a replay (every version counts: each one reaches case management),
against the decisions file the replay applied, or one it did not (the counterfactual):

* *repeats after legitimate*: alert versions on an account published after an analyst found it
  legitimate (their window ends after the decision) - what a team wants gone;
* *confirmed counterparties*: accounts whose alerts carry ``confirmed_counterparty`` evidence (money
  to or from an account an analyst confirmed as a mule), and how many of them are mules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from schemas import Decision, Disposition
from schemas.alerts import ALERT_ADAPTER
from stream import replay
from stream.backtest.evaluation.metrics import Label

RULE = "confirmed_counterparty"
MAX_LINE_BYTES = 1_000_000  # replay's default: a longer line is refused there too


@dataclass(frozen=True)
class DecisionEffects:
    decisions: dict[str, int]  # decisions by kind
    legitimate_accounts: int  # accounts found legitimate at least once
    repeats_after_legitimate: int  # alert versions on them after the decision
    accounts_back_after_legitimate: int  # of them, accounts with such a version
    confirmed_counterparties_alerted: int  # accounts alerted with confirmed_counterparty evidence
    confirmed_counterparties_mules: int  # of them, labelled mules


def read_dispositions(path: Path) -> tuple[list[Disposition], list[str]]:
    """Every valid decision of the file (as ``replay --dispositions`` reads it), and the bad lines
    (number, reason and detail)."""
    items, bad = replay.read_dispositions(path, MAX_LINE_BYTES, replay.Summary())
    return ([item.event for item in items],
            [f"line {reject.where.rsplit(':', 1)[1]}: {reject.reason}: {reject.detail}" for reject in bad])


def decision_effects(alerts_path: Path, dispositions: list[Disposition], labels: dict[str, Label]) -> DecisionEffects:
    """The figures of the module docstring, reading every alert version of ``alerts_path``."""
    legitimate: dict[str, list] = {}
    for decision in dispositions:
        if decision.decision is Decision.LEGITIMATE:
            legitimate.setdefault(decision.account_id, []).append(decision.decided_at)
    repeats = 0
    back: set[str] = set()
    with_evidence: set[str] = set()
    with open(alerts_path, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                alert = ALERT_ADAPTER.validate_json(line)
            except ValidationError:
                continue  # counted by the main evaluation's reader
            times = legitimate.get(alert.account_id)
            if times is not None and any(alert.window_end > t for t in times):
                repeats += 1
                back.add(alert.account_id)
            if any(rule.rule_id == RULE for rule in alert.rules):
                with_evidence.add(alert.account_id)
    mules = {a for a in with_evidence if (label := labels.get(a)) is not None and label.label == 1}
    return DecisionEffects(
        decisions=dict(sorted(Counter(d.decision.value for d in dispositions).items())),
        legitimate_accounts=len(legitimate),
        repeats_after_legitimate=repeats,
        accounts_back_after_legitimate=len(back),
        confirmed_counterparties_alerted=len(with_evidence),
        confirmed_counterparties_mules=len(mules),
    )


def describe(effects: DecisionEffects) -> str:
    """The figures on three lines, for the terminal."""
    kinds = ", ".join(f"{n} {kind}" for kind, n in effects.decisions.items()) or "none"
    return "\n".join([
        f"analysts' decisions: {kinds}",
        f"after a legitimate decision: {effects.repeats_after_legitimate} alert versions on "
        f"{effects.accounts_back_after_legitimate} of the {effects.legitimate_accounts} accounts found legitimate",
        f"alerted with money to or from a confirmed mule: {effects.confirmed_counterparties_alerted} accounts, "
        f"{effects.confirmed_counterparties_mules} of them mules",
    ])
