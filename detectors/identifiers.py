"""Device and phone partitions: who used an identifier, and hits back to the accounts concerned.

The state keeps the identifier's recent uses sorted by (event time, event id). A use is judged as
of its own time, on its *view*: the uses within the window up to it, each account's newest
``max_entries_per_account`` of them, then the newest ``max_entries``. When the verdict holds, every
account in the view gets a hit whose id derives from (rule, identifier, account, use) and whose
time is the use's. A use that arrives late is inserted in place and the uses after it are judged
again (same hit ids, the account keeps the newest judgement).

The caps shape the views only; the state keeps every use within the window up to twice
``max_entries`` (oldest dropped first beyond that). Uses reach these partitions out of order from
many account partitions (by days of event time when history is replayed at full speed), and a use
dropped by a cap could be in the view of a use still to come. Below the hard bound the view of
every use is therefore the same whatever the arrival order, and so are the hits.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import orjson

from detectors.hashing import short_id
from detectors.messages import CrossHit, IdentifierMessage
from detectors.rules.base import HIGH, NORMAL

FORMAT = 1
# Use entry: (time, event_id, account_id, customer_id)
TIME, EVENT_ID, ACCOUNT, CUSTOMER = range(4)


class IdentifierState:
    """Recent uses of one device or phone, bounded by the rule's window and caps."""

    __slots__ = ("kind", "key", "watermark", "entries", "customers")

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        self.watermark = 0
        self.entries: list[tuple[int, str, str, str]] = []
        self.customers: dict[str, int] = {}  # derived: uses per customer among the entries

    def _add(self, index: int, entry: tuple) -> None:
        self.entries.insert(index, entry)
        self.customers[entry[CUSTOMER]] = self.customers.get(entry[CUSTOMER], 0) + 1

    def _drop(self, index: int) -> None:
        customer = self.entries.pop(index)[CUSTOMER]
        left = self.customers[customer] - 1
        if left:
            self.customers[customer] = left
        else:
            del self.customers[customer]

    def to_bytes(self) -> bytes:
        return orjson.dumps([FORMAT, self.kind, self.key, self.watermark, self.entries])

    @classmethod
    def from_bytes(cls, data: bytes) -> IdentifierState:
        fmt, kind, key, watermark, entries = orjson.loads(data)
        if fmt != FORMAT:
            raise ValueError(f"identifier state format {fmt} is not {FORMAT}")
        state = cls(kind, key)
        state.watermark = watermark
        for entry in entries:
            state._add(len(state.entries), tuple(entry))
        return state


@dataclass(slots=True)
class IdentifierOutcome:
    state: IdentifierState
    hits: list[CrossHit]


def apply_identifier(state: IdentifierState | None, msg: IdentifierMessage, config) -> IdentifierOutcome:
    """Record one use and return the hits it makes true (none for a too-old use).

    A repeat of a use already recorded returns its hits again, as the account side re-sends its
    identifier uses: the worker stores this state before the hits it sent are known to be delivered,
    so after a crash the redelivered use finds itself recorded while its hits may never have left.
    Hit ids are deterministic, so a hit that did arrive is recognised as a repeat there.
    """
    if state is None:
        state = IdentifierState(msg.kind, msg.key)
    rule = config.runtime.identifier_rules.get(msg.kind)
    if rule is None:
        return IdentifierOutcome(state, [])
    entry = (msg.time, msg.event_id, msg.account_id, msg.customer_id)
    entries = state.entries
    at = bisect_left(entries, entry)
    if at < len(entries) and entries[at] == entry:
        shared = len(state.customers) >= rule.min_customers
        return IdentifierOutcome(state, _hits_from(state, rule, at) if shared else [])
    if msg.time < state.watermark - rule.window:
        return IdentifierOutcome(state, [])
    state._add(at, entry)
    if msg.time > state.watermark:
        state.watermark = msg.time
    if entries[0][TIME] < state.watermark - rule.window or len(entries) > rule.hard_max_entries:
        _enforce_bounds(state, rule)  # only when something is out of bounds (a call per use otherwise)
    if len(state.customers) < rule.min_customers or entry not in entries:
        return IdentifierOutcome(state, [])
    return IdentifierOutcome(state, _hits_from(state, rule, bisect_left(entries, entry)))


def _enforce_bounds(state: IdentifierState, rule) -> None:
    """Drop uses out of the window, then the oldest beyond the hard bound (a flood)."""
    entries = state.entries
    horizon = state.watermark - rule.window
    while entries and entries[0][TIME] < horizon:
        state._drop(0)
    while len(entries) > rule.hard_max_entries:
        state._drop(0)


def _view(entries: list[tuple], times: list[int], point: tuple, rule) -> list[tuple]:
    """The uses ``point`` is judged on: within the window up to it, inside the caps (per account,
    then overall, newest first)."""
    window = entries[bisect_left(times, point[TIME] - rule.window) : bisect_left(entries, point) + 1]
    per_account: dict[str, int] = {}
    view = []
    for use in reversed(window):
        held = per_account[use[ACCOUNT]] = per_account.get(use[ACCOUNT], 0) + 1
        if held <= rule.max_per_account:
            view.append(use)
            if len(view) == rule.max_entries:
                break
    view.reverse()
    return view


def _hits_from(state: IdentifierState, rule, first: int) -> list[CrossHit]:
    """Hits for every use from index ``first`` on whose view (which includes the new use) is shared."""
    entries = state.entries
    times = [e[TIME] for e in entries]
    hits = []
    for point in entries[first:]:
        window = _view(entries, times, point, rule)
        customers = {e[CUSTOMER] for e in window}
        if len(customers) < rule.min_customers:
            continue
        accounts = dict.fromkeys(e[ACCOUNT] for e in window)
        reason = rule.reason(state.key, len(customers), len(accounts))
        level = HIGH if len(customers) >= rule.high_customers else NORMAL
        evidence = tuple(dict.fromkeys(e[EVENT_ID] for e in reversed(window)))[: rule.max_evidence]
        for account in accounts:
            hit_id = short_id(rule.rule_id, state.kind, state.key, account, point[EVENT_ID], point[ACCOUNT])
            hits.append(CrossHit(account, point[EVENT_ID], point[TIME], hit_id, rule.rule_id, level, reason, evidence))
    return hits
