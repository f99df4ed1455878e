"""The one place where the evaluation reads alert fields.

Everything else in the evaluation works on :class:`AlertView`, never on :class:`schemas.Alert`, so a
change to the alert contract (as 2.0.0's one alert per account and episode, carrying several
typologies with a score each) is absorbed here: in :func:`view`, :data:`ALERT_TYPOLOGIES` and the
version bookkeeping of :func:`read_alerts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from schemas import Alert, Typology
from schemas.alerts import ALERT_ADAPTER

#: Typology names alerts can carry; a label typology of the same name can be compared with them.
ALERT_TYPOLOGIES: frozenset[str] = frozenset(t.value for t in Typology)


@dataclass(frozen=True)
class RuleWeight:
    """A rule that contributed to an alert, with the weight it added and the reason an analyst reads."""

    rule_id: str
    weight: int
    reason: str


@dataclass(frozen=True)
class AlertView:
    """What the evaluation needs of one alert (its highest version).

    ``time`` is the event time at which the alert was raised (the window end): time to detect and
    volume per day are measured with it.
    """

    alert_id: str
    account_id: str
    time: datetime
    severity: str
    severity_rank: int
    typology_scores: tuple[tuple[str, int], ...]
    rules: tuple[RuleWeight, ...]

    @property
    def score(self) -> int:
        """The alert's strength for ranking: its highest typology score."""
        return max(score for _, score in self.typology_scores)

    @property
    def typologies(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.typology_scores)


def view(alert: Alert) -> AlertView:
    """Read an alert into the evaluation's terms."""
    return AlertView(
        alert_id=alert.alert_id,
        account_id=alert.account_id,
        time=alert.window_end,
        severity=alert.severity.value,
        severity_rank=alert.severity.rank,
        typology_scores=tuple((t.typology.value, t.score) for t in alert.typologies),
        rules=tuple(RuleWeight(hit.rule_id, hit.weight, hit.reason) for hit in alert.rules),
    )


def read_alerts(path: Path) -> tuple[list[Alert], int, list[str]]:
    """Alerts keeping the highest version of each alert id; (alerts, versions read, rejected lines).

    A consumer of the alert topic sees every version of an escalating alert; an analyst works the
    latest, so only that one is judged.
    """
    best: dict[str, Alert] = {}
    versions = 0
    rejected: list[str] = []
    with open(path, "rb") as handle:
        for n, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                alert = ALERT_ADAPTER.validate_json(line)
            except ValidationError as exc:
                rejected.append(f"line {n}: {exc.errors(include_url=False)[0]['msg']}")
                continue
            versions += 1
            kept = best.get(alert.alert_id)
            if kept is None or alert.version > kept.version:
                best[alert.alert_id] = alert
    return list(best.values()), versions, rejected
