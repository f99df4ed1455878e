"""A consumer's view of the alert topic: one case per account, as a team without a case-management
system would keep them (``mulewatch cases``).

Each account's case is its latest alert: the highest version of its most recent episode. Rows are
ranked as an analyst works them: highest score first, then higher severity, then the most recent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass(frozen=True)
class Case:
    account_id: str
    alert_id: str
    version: int
    episode_start: datetime
    typologies: tuple[tuple[str, int], ...]  # (typology, score), strongest first
    score: int
    severity: str
    window_end: datetime
    decided: str | None  # the previous analyst decision the alert carries, if any


class CaseBook:
    """The cases seen so far; ``add`` each alert as it arrives, in any order."""

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self.alerts = 0

    def add(self, alert: dict) -> bool:
        """Take one alert (a decoded JSON document); True when it changed the account's case."""
        self.alerts += 1
        case = Case(
            account_id=alert["account_id"], alert_id=alert["alert_id"], version=alert["version"],
            episode_start=_time(alert["episode_start"]),
            typologies=tuple((t["typology"], t["score"]) for t in alert["typologies"]),
            score=alert["score"], severity=alert["severity"], window_end=_time(alert["window_end"]),
            decided=(alert.get("previous_decision") or {}).get("decision"),
        )
        held = self.cases.get(case.account_id)
        if held is not None and (held.episode_start, held.version) >= (case.episode_start, case.version):
            return False
        self.cases[case.account_id] = case
        return True

    def ranked(self) -> list[Case]:
        return sorted(self.cases.values(),
                      key=lambda c: (-c.score, -SEVERITY_RANK.get(c.severity, 0), -c.window_end.timestamp(), c.account_id))

    def latest(self) -> datetime | None:
        return max((c.window_end for c in self.cases.values()), default=None)


def render(book: CaseBook, now: datetime, limit: int | None = None) -> list[str]:
    """The table's lines: a header, one line per case (up to ``limit``), and a count."""
    rows = book.ranked()
    shown = rows if limit is None else rows[:limit]
    lines = [f"{'score':>5}  {'severity':<8}  {'age':>6}  {'v':>5}  {'account':<24}  typologies"]
    lines += [case_line(case, now) for case in shown]
    more = f" ({len(rows) - len(shown)} more not shown)" if len(shown) < len(rows) else ""
    lines.append(f"{len(rows)} cases from {book.alerts} alert versions{more}")
    return lines


def case_line(case: Case, now: datetime) -> str:
    """One case: score, severity, age of its alert, version, account, typologies with their scores."""
    typologies = " ".join(f"{name}:{score}" for name, score in case.typologies)
    decided = f"  [previously {case.decided}]" if case.decided else ""
    return (f"{case.score:>5}  {case.severity:<8}  {_age(now - case.window_end):>6}  {case.version:>5}  "
            f"{case.account_id:<24}  {typologies}{decided}")


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
