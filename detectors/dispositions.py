"""Analysts' decisions applied to an account's state (contract: ``schemas.dispositions``).

A decision takes effect at its ``decided_at`` (event time), in the worker and in replay alike:

- ``legitimate``: the account's alerts are held back for ``quiet_days`` unless the alert's score
  reaches the score the analyst saw plus ``resurface_margin``; an alert that comes through says so
  (``Alert.resurfaced_after``). What was held back still builds up in the episode, so the first
  version after the quiet days carries all of it.
- ``confirmed_mule``: the account is marked; each of the bank's own accounts it paid or was paid by
  in the ``lookback_days`` before the decision, and every one it pays or is paid by in the
  ``follow_days`` after, gets a ``confirmed_counterparty`` hit (money received from the mule is the
  strong form: where a mule passes money on is the next layer; one who paid a mule is as likely its
  victim, and the hit weighs little). The hit never alerts alone in the shipped config.
- ``inconclusive``: recorded and counted; nothing else changes.

A decision is refused (``unknown_alert``) when the account has no alert of that id in its state.
Applying the same decision twice changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NamedTuple

from pydantic import Field

from detectors.account_state import (
    BENEFICIARY,
    D_ALERT,
    D_DECISION,
    D_REASON,
    D_SCORE,
    D_TIME,
    D_VERSION,
    E_HITS,
    EVENT_ID,
    H_RULE,
    OUTGOING,
    P_SCORE,
    P_TIME,
    P_VERSION,
    TIME,
    COUNTERPARTY,
    AccountState,
    shown_at,
)
from detectors.config_types import Count, Days, StrictModel
from detectors.eventtime import MS_PER_DAY, days
from detectors.hashing import episode_alert_id, short_id
from detectors.messages import CrossHit, DispositionView
from detectors.rules import DISPOSITION_RULE_IDS, HIGH, NORMAL

if TYPE_CHECKING:
    from detectors.runtime import Runtime

RULE_ID = DISPOSITION_RULE_IDS[0]
CONFIRMED, LEGITIMATE = "confirmed_mule", "legitimate"


class DispositionsConfig(StrictModel):
    #: legitimate: alerts held back this long after the decision ...
    quiet_days: Days
    #: ... unless the alert's score reaches the score the analyst saw plus this many points.
    resurface_margin: Annotated[int, Field(ge=0, le=100)]
    #: confirmed_mule: own accounts it paid or was paid by this long before the decision hear of it,
    lookback_days: Days
    #: and those it pays or is paid by this long after.
    follow_days: Days
    #: At most this many counterparties hear of one decision (the most recent first).
    max_counterparties: Count
    #: Decisions an account keeps (the oldest dropped first).
    max_decisions: Count
    #: Money received from a confirmed mule weighs this many times the rule's typology weight.
    high_weight_factor: Annotated[float, Field(ge=1.0, le=5.0)]


class Dispositions:
    """The config as ready-to-use integers."""

    def __init__(self, config: DispositionsConfig, runtime: Runtime) -> None:
        self.runtime = runtime
        self.quiet = days(config.quiet_days)
        self.margin = config.resurface_margin
        self.lookback = days(config.lookback_days)
        self.follow = days(config.follow_days)
        self.max_counterparties = config.max_counterparties
        self.max_decisions = config.max_decisions
        self.high_weight_factor = config.high_weight_factor
        #: A decision is kept as long as any of its effects lasts.
        self.keep = max(self.quiet, self.follow)


class Decided(NamedTuple):
    """What a decision was about, for the live quality metrics: the typologies and rules the decided
    version showed (those whose hits are still held)."""

    decision: str
    reason_code: str
    typologies: tuple[str, ...]
    rules: tuple[str, ...]


class Applied(NamedTuple):
    decided: Decided | None  # None: refused or a repeat
    rejected: str | None  # why it was refused
    sends: list[CrossHit]


def apply_disposition(state: AccountState | None, msg: DispositionView, runtime: Runtime) -> Applied:
    """Record a decision and make what it says true from its time on; see the module docstring."""
    found = None if state is None else _find_version(state, msg.alert_id, msg.version, runtime)
    if found is None:
        return Applied(None, f"no alert {msg.alert_id} in this account's state (never raised, or its episode is over)", [])
    score, typologies, rules = found
    record = [msg.time, msg.alert_id, msg.version, msg.decision, msg.reason_code, score]
    if record in state.decisions:
        return Applied(None, None, [])
    state.decisions.append(record)
    state.decisions.sort(key=_decision_order)
    if len(state.decisions) > runtime.dispositions.max_decisions:
        del state.decisions[0]
    sends = _tell_counterparties(state, msg, runtime) if msg.decision == CONFIRMED else []
    return Applied(Decided(msg.decision, msg.reason_code, typologies, rules), None, sends)


def holds_back(decision: list, now: int, score: int, runtime: Runtime) -> bool:
    """Whether the account's latest decision (at or before ``now``) holds back an alert of ``score``:
    it is ``legitimate``, within its quiet days, and the score has not risen by the margin."""
    config = runtime.dispositions
    return (decision[D_DECISION] == LEGITIMATE and now < decision[D_TIME] + config.quiet
            and score < decision[D_SCORE] + config.margin)


def why_back(decision: list, now: int, score: int, runtime: Runtime) -> str:
    """What an alert that came through after the account's latest decision says of it."""
    config = runtime.dispositions
    if decision[D_DECISION] == LEGITIMATE and now < decision[D_TIME] + config.quiet:
        return f"found legitimate; back because the score rose from {decision[D_SCORE]} to {score} (margin {config.margin})"
    if decision[D_DECISION] == LEGITIMATE:
        return f"found legitimate; the {config.quiet // MS_PER_DAY} quiet days after that decision are over"
    if decision[D_DECISION] == CONFIRMED:
        return "confirmed as a mule by an analyst; this version shows new evidence"
    return "an analyst's review was inconclusive"


def latest_decision(state: AccountState, now: int) -> list | None:
    """The account's latest decision at or before ``now``, if any."""
    latest = None
    for record in state.decisions:
        if record[D_TIME] > now:
            break
        latest = record
    return latest


def confirmed_hits(state: AccountState, entry: tuple, runtime: Runtime) -> list[CrossHit]:
    """A payment of a confirmed mule with one of the bank's own accounts, within the follow days of
    the confirmation: that account hears of it."""
    counterparty = entry[COUNTERPARTY]
    if "|" in counterparty or counterparty == state.account_id:
        return []
    time = entry[TIME]
    follow = runtime.dispositions.follow
    for record in reversed(state.decisions):
        if record[D_DECISION] == CONFIRMED and record[D_TIME] <= time < record[D_TIME] + follow:
            return [_hit(state.account_id, counterparty, entry[EVENT_ID], time, bool(entry[OUTGOING]), (entry[EVENT_ID],))]
    return []


def _tell_counterparties(state: AccountState, msg: DispositionView, runtime: Runtime) -> list[CrossHit]:
    """A hit for each own account met in the look-back, the most recently met first, up to the cap."""
    config = runtime.dispositions
    since = msg.time - config.lookback
    met = sorted(((record[1], key, record[2]) for key, record in state.counterparties.items()
                  if "|" not in key and key != state.account_id and record[1] >= since and record[0] <= msg.time),
                 reverse=True)
    hits = []
    for _, key, flags in met[: config.max_counterparties]:
        evidence = [e[EVENT_ID] for e in state.ledger if e[COUNTERPARTY] == key and since <= e[TIME] <= msg.time]
        hits.append(_hit(state.account_id, key, msg.event_id, msg.time, bool(flags & BENEFICIARY),
                         tuple(evidence[-runtime.max_evidence:])))
    return hits


def _hit(mule: str, counterparty: str, cause: str, time: int, paid_by_mule: bool, evidence: tuple[str, ...]) -> CrossHit:
    if paid_by_mule:
        reason = "received money from an account an analyst confirmed as a mule"
    else:
        reason = "paid an account an analyst confirmed as a mule (victims do too: weighs little alone)"
    return CrossHit(counterparty, cause, time, short_id(RULE_ID, mule, cause), RULE_ID,
                    HIGH if paid_by_mule else NORMAL, reason, evidence)


def _find_version(state: AccountState, wanted: str, version: int, runtime: Runtime) -> tuple[int, tuple, tuple] | None:
    """The score, typologies and rules of version ``version`` of alert ``wanted``, if the account's
    state still holds its episode; None otherwise. A version above those the account has reached is
    read as the latest it reached: fed at full speed (history replayed into the topics), a decision
    can overtake a version whose evidence from other partitions is still on its way."""
    episode_ms = runtime.typologies.episode
    for bucket, (published, best) in state.episodes.items():
        if episode_alert_id(state.account_id, bucket * episode_ms) != wanted:
            continue
        if not published:
            return None  # held back from the start: no version was ever published
        exact = [entry for entry in published if entry[P_VERSION] == version]
        lower = [entry for entry in published if entry[P_VERSION] < version]
        found = exact[0] if exact else max(lower) if lower else min(published)
        shown = shown_at(best, found[P_TIME])
        rules = sorted({state.hits[hit_id][H_RULE] for entry in shown.values() for hit_id, _ in entry[E_HITS]
                        if hit_id in state.hits})
        return found[P_SCORE], tuple(sorted(shown)), tuple(rules)
    return None


def _decision_order(record: list) -> tuple:
    return record[D_TIME], record[D_VERSION], record[D_ALERT], record[D_DECISION], record[D_REASON]
