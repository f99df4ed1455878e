"""Device and phone partitions: who used an identifier, and hits back to the accounts concerned.

The state keeps the identifier's recent uses sorted by (event time, event id). A use is judged as
of its own time (customers among uses within the window up to it); when the verdict holds, every
account with a use in that window gets a hit whose id derives from (rule, identifier, account, use)
and whose time is the use's. Adding uses can only add such hits, so delivering them late, twice or
in another order leaves the accounts with the same set of hits.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import orjson

from detectors.hashing import short_id
from detectors.messages import IdentifierHit, IdentifierMessage
from detectors.rules.base import HIGH, NORMAL

FORMAT = 1
# Use entry: (time, event_id, account_id, customer_id)
TIME, EVENT_ID, ACCOUNT, CUSTOMER = range(4)


class IdentifierState:
    """Recent uses of one device or phone, bounded by the rule's window and caps."""

    __slots__ = ("kind", "key", "watermark", "entries", "customers", "per_account")

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        self.watermark = 0
        self.entries: list[tuple[int, str, str, str]] = []
        self.customers: dict[str, int] = {}  # derived: uses per customer among the entries
        self.per_account: dict[str, int] = {}  # derived: uses per account among the entries

    def _add(self, index: int, entry: tuple) -> None:
        self.entries.insert(index, entry)
        self.customers[entry[CUSTOMER]] = self.customers.get(entry[CUSTOMER], 0) + 1
        self.per_account[entry[ACCOUNT]] = self.per_account.get(entry[ACCOUNT], 0) + 1

    def _drop(self, index: int) -> None:
        entry = self.entries.pop(index)
        for counts, key in ((self.customers, entry[CUSTOMER]), (self.per_account, entry[ACCOUNT])):
            left = counts[key] - 1
            if left:
                counts[key] = left
            else:
                del counts[key]

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
    hits: list[IdentifierHit]


def apply_identifier(state: IdentifierState | None, msg: IdentifierMessage, config) -> IdentifierOutcome:
    """Record one use and return the hits it makes true (none for a repeat or a too-old use)."""
    if state is None:
        state = IdentifierState(msg.kind, msg.key)
    rule = config.runtime.identifier_rules.get(msg.kind)
    if rule is None:
        return IdentifierOutcome(state, [])
    entry = (msg.time, msg.event_id, msg.account_id, msg.customer_id)
    entries = state.entries
    at = bisect_left(entries, entry)
    if (at < len(entries) and entries[at] == entry) or msg.time < state.watermark - rule.window:
        return IdentifierOutcome(state, [])
    state._add(at, entry)
    if msg.time > state.watermark:
        state.watermark = msg.time
    _enforce_bounds(state, rule, msg.account_id)
    if len(state.customers) < rule.min_customers or entry not in entries:
        return IdentifierOutcome(state, [])
    return IdentifierOutcome(state, _hits_from(state, rule, bisect_left(entries, entry)))


def _enforce_bounds(state: IdentifierState, rule, account_id: str) -> None:
    entries = state.entries
    horizon = state.watermark - rule.window
    while entries and entries[0][TIME] < horizon:
        state._drop(0)
    if state.per_account.get(account_id, 0) > rule.max_per_account:
        state._drop(next(i for i, e in enumerate(entries) if e[ACCOUNT] == account_id))
    if len(entries) > rule.max_entries:
        state._drop(0)


def _hits_from(state: IdentifierState, rule, first: int) -> list[IdentifierHit]:
    """Hits for every use from index ``first`` on whose window (which includes the new use) is shared."""
    entries = state.entries
    times = [e[TIME] for e in entries]
    hits = []
    for point in entries[first:]:
        window = entries[bisect_left(times, point[TIME] - rule.window) : bisect_left(entries, point) + 1]
        customers = {e[CUSTOMER] for e in window}
        if len(customers) < rule.min_customers:
            continue
        accounts = dict.fromkeys(e[ACCOUNT] for e in window)
        reason = rule.reason(state.key, len(customers), len(accounts))
        level = HIGH if len(customers) >= rule.high_customers else NORMAL
        evidence = tuple(dict.fromkeys(e[EVENT_ID] for e in reversed(window)))[: rule.max_evidence]
        for account in accounts:
            hit_id = short_id(rule.rule_id, state.kind, state.key, account, point[EVENT_ID], point[ACCOUNT])
            hits.append(IdentifierHit(account, point[EVENT_ID], point[TIME], hit_id, rule.rule_id, level, reason, evidence))
    return hits
