"""Applying messages to account state, and the in-process engine that chains the partitions.

``apply_account`` is what the worker's account agent calls for every message; ``Engine`` does in one
process what the worker does through Kafka topics (route, apply to accounts, forward identifier uses,
bring hits back), with states in dicts. Both give the same alerts because every verdict depends on
event times only (see ``typologies`` and ``identifiers``).

``apply_account`` mutates and returns the state it is given (no copy: it is on the hot path).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from bisect import bisect_left, bisect_right

from detectors.account_state import EVENT_ID, OUTGOING, TIME, AccountState
from detectors.eventtime import MS_PER_DAY
from detectors.population import Population
from detectors.config import DetectorConfig
from detectors.hashing import short_id
from detectors.identifiers import IdentifierState, apply_identifier
from detectors.dispositions import Decided, apply_disposition, confirmed_hits
from detectors.messages import (
    AccountChangeView,
    AccountMessage,
    CrossHit,
    DispositionView,
    FlowToken,
    IdentifierMessage,
    PaymentView,
)
from detectors.routing import route_disposition, route_event
from schemas import Alert, Disposition, InputEvent, Payment

DEVICE, PHONE = "device", "phone"


@dataclass(slots=True)
class AccountOutcome:
    state: AccountState
    alerts: list[Alert]
    forwards: list[IdentifierMessage]
    late: bool = False  # not applied: older than the lateness allows (dead-letter it)
    duplicate: bool = False  # already applied: nothing changed
    #: Messages for other accounts: tokens following forwarded money, hits found by tracing it or
    #: from an analyst's decision.
    sends: list[AccountMessage] = field(default_factory=list)
    #: An analyst's decision applied: what it was about, for the live quality metrics.
    decided: Decided | None = None
    #: An analyst's decision refused (dead-letter it): why.
    rejected: str | None = None


def apply_account(state: AccountState | None, msg: AccountMessage, config: DetectorConfig,
                  population: Population | None = None) -> AccountOutcome:
    """Apply one message to one account's state; returns the state, new alerts and forwards.

    ``population`` is the account's partition's (``Population.advance`` and ``touch`` already
    called for an own event); without one, every rule keeps its full weight.
    """
    runtime = config.runtime
    if type(msg) is DispositionView:
        return _apply_disposition(state, msg, runtime)
    weigh = _full_weight if population is None else population.weigher(runtime.rarity)
    if state is None:
        state = AccountState(msg.key)
    if type(msg) is CrossHit:
        return _apply_hit(state, msg, runtime)
    if type(msg) is FlowToken:
        return _apply_token(state, msg, runtime, weigh)
    time = msg.time
    if msg.event_id in state.seen:
        # Re-send the identifier uses: harmless there, and safe if the first sends were lost.
        return AccountOutcome(state, [], _forwards(state, msg), duplicate=True)
    if state.is_late(time, runtime.lateness):
        return AccountOutcome(state, [], [], late=True)
    state.learn_customer(msg.customer_id)
    if state.observed_since is None and population is not None and population.watched_for(time, runtime.baseline_watch):
        # First seen once the deployment had watched its partition for the warm-up: no payment
        # before, none missed, so none of its payees is established (a shell account woken up by
        # its buyer has no time to wait out).
        state.in_view_at = time
    forwards = _forwards(state, msg)
    state.remember(msg.event_id, time, runtime)
    if time > state.watermark:
        state.advance(time, runtime)
    sends: list[AccountMessage] = []
    if type(msg) is PaymentView:
        entry = state.add_payment(msg, runtime)
        if entry is not None and runtime.network.enabled:
            hits, sends = runtime.network.on_payment(state, entry, msg.method == "cash_in", weigh)
            for hit_id, hit in hits:
                state.put_hit(hit_id, hit)
        if entry is not None and state.decisions:
            sends = [*sends, *confirmed_hits(state, entry, runtime)]
    else:
        state.add_change(msg, runtime)
    _evaluate_from(state, time, runtime, weigh)
    if not state.hits:
        return AccountOutcome(state, [], forwards, sends=sends)
    alerts = runtime.typologies.walk(state, time)
    state.cap_hits(runtime)
    return AccountOutcome(state, alerts, forwards, sends=sends)


def _apply_hit(state: AccountState, hit: CrossHit, runtime) -> AccountOutcome:
    """Store a cross-key hit; a re-sent one replaces the stored copy (its evidence may have grown)."""
    if hit.time < state.watermark - runtime.keep_hits:
        return AccountOutcome(state, [], [], late=True)
    if not state.put_hit(hit.hit_id, (hit.time, hit.rule, hit.level, hit.reason, hit.evidence, hit.flows, hit.factor)):
        return AccountOutcome(state, [], [], duplicate=True)
    alerts = runtime.typologies.walk(state, hit.time)
    state.cap_hits(runtime)
    return AccountOutcome(state, alerts, [])


def _apply_disposition(state: AccountState | None, msg: DispositionView, runtime) -> AccountOutcome:
    """Apply an analyst's decision (see ``dispositions``); a refused one leaves the state as it was."""
    applied = apply_disposition(state, msg, runtime)
    if state is None:
        state = AccountState(msg.key)  # not stored: the worker writes only states it changed
    if applied.rejected is not None:
        return AccountOutcome(state, [], [], rejected=applied.rejected)
    if applied.decided is None:
        return AccountOutcome(state, [], [], duplicate=True)
    return AccountOutcome(state, [], [], sends=list(applied.sends), decided=applied.decided)


def _apply_token(state: AccountState, token: FlowToken, runtime, weigh) -> AccountOutcome:
    """Keep a token about money forwarded to this account, and judge what it makes true (see
    ``network``); its verdicts can be days older than the account's latest event."""
    if token.time < state.watermark - runtime.keep_hits or not runtime.network.enabled:
        return AccountOutcome(state, [], [], late=True)
    hits, sends = runtime.network.on_token(state, token, weigh)
    changed = [hit[0] for hit_id, hit in hits if state.put_hit(hit_id, hit)]
    if not changed and not sends:
        return AccountOutcome(state, [], [], duplicate=True)
    alerts = runtime.typologies.walk(state, min(changed)) if changed else []
    state.cap_hits(runtime)
    return AccountOutcome(state, alerts, [], sends=sends)


def _forwards(state: AccountState, msg: AccountMessage) -> list[IdentifierMessage]:
    """Identifier uses to send to the device/phone partitions (only once the customer is known)."""
    customer = state.customer_id
    if customer is None:
        return []
    forwards = []
    device = msg.device_id
    if device is not None and (type(msg) is PaymentView or msg.change != "login" or msg.success):
        forwards.append(IdentifierMessage(device, DEVICE, state.account_id, customer, msg.event_id, msg.time))
    if type(msg) is AccountChangeView and msg.phone_id is not None:
        forwards.append(IdentifierMessage(msg.phone_id, PHONE, state.account_id, customer, msg.event_id, msg.time))
    return forwards


def _full_weight(rule: str, time: int) -> float:
    """The weight factor of a rule's hit without a population: the rule's full weight."""
    return 1.0


def _evaluate_from(state: AccountState, time: int, runtime, weigh) -> None:
    """Judge the payment rules at every anchor payment from ``time`` on, as in event-time order.

    In order that is the new payment alone; an event arriving late (within the lateness) also
    re-judges the few later payments its presence may change. The account's own hits from ``time`` on
    are judged anew from scratch (dropped first), so the hits kept are those of the in-order run
    whatever the arrival order: a finding is kept only where no earlier hit of its rule in the last
    day says as much (``AccountState.says_as_much``), and which hits those are depends on the order.
    """
    ledger = state.ledger
    times = state.ledger_times
    begin = bisect_left(times, time)
    if begin == len(ledger):
        return
    if state.hits:
        state.drop_own_hits(time, runtime.own_rules)
    for index in range(begin, len(ledger)):
        anchor = ledger[index]
        end = index + 1 if index + 1 == len(times) or times[index + 1] != anchor[TIME] else bisect_right(times, anchor[TIME])
        now = anchor[TIME]
        flows = None  # the anchor's window flows, read once for all its findings (hits change, money does not)
        fired = state.fired.get(now // MS_PER_DAY, 0)
        for rule_id, evaluate, bit, max_level in (runtime.outflow_rules if anchor[OUTGOING] else runtime.inflow_rules):
            if fired & bit:
                # The rule fired today already. Where one of its hits in the day before says as much
                # as any finding of it could, a finding would be dropped and change nothing: judging
                # it is skipped (on a busy account it held on every payment, rescanning its window).
                if flows is None:
                    flows = state.window_flows(now, runtime)
                if state.said_before(rule_id, now, max_level, flows, runtime):
                    continue
            finding = evaluate(state, anchor, end)
            if finding is None:
                continue
            level, reason, evidence = finding
            if level > max_level:
                raise ValueError(f"rule {rule_id} found level {level} above its max_level {max_level}")
            state.note_fired(now, bit)
            if flows is None:
                flows = state.window_flows(now, runtime)
            hit = (now, rule_id, level, reason, evidence, flows, weigh(rule_id, now))
            if state.says_as_much(hit, runtime):
                continue
            hit_id = short_id(rule_id, anchor[EVENT_ID])
            if state.put_hit(hit_id, hit):
                for deriver in runtime.derivers:
                    for derived_id, derived in deriver.derive(state, hit):
                        state.note_fired(derived[0], runtime.rarity.bit(deriver.rule_id))
                        state.put_hit(derived_id, (*derived, weigh(deriver.rule_id, derived[0])))


@dataclass(slots=True)
class EngineStats:
    events: int = 0
    messages: int = 0
    late: int = 0
    duplicates: int = 0
    alerts: int = 0
    #: Payments in a currency without a configured rate, by currency (see ``money.Money``).
    unvalued: dict[str, int] = field(default_factory=dict)
    dispositions: int = 0  # analysts' decisions read
    #: Decisions applied, and those refused as (alert id, version, why).
    decided: list[Decided] = field(default_factory=list)
    rejected_dispositions: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass(slots=True)
class Engine:
    """Offline engine: the worker's whole flow in one process, states in dicts.

    ``partition_of`` maps an account id to the worker's account partition (the stream layer builds
    it from Kafka's partitioner and the partition count): each partition keeps its own population,
    as in the worker, so that alerts are the same. Without it, one population for all accounts.
    """

    config: DetectorConfig
    accounts: dict[str, AccountState] = field(default_factory=dict)
    identifiers: dict[tuple[str, str], IdentifierState] = field(default_factory=dict)
    stats: EngineStats = field(default_factory=EngineStats)
    partition_of: Callable[[str], int] = lambda account: 0
    populations: dict[int, Population] = field(default_factory=dict)
    #: Each account's partition's population, remembered (partition_of hashes the account id).
    _population_of: dict[str, Population] = field(default_factory=dict)

    def process(self, event: InputEvent | Disposition) -> list[Alert]:
        """Route one event (or an analyst's decision) and follow every message it causes until none
        is left (FIFO)."""
        config = self.config
        stats = self.stats
        if type(event) is Disposition:
            stats.dispositions += 1
            queue: deque = deque([route_disposition(event)])
        else:
            stats.events += 1
            if type(event) is Payment and event.currency not in config.runtime.money.rates:
                stats.unvalued[event.currency] = stats.unvalued.get(event.currency, 0) + 1
            queue = deque(route_event(event, config))
        alerts: list[Alert] = []
        accounts = self.accounts
        identifiers = self.identifiers
        while queue:
            msg = queue.popleft()
            stats.messages += 1
            if type(msg) is IdentifierMessage:
                key = (msg.kind, msg.key)
                outcome = apply_identifier(identifiers.get(key), msg, config)
                identifiers[key] = outcome.state
                queue.extend(outcome.hits)
                continue
            outcome = apply_account(accounts.get(msg.key), msg, config, self._population(msg))
            if outcome.rejected is not None:
                stats.rejected_dispositions.append((msg.alert_id, msg.version, outcome.rejected))
                continue
            accounts[msg.key] = outcome.state
            if outcome.decided is not None:
                stats.decided.append(outcome.decided)
            if outcome.late:
                stats.late += 1
            elif outcome.duplicate:
                stats.duplicates += 1
            if outcome.alerts:
                alerts.extend(outcome.alerts)
            queue.extend(outcome.forwards)
            queue.extend(outcome.sends)
        stats.alerts += len(alerts)
        return alerts

    def _population(self, msg: AccountMessage) -> Population:
        """The account's partition's population, advanced (and the account noted) for an own event."""
        population = self._population_of.get(msg.key)
        if population is None:
            partition = self.partition_of(msg.key)
            population = self.populations.get(partition)
            if population is None:
                population = self.populations[partition] = Population()
            self._population_of[msg.key] = population
        if type(msg) is PaymentView or type(msg) is AccountChangeView:
            runtime = self.config.runtime
            population.advance(msg.time, runtime.lateness, self.accounts.get, runtime.rarity)
            population.touch(msg.key, msg.time)
        return population

    def process_all(self, events: Iterable[InputEvent | Disposition]) -> Iterator[Alert]:
        for event in events:
            yield from self.process(event)
