"""Per-account state: what one account's recent past looks like, small and bounded.

Everything here is a function of the set of events applied (not of their arrival order): lists are
kept sorted by (event time, event id), sums are integers, first/last-seen times are min/max, and
entries age out by the account's watermark (its latest own event time). That is what makes redelivery
and reordering within the lateness harmless. Hard caps bound a flooded key; a cap drops the oldest.

Money in ``ledger`` is in reference minor units; day and month buckets hold whole reference units.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter, deque
from operator import itemgetter
from typing import TYPE_CHECKING

import orjson

from detectors.eventtime import MS_PER_DAY
from detectors.messages import AccountChangeView, PaymentView

if TYPE_CHECKING:
    from detectors.runtime import Runtime

FORMAT = 5  # 5: ``episodes`` replace the per-typology ``emitted`` (alert contract 2.0.0); 4 added ``in_view_at``
READS = (3, 4, FORMAT)  # an older state is read without what it lacks (its alerts' records are dropped)

# Ledger entry: (time, event_id, outgoing, amount_minor, counterparty, sale). ``sale``: a card
# purchase or sale (money.sale_methods): trade with a merchant, not a transfer between people.
TIME, EVENT_ID, OUTGOING, AMOUNT, COUNTERPARTY, SALE = range(6)
# Hit record (value of ``hits``): (time, rule_id, level, reason, evidence_event_ids, flows). ``flows``:
# the account's inflow and outflow (minor units) over each typology window up to the hit's time, as
# (in, out, in, out, ...) in ``Runtime.flow_windows`` order; () for a hit from another partition. An
# alert's amounts come from its hits, never from the state at the moment it is judged: a cross-key
# hit can arrive days late, when the state no longer knows the flows as of an earlier point.
H_TIME, H_RULE, H_LEVEL, H_REASON, H_EVIDENCE, H_FLOWS, H_FACTOR = range(7)
# ``factor``: how much of its rule's weight the hit carries, from how rare the rule is among the
# partition's accounts when the hit was found (see ``population``).
# A typology's record high in an alert episode (see ``typologies``): [score, severity rank, time,
# inflow, outflow, [[hit_id, weight], ...]] with the flows of the typology's window at that point.
E_SCORE, E_RANK, E_TIME, E_INFLOW, E_OUTFLOW, E_HITS = range(6)
# A version an alert episode published: [version, time of the point that reached it, its score].
P_VERSION, P_TIME, P_SCORE = range(3)
# An analyst's decision (see ``dispositions``): [time, alert_id, version, decision, reason_code,
# the score of the version decided on], sorted by time.
D_TIME, D_ALERT, D_VERSION, D_DECISION, D_REASON, D_SCORE = range(6)
# Counterparty (value of ``counterparties``): [first_seen, last_seen, flags, first_outgoing]
# Flags: the roles it has had
SENDER, BENEFICIARY = 1, 2
# Day bucket (value of ``days``): [inflow, outflow, new senders, new beneficiaries]
INFLOW, OUTFLOW, NEW_SENDERS, NEW_BENEFICIARIES = range(4)
DAYS_PER_PERIOD = 30  # "monthly" buckets are 30-day periods of event time
#: Days of ``fired`` kept: a partition closes a day soon after it ends (the lateness after).
FIRED_DAYS = 3
#: An account whose opening the feed showed within this long is young: its whole life is in view.
NEW_ACCOUNT_MS = 30 * MS_PER_DAY
SWEEP_DAYS = 7

Hit = tuple[int, str, int, str, tuple[str, ...], tuple[int, ...], float]

# Field readers for min()/map() over many records at C speed, where aging checks whether anything is
# old enough before it rebuilds and caps count or pick what to drop: a hit's time and rule, a
# counterparty's last payment, a token's time (network.T_TIME; network imports this module).
_hit_time = itemgetter(H_TIME)
_hit_rule = itemgetter(H_RULE)
_last_seen = itemgetter(1)  # of a counterparty record
_token_time = itemgetter(0)


class AccountState:
    """The state of one of the bank's own accounts; see the module docstring for the invariants."""

    __slots__ = (
        "account_id", "customer_id", "kyc_country", "kyc_at", "opened_at", "opened_event",
        "currency", "currency_at", "observed_since", "settled_at", "watermark", "dedupe_floor", "seen", "seen_order",
        "ledger", "ledger_times", "counterparties", "days", "active_days", "months",
        "controls", "accesses", "beneficiaries", "devices", "hits", "episodes", "decisions", "in_lots", "out_lots",
        "forwards", "tokens", "fired", "baseline_cache", "in_view_at",
    )

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.customer_id: str | None = None
        self.kyc_country: str | None = None
        self.kyc_at = -1
        self.opened_at: int | None = None
        self.opened_event: str | None = None
        self.currency: str | None = None  # the account's currency: that of the first payment applied
        self.currency_at = -1
        #: The earliest event time applied: how long this deployment has watched the account. An
        #: indicator measured against the account's own history says nothing before that is long enough.
        self.observed_since: int | None = None
        #: Start of the day on which the deployment had seen ``baseline_active_days`` days with
        #: payments of the account: from then on a counterparty met for the first time is new to it
        #: (see ``is_new``); before, merely unknown. None until then.
        self.settled_at: int | None = None
        #: Set when the deployment first saw the account after it had watched the account's partition
        #: for the warm-up (see ``engine.apply_account``): the account had no payment before, so none
        #: of its payees is established. Only pass-through reads it: tracing money still waits for
        #: the account's own history (``known_from``), since with a few payments seen every
        #: counterparty is new and chance "forwards" are many.
        self.in_view_at: int | None = None
        self.watermark = 0
        self.dedupe_floor = -1  # events at or before this time can no longer be proven new
        self.seen: dict[str, int] = {}
        self.seen_order: deque[str] = deque()
        self.ledger: list[tuple] = []
        self.ledger_times: list[int] = []
        self.counterparties: dict[str, list[int]] = {}  # key -> [first_seen, last_seen, flags]
        # day -> [inflow, outflow, new senders, new beneficiaries]: money in whole comparable units,
        # counterparties first seen that day in that role
        self.days: dict[int, list[int]] = {}
        self.active_days: list[int] = []  # sorted days with any payment, own transfers included
        self.months: dict[int, int] = {}  # 30-day period -> inflow, whole reference units
        self.controls: list[tuple] = []  # (time, event_id, kind, high)
        self.accesses: list[tuple] = []  # (time, event_id, country): logins and payment sessions
        self.beneficiaries: list[tuple] = []  # (time, event_id, counterparty)
        self.devices: dict[str, list[int]] = {}  # device -> [first_seen, last_seen]
        self.hits: dict[str, Hit] = {}
        # Alert episode (event time // episode length) -> ([[version, time reached, score], ...] in
        # time order, {typology: its record highs in time order, see E_SCORE}): what the account's
        # alerts have shown.
        self.episodes: dict[int, tuple[list[list[int]], dict[str, list]]] = {}
        self.decisions: list[list] = []  # analysts' decisions, see D_TIME
        # Money tracing (see ``network``): recent inflow and outflow lots with new counterparties,
        # the forwards found among them, and tokens about money forwarded to this account.
        self.in_lots: list[list] = []  # [party, first, last, amount, first_event, forwarded]
        self.out_lots: list[list] = []
        self.forwards: list[tuple] = []  # (time, event_id, sender, receiver, amount), sorted
        self.tokens: dict[str, tuple] = {}  # token id -> (time, event_id, sender, hops, amount, origin, path)
        #: Day -> bits of the own signals that fired that day (see ``population.Rarity``), for the
        #: partition's count when the day closes; the last few days only.
        self.fired: dict[int, int] = {}
        #: (rule, day) -> a rule's baseline from the days before: derived, never serialized. A day's
        #: history cannot change once the day is past the lateness, so a day's value holds all day.
        self.baseline_cache: dict[tuple[str, int], object] = {}

    # ---- dedupe, lateness, watermark -------------------------------------------------------

    def is_late(self, time: int, lateness: int) -> bool:
        return time < self.watermark - lateness or time <= self.dedupe_floor

    def remember(self, event_id: str, time: int, runtime: Runtime) -> None:
        """Record an applied event id; a flood beyond the cap raises the dedupe floor instead."""
        if self.observed_since is None or time < self.observed_since:
            self.observed_since = time
        self.seen[event_id] = time
        self.seen_order.append(event_id)
        if len(self.seen) > runtime.max_seen_ids:
            evicted = self.seen.pop(self.seen_order.popleft())
            if evicted > self.dedupe_floor:
                self.dedupe_floor = evicted

    def advance(self, time: int, runtime: Runtime) -> None:
        """Move the watermark forward and age out what no rule can look at any more."""
        old_day = self.watermark // MS_PER_DAY
        self.watermark = time
        horizon = time - runtime.keep_ids
        seen, order = self.seen, self.seen_order
        while order and seen[order[0]] < horizon:
            del seen[order.popleft()]
        times = self.ledger_times
        if times and times[0] < time - runtime.keep_ledger:
            cut = bisect_left(times, time - runtime.keep_ledger)
            del times[:cut]
            del self.ledger[:cut]
        _age_sorted(self.controls, time - runtime.keep_controls)
        _age_sorted(self.accesses, time - runtime.keep_accesses)
        _age_sorted(self.beneficiaries, time - runtime.keep_beneficiaries)
        if time // MS_PER_DAY != old_day:
            self._age_daily(time, old_day, runtime)

    def _age_daily(self, time: int, old_day: int, runtime: Runtime) -> None:
        day = time // MS_PER_DAY
        first_day = day - runtime.keep_days
        if self.active_days and self.active_days[0] < first_day:
            cut = bisect_left(self.active_days, first_day)
            for old in self.active_days[:cut]:
                del self.days[old]
            del self.active_days[:cut]
        if day // DAYS_PER_PERIOD != old_day // DAYS_PER_PERIOD:
            # periods only age out when a period boundary is crossed
            first_period = day // DAYS_PER_PERIOD - runtime.keep_periods
            for period in [p for p in self.months if p < first_period]:
                del self.months[period]
        if day // SWEEP_DAYS != old_day // SWEEP_DAYS:
            # Counterparties and devices are remembered for months: sweeping them weekly instead of
            # daily (memory = configured days + up to a week) keeps the per-day cost low.
            forget = time - runtime.keep_counterparties
            for key in [k for k, v in self.counterparties.items() if v[1] < forget]:
                del self.counterparties[key]
            for device in [d for d, v in self.devices.items() if v[1] < forget]:
                del self.devices[device]
        # Most account-days age nothing out of what follows: each part first checks, cheaply, that
        # something is old enough, and only then rebuilds.
        horizon = time - runtime.keep_hits
        hits = self.hits
        if hits and min(map(_hit_time, hits.values())) < horizon:
            for hit_id in [h for h, v in hits.items() if v[H_TIME] < horizon]:
                del hits[hit_id]
        if self.episodes:
            episode = runtime.typologies.episode
            for bucket in [b for b in self.episodes if (b + 1) * episode < horizon]:
                del self.episodes[bucket]
        if self.decisions and self.decisions[0][D_TIME] < time - runtime.dispositions.keep:
            self.decisions = [d for d in self.decisions if d[D_TIME] >= time - runtime.dispositions.keep]
        fired = self.fired
        if fired and min(fired) < day - FIRED_DAYS:
            for gone in [d for d in fired if d < day - FIRED_DAYS]:
                del fired[gone]
        if self.in_lots or self.out_lots or self.forwards or self.tokens:
            traced = time - runtime.network.horizon
            self.in_lots = _age_lots(self.in_lots, traced)
            self.out_lots = _age_lots(self.out_lots, traced)
            _age_sorted(self.forwards, traced)
            tokens = self.tokens
            if tokens and min(map(_token_time, tokens.values())) < traced:
                for event_id in [e for e, t in tokens.items() if t[0] < traced]:
                    del tokens[event_id]

    # ---- applying events -------------------------------------------------------------------

    def learn_customer(self, customer_id: str | None) -> None:
        if self.customer_id is None and customer_id is not None:
            self.customer_id = customer_id

    def add_payment(self, view: PaymentView, runtime: Runtime) -> tuple | None:
        """Apply a payment; returns its ledger entry, None for money between the holder's accounts."""
        time = view.time
        day = time // MS_PER_DAY
        bucket = self.days.get(day)
        if bucket is None:
            bucket = self.days[day] = [0, 0, 0, 0]
            insort(self.active_days, day)
            self._settle(runtime)
        if view.outgoing and view.device_id is not None:
            self._see_device(view.device_id, time, runtime)
        if view.outgoing and view.country is not None:
            _insert_capped(self.accesses, (time, view.event_id, view.country), runtime.max_accesses)
        holder = view.customer_id or self.customer_id
        if view.own_transfer or (holder is not None and view.counterparty_customer == holder):
            return None  # money between the holder's own accounts: activity, not a flow
        if self.currency is None:
            # The first payment applied names the account's currency; later ones must not change it,
            # as amounts in a currency without a rate are kept in its own units.
            self.currency, self.currency_at = view.currency, time
        amount = view.amount if self.comparable(view, runtime) else 0
        whole = round(amount / 100)
        if view.outgoing:
            bucket[1] += whole
        else:
            bucket[0] += whole
            period = day // DAYS_PER_PERIOD
            self.months[period] = self.months.get(period, 0) + whole
        sale = view.method in runtime.sale_methods
        entry = (time, view.event_id, view.outgoing, amount, view.counterparty, sale)
        ledger, times = self.ledger, self.ledger_times
        if not ledger or entry > ledger[-1]:
            ledger.append(entry)
            times.append(time)
        else:
            at = bisect_left(ledger, entry)
            ledger.insert(at, entry)
            times.insert(at, time)
        if len(ledger) > runtime.max_ledger:
            del ledger[0]
            del times[0]
        if not sale:  # a shop's customers and a customer's shops are not senders or beneficiaries
            self._see_counterparty(view.counterparty, time, view.outgoing, runtime)
        return entry

    def _settle(self, runtime: Runtime) -> None:
        """Note the day the account's history reached the warm-up's days with payments: the
        ``baseline_active_days``-th of its active days (an earlier day arriving late moves it)."""
        needed = runtime.baseline_active_days
        if len(self.active_days) >= needed and (self.settled_at is None or self.active_days[0] * MS_PER_DAY < self.settled_at):
            settled = self.active_days[needed - 1] * MS_PER_DAY if needed else 0
            if self.settled_at is None or settled < self.settled_at:
                self.settled_at = settled

    def known_from(self, runtime: Runtime) -> int | None:
        """From when a counterparty met for the first time is new to the account, not merely unknown:
        the earliest of the day the deployment had seen ``baseline_active_days`` days with payments
        of it (``settled_at``), ``baseline_watch_days`` after it first saw the account at all, and
        its opening when the feed showed that and the account is young (its whole life is in view).
        None: not yet (the warm-up). (Asked on most payments: a running minimum, no list.)"""
        known_from = self.settled_at
        if self.observed_since is not None:
            watched = self.observed_since + runtime.baseline_watch
            if known_from is None or watched < known_from:
                known_from = watched
        opened = self.opened_at
        if opened is not None and opened >= self.watermark - NEW_ACCOUNT_MS and (known_from is None or opened < known_from):
            known_from = opened
        return known_from if known_from is not None and known_from <= self.watermark else None

    def payees_known_from(self, runtime: Runtime) -> int | None:
        """From when a payee first paid is not established: ``known_from``, or from its first event
        for an account first seen once its partition was watched (``in_view_at``)."""
        known_from = self.known_from(runtime)
        if self.in_view_at is not None and (known_from is None or self.in_view_at < known_from):
            return self.in_view_at
        return known_from

    def is_new(self, party: str, time: int, within: int, runtime: Runtime) -> bool:
        """Whether ``party`` was first met at most ``within`` before ``time``, after the warm-up."""
        known_from = self.known_from(runtime)
        if known_from is None:
            return False
        seen = self.counterparties.get(party)
        first = time if seen is None else seen[0]
        return first >= known_from and first >= time - within

    def one_way(self, party: str, outgoing: bool) -> bool:
        """Whether money has only ever gone one way with ``party`` (its direction is ``outgoing``).
        Friends and family pay each other back; money passed through a mule does not come back."""
        seen = self.counterparties.get(party)
        return seen is None or seen[2] == (BENEFICIARY if outgoing else SENDER)

    def comparable(self, view: PaymentView, runtime: Runtime) -> bool:
        """Whether a payment's amount can be added to this account's: both valued by the config's
        rates, or in the account's own currency. Otherwise it counts (counterparties, how often) but
        adds no money; the engine reports such payments by currency."""
        return view.currency == self.currency or (view.valued and runtime.money.valued(self.currency))

    def add_change(self, view: AccountChangeView, runtime: Runtime) -> None:
        change = view.change
        time = view.time
        if change == "account_opened":
            if self.opened_at is None or time < self.opened_at:
                self.opened_at, self.opened_event = time, view.event_id
        if view.country is not None and change in ("account_opened", "kyc_updated") and time > self.kyc_at:
            self.kyc_country, self.kyc_at = view.country, time
        if change == "login":
            if not view.success:
                return
            if view.country is not None:
                _insert_capped(self.accesses, (time, view.event_id, view.country), runtime.max_accesses)
            if view.device_id is not None:
                if self._is_new_device(view.device_id, time, runtime.lateness):
                    self._add_control(time, view.event_id, "new_device_login", False, runtime)
                self._see_device(view.device_id, time, runtime)
        elif change == "device_bound":
            self._see_device(view.device_id, time, runtime)
            self._add_control(time, view.event_id, change, False, runtime)
        elif change == "phone_changed":
            self._add_control(time, view.event_id, change, view.registered is False, runtime)
        elif change == "beneficiary_added" and view.beneficiary is not None:
            _insert_capped(self.beneficiaries, (time, view.event_id, view.beneficiary), runtime.max_beneficiaries)
        elif change in runtime.control_changes:
            self._add_control(time, view.event_id, change, False, runtime)

    def _add_control(self, time: int, event_id: str, kind: str, high: bool, runtime: Runtime) -> None:
        if kind in runtime.control_changes:
            _insert_capped(self.controls, (time, event_id, kind, high), runtime.max_controls)

    def _is_new_device(self, device: str, time: int, lateness: int) -> bool:
        """First use of a device on an account that already had another one before it.

        Only sightings older than the lateness count, so a reordered earlier sighting cannot change
        the verdict after the fact.
        """
        settled = time - lateness
        known = self.devices.get(device)
        if known is not None and known[0] < settled:
            return False
        return any(first < settled for first, _ in self.devices.values())

    def _see_device(self, device: str, time: int, runtime: Runtime) -> None:
        seen = self.devices.get(device)
        if seen is None:
            if len(self.devices) >= runtime.max_devices:
                del self.devices[min(self.devices, key=lambda d: (self.devices[d][1], d))]
            self.devices[device] = [time, time]
        else:
            if time < seen[0]:
                seen[0] = time
            if time > seen[1]:
                seen[1] = time

    def _see_counterparty(self, key: str, time: int, outgoing: bool, runtime: Runtime) -> None:
        """Remember a counterparty; count it as new on the day of its first payment with the account,
        on the side of that payment (a new sender or a new beneficiary).

        The first payment is the earliest by event time, whatever the arrival order: an earlier one
        arriving late moves the count to its own day and side.
        """
        flag = BENEFICIARY if outgoing else SENDER
        seen = self.counterparties.get(key)
        if seen is None:
            if len(self.counterparties) >= runtime.max_counterparties:
                # The least recently seen goes (ties: the smallest key); at C speed, as an account
                # with many payers does this on nearly every payment.
                cps = self.counterparties
                del cps[min(zip(map(_last_seen, cps.values()), cps))[1]]
            self.counterparties[key] = [time, time, flag, int(outgoing)]
            self.days[time // MS_PER_DAY][NEW_SENDERS + int(outgoing)] += 1
            return
        if time < seen[0]:
            moved = self.days.get(seen[0] // MS_PER_DAY)
            if moved is not None:
                moved[NEW_SENDERS + seen[3]] -= 1
            self.days[time // MS_PER_DAY][NEW_SENDERS + int(outgoing)] += 1
            seen[0], seen[3] = time, int(outgoing)
        if time > seen[1]:
            seen[1] = time
        seen[2] |= flag

    def day_totals(self, first: int, stop: int, index: int) -> tuple[int, int]:
        """Sum of one field of the day buckets from day ``first`` to before ``stop``, and how many
        of those days had payments (only days with payments have buckets)."""
        active = self.active_days
        lo, hi = bisect_left(active, first), bisect_left(active, stop)
        days = self.days
        total = 0
        for i in range(lo, hi):
            total += days[active[i]][index]
        return total, hi - lo

    def new_counterparties(self, day: int, outgoing: bool, upto: int, end: int) -> int:
        """Counterparties first dealt with on ``day`` on one side, as of time ``upto`` (the ledger's
        entries up to index ``end``): the day's count less those first seen after ``upto``."""
        bucket = self.days.get(day)
        if bucket is None:
            return 0
        count = bucket[NEW_SENDERS + int(outgoing)]
        ledger = self.ledger
        known = self.counterparties
        for i in range(end, len(ledger)):
            entry = ledger[i]
            if entry[TIME] // MS_PER_DAY == day and entry[OUTGOING] is outgoing and not entry[SALE]:
                seen = known.get(entry[COUNTERPARTY])
                if seen is not None and seen[0] == entry[TIME]:
                    count -= 1
        return count

    def put_hit(self, hit_id: str, hit: Hit) -> bool:
        """Add or refresh a rule hit; False if it was already there unchanged (nothing to rescore).

        The caps wait for ``cap_hits``, after scoring: a cross-key hit can arrive after newer hits
        of its rule, and must be judged at its own time, as it was in order, before a cap drops it.
        """
        if self.hits.get(hit_id) == hit:
            return False
        self.hits[hit_id] = hit
        return True

    def drop_own_hits(self, since: int, own_rules: frozenset[str]) -> None:
        """Forget the hits of the account's own rules at or after ``since``: they are judged anew."""
        hits = self.hits
        for hit_id in [k for k, v in hits.items() if v[H_TIME] >= since and v[H_RULE] in own_rules]:
            del hits[hit_id]

    def says_as_much(self, hit: Hit, runtime: Runtime) -> bool:
        """Whether a hit of the same rule in the day before ``hit`` is at least as strong and names at
        least the same severity of money moved in every typology window.

        A rule that holds on every payment of an episode would otherwise store a hit per payment, and
        the caps would then drop the older ones that a cross-key hit arriving days late still needs to
        re-judge an earlier point exactly. Keeping only the hits that add something bounds them by
        the episode's escalations instead of its payments.
        """
        return self.said_before(hit[H_RULE], hit[H_TIME], hit[H_LEVEL], hit[H_FLOWS], runtime)

    def said_before(self, rule: str, time: int, level: int, flows: tuple[int, ...], runtime: Runtime) -> bool:
        """``says_as_much`` for a hit of ``rule`` at ``time`` with ``level`` and ``flows``, before the
        hit is built. What says as much as a hit of ``level`` also does for any lower level."""
        ranks = None  # the hit's own, only once another hit of its rule could say as much
        for other in self.hits.values():
            if other[H_RULE] == rule and time - MS_PER_DAY < other[H_TIME] <= time and other[H_LEVEL] >= level:
                if ranks is None:
                    ranks = runtime.scoring.flow_ranks(flows)
                if all(a >= b for a, b in zip(runtime.scoring.flow_ranks(other[H_FLOWS]), ranks)):
                    return True
        return False

    def latest_hit_time(self) -> int | None:
        """The time of the newest hit held, None without hits."""
        return max(map(_hit_time, self.hits.values()), default=None)

    def alerted_between(self, since: int, until: int) -> bool:
        """Whether any alert version of the account was reached at a point in [since, until)."""
        return any(since <= entry[P_TIME] < until for published, _ in self.episodes.values() for entry in published)

    def note_fired(self, time: int, bit: int) -> None:
        """Record that an own signal fired on ``time``'s day (for the partition's population)."""
        if bit:
            day = time // MS_PER_DAY
            self.fired[day] = self.fired.get(day, 0) | bit

    def cap_hits(self, runtime: Runtime) -> None:
        """Drop the oldest hits beyond the per-rule cap, then beyond the overall cap."""
        hits = self.hits
        if len(hits) <= min(runtime.max_hits_per_rule, runtime.max_hits):
            return
        per_rule = Counter(map(_hit_rule, hits.values()))  # at C speed: busy accounts get here on every event
        if len(hits) <= runtime.max_hits and max(per_rule.values()) <= runtime.max_hits_per_rule:
            return
        by_rule: dict[str, list[tuple[int, str]]] = {}
        for hit_id, hit in hits.items():
            by_rule.setdefault(hit[H_RULE], []).append((hit[H_TIME], hit_id))
        for held in by_rule.values():
            if len(held) > runtime.max_hits_per_rule:
                held.sort()
                for _, hit_id in held[: len(held) - runtime.max_hits_per_rule]:
                    del hits[hit_id]
        if len(hits) > runtime.max_hits:
            for hit_id in sorted(hits, key=lambda k: (hits[k][H_TIME], k))[: len(hits) - runtime.max_hits]:
                del hits[hit_id]

    # ---- queries used by rules and scoring -------------------------------------------------

    def window(self, start: int, end: int) -> int:
        """Index of the first ledger entry at or after ``start`` (searching below ``end``)."""
        return bisect_left(self.ledger_times, start, 0, end)

    def upto(self, time: int) -> int:
        """End index (exclusive) of ledger entries at or before ``time``."""
        return bisect_right(self.ledger_times, time)

    def flows(self, start: int, end: int, runtime: Runtime) -> tuple[int, int]:
        """Inflow and outflow (minor units) from ``start`` to ``end``, whole days before end's day.

        The end's own day comes from the ledger (exact as of ``end``) while the ledger still holds
        it, else from the day bucket.
        """
        inflow, outflow, stop = self._end_day(end, runtime)
        active, days = self.active_days, self.days
        for i in range(bisect_left(active, start // MS_PER_DAY), bisect_left(active, stop)):
            bucket = days[active[i]]
            inflow += bucket[INFLOW] * 100
            outflow += bucket[OUTFLOW] * 100
        return inflow, outflow

    def _end_day(self, end: int, runtime: Runtime) -> tuple[int, int, int]:
        """For ``flows``: the end's own day read from the ledger as of ``end`` while the ledger still
        holds it, as (inflow, outflow, first day left to the buckets); else (0, 0, the day after)."""
        last_day = end // MS_PER_DAY
        day_start = last_day * MS_PER_DAY
        if day_start < self.watermark - runtime.keep_ledger:
            return 0, 0, last_day + 1
        inflow = outflow = 0
        times = self.ledger_times
        upto = bisect_right(times, end)
        for entry in self.ledger[bisect_left(times, day_start, 0, upto):upto]:
            if entry[OUTGOING]:
                outflow += entry[AMOUNT]
            else:
                inflow += entry[AMOUNT]
        return inflow, outflow, last_day

    def cache_baseline(self, key: tuple[str, int], value: object) -> None:
        """Keep a rule's baseline for a day, forgetting those of other days (keys hold one day)."""
        cache = self.baseline_cache
        if cache and next(iter(cache))[1] != key[1]:
            cache.clear()
        cache[key] = value

    def window_flows(self, time: int, runtime: Runtime) -> tuple[int, ...]:
        """Inflow and outflow over each typology window up to ``time``: what a hit carries.

        ``flows`` for each window, computed at once: the windows all end at ``time`` (the ledger's
        part is read once) and are nested, shortest first, so each adds the day buckets before the
        previous one's to its sums.
        """
        inflow, outflow, stop = self._end_day(time, runtime)
        active, days = self.active_days, self.days
        i = bisect_left(active, stop)
        flows: list[int] = []
        for window in runtime.flow_windows:
            first = (time - window) // MS_PER_DAY
            while i and active[i - 1] >= first:
                i -= 1
                bucket = days[active[i]]
                inflow += bucket[INFLOW] * 100
                outflow += bucket[OUTFLOW] * 100
            flows += (inflow, outflow)
        return tuple(flows)

    # ---- bytes -----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Canonical bytes: the same content always gives the same bytes, whatever the history."""
        return orjson.dumps([
            FORMAT, self.account_id, self.customer_id, self.kyc_country, self.kyc_at, self.opened_at,
            self.opened_event, self.currency, self.currency_at, self.observed_since, self.settled_at, self.watermark,
            self.dedupe_floor,
            sorted([t, e] for e, t in self.seen.items()),
            self.ledger,
            sorted([k, *v] for k, v in self.counterparties.items()),
            [[d, *self.days[d]] for d in self.active_days],
            sorted(self.months.items()),
            self.controls, self.accesses, self.beneficiaries,
            sorted([k, *v] for k, v in self.devices.items()),
            sorted([v[H_TIME], k, *v[1:]] for k, v in self.hits.items()),
            sorted([bucket, published, sorted([name, records] for name, records in best.items())]
                   for bucket, (published, best) in self.episodes.items()),
            sorted(self.in_lots), sorted(self.out_lots), self.forwards,
            sorted([k, *v] for k, v in self.tokens.items()),
            sorted(self.fired.items()), self.in_view_at, self.decisions,
        ])

    @classmethod
    def from_bytes(cls, data: bytes) -> AccountState:
        (fmt, account_id, customer_id, kyc_country, kyc_at, opened_at, opened_event, currency,
         currency_at, observed_since, settled_at, watermark, dedupe_floor, seen, ledger, counterparties, days, months, controls,
         accesses, beneficiaries, devices, hits, episodes, in_lots, out_lots, forwards, tokens, fired, *rest) = orjson.loads(data)
        if fmt not in READS:
            raise ValueError(f"account state format {fmt} is not one of {', '.join(map(str, READS))}")
        state = cls(account_id)
        state.customer_id, state.kyc_country, state.kyc_at = customer_id, kyc_country, kyc_at
        state.opened_at, state.opened_event = opened_at, opened_event
        state.currency, state.currency_at, state.observed_since = currency, currency_at, observed_since
        state.settled_at = settled_at
        state.watermark, state.dedupe_floor = watermark, dedupe_floor
        for time, event_id in seen:
            state.seen[event_id] = time
            state.seen_order.append(event_id)
        state.ledger = [tuple(e) for e in ledger]
        state.ledger_times = [e[TIME] for e in state.ledger]
        state.counterparties = {k: rest for k, *rest in counterparties}
        state.days = {d: rest for d, *rest in days}
        state.active_days = [d for d, *_ in days]
        state.months = {p: v for p, v in months}
        state.controls = [tuple(c) for c in controls]
        state.accesses = [tuple(a) for a in accesses]
        state.beneficiaries = [tuple(b) for b in beneficiaries]
        state.devices = {d: [first, last] for d, first, last in devices}
        state.hits = {k: (t, rule, level, reason, tuple(ev), tuple(flows), factor)
                      for t, k, rule, level, reason, ev, flows, factor in hits}
        if fmt == FORMAT:
            state.episodes = {bucket: (published, {name: records for name, records in best})
                              for bucket, published, best in episodes}
        state.in_lots, state.out_lots = in_lots, out_lots
        state.forwards = [tuple(f) for f in forwards]
        state.tokens = {k: (t, e, s, h, a, o, tuple(p)) for k, t, e, s, h, a, o, p in tokens}
        state.fired = {d: bits for d, bits in fired}
        if fmt >= 4:
            state.in_view_at = rest[0]
        if fmt == FORMAT:
            state.decisions = rest[1]
        return state


def shown_at(best: dict[str, list[list]], now: int) -> dict[str, list]:
    """Each typology's best point at or before ``now`` (its latest record high by then)."""
    shown = {}
    for name, records in best.items():
        at = bisect_right(records, now, key=_entry_time)
        if at:
            shown[name] = records[at - 1]
    return shown


def add_record(records: list[list], entry: list, cap: int) -> None:
    """Insert a new record high at its time and drop the later records it beats: the list stays the
    typology's record highs in time order, whatever order the points were judged in (a late hit
    shows an earlier point's true value, and the records become those of the in-order run)."""
    at = bisect_right(records, entry[E_TIME], key=_entry_time)
    value = entry_value(entry)
    later = [r for r in records[at:] if entry_value(r) > value]
    records[at:] = [entry, *later]
    if len(records) > cap:
        del records[0]


def _entry_time(entry: list) -> int:
    return entry[E_TIME]


def entry_value(entry: list) -> int:
    """What a typology's best point is worth in an episode's version (see ``typologies``): its
    severity rank (low 1 .. critical 4), so a rise of it, or a typology joining the sum, raises the
    version. Not its score: the score of a verdict traced across partitions depends on the order
    its messages arrive in, and the worker must publish the versions replay does."""
    return entry[E_RANK]


def _age_sorted(entries: list[tuple], horizon: int) -> None:
    """Drop the entries older than ``horizon`` from a list sorted by time (its first field)."""
    if entries and entries[0][0] < horizon:
        cut = bisect_left(entries, (horizon,))
        del entries[:cut]


def _insert_capped(entries: list[tuple], entry: tuple, cap: int) -> None:
    """Insert keeping (time, event id) order, ignore an exact repeat, drop the oldest over the cap."""
    at = bisect_left(entries, entry)
    if at < len(entries) and entries[at] == entry:
        return
    entries.insert(at, entry)
    if len(entries) > cap:
        del entries[0]


def _age_lots(lots: list[list], horizon: int) -> list[list]:
    """The money-tracing lots (see ``network``) whose last payment (``network.L_LAST``; network
    imports this module) is not older than ``horizon``: the same list when none is (lots are few and
    rarely expire; a loop that stops at the first is cheaper for them than min()), else a new one in
    the same order."""
    for lot in lots:
        if lot[2] < horizon:
            return [lot for lot in lots if lot[2] >= horizon]
    return lots
