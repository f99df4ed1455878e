"""Money traced through accounts: forwards, the tokens that follow forwarded money, what they show.

Each member of a laundering cycle, stack or scatter-gather looks mild alone; the money's path between
them does not. An account *forwards* when money it received from one counterparty leaves to another
within days, nearly whole (an intermediary keeps a margin): an outflow "lot" (the payments to one
counterparty within the lag) matched to an inflow lot from another. When the receiver of a forward is
one of the bank's own accounts, ``FlowToken`` s tell it where the money came from: one whose origin
is the forwarder's own source, and one more for each token the forwarder itself held about that
money (its path extended by the forwarder). From the tokens it holds, an account sees:

* ``chain``: it forwarded money that had already been forwarded to it (two intermediaries in a row;
  the one before it gets ``chain_up``);
* ``cycle``: money came back along a path it is on (every own account on the path gets ``cycle``);
* ``scatter_gather``: money from one origin reached it through two or more intermediaries (they and
  the origin get ``scatter_gather`` too);
* ``collect``: it received forwarded money from two or more accounts within the window (each of them
  gets ``collect_up``);

Tokens never change and every verdict only needs some tokens to be there, so verdicts only ever
grow as tokens arrive: a token that arrives late (the worker delivers them through Kafka, days of
event time after the payments when a backlog is replayed) is judged together with those before it,
and re-judges those after it, giving the hits the in-order engine gave, with the same ids.
"""

from __future__ import annotations

from bisect import insort
from operator import itemgetter
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from detectors.account_state import AccountState, Hit
from detectors.config_types import Count, Days, Fraction, RuleConfig
from detectors.eventtime import days, describe_duration
from detectors.hashing import short_id
from detectors.messages import CrossHit, FlowToken
from detectors.rules.base import HIGH, NORMAL

if TYPE_CHECKING:
    from detectors.runtime import Runtime

# Lot: [party, first, last, amount, first_event, forwarded]
L_PARTY, L_FIRST, L_LAST, L_AMOUNT, L_EVENT, L_FORWARDED = range(6)
# Forward: (time, event_id, sender, receiver, amount)
F_TIME, F_EVENT, F_SENDER, F_RECEIVER, F_AMOUNT = range(5)
# Token held (value of ``AccountState.tokens``, keyed by token id):
# (time, event_id, sender, hops, amount, origin, path)
T_TIME, T_EVENT, T_SENDER, T_HOPS, T_AMOUNT, T_ORIGIN, T_PATH = range(7)
#: A lot's (last payment, party): the order in which a full list of lots drops one (C-speed key).
_LOT_AGE = itemgetter(L_LAST, L_PARTY)


class NetworkConfig(RuleConfig):
    #: Money counts as forwarded when it leaves within this many days of arriving ...
    lag_days: Days
    #: ... and the amount passed on is this share of the amount received (intermediaries keep a cut).
    min_ratio: Fraction
    max_ratio: Annotated[float, Field(ge=1.0, le=2.0)]
    #: Only money from, and to, counterparties new to the account (first met this recently, after the
    #: warm-up: engine.baseline_active_days) with whom money has only gone one way, or cash paid in,
    #: is traced: a salary passed on to the landlord of years, or friends paying each other back for
    #: evenings out, are not forwards.
    new_counterparty_days: Days
    #: Tokens and forwards older than this are forgotten; a gather or collection must happen within it.
    window_days: Days
    #: Money is followed through at most this many forwarding accounts (a path's length).
    max_hops: Count
    #: Caps on what one account keeps (oldest dropped first): only a flood of traced money reaches them.
    max_lots: Count
    max_forwards: Count
    max_tokens: Count
    #: A collection from this many forwarding accounts or more is the verdicts' strong form, and the
    #: strong form of every traced verdict (cycles and scatter-gathers are always strong) weighs this
    #: many times its typology weight: money gathered from three intermediaries is a fan-in of
    #: laundered money, not two acquaintances passing something on.
    strong_collect_senders: Annotated[int, Field(ge=2, le=50)]
    high_weight_factor: Annotated[float, Field(ge=1.0, le=5.0)]


class Network:
    """Money tracing, with the config as ready-to-use integers."""

    def __init__(self, config: NetworkConfig, runtime: Runtime) -> None:
        self.enabled = config.enabled
        self.lag = days(config.lag_days)
        self.min_ratio = config.min_ratio
        self.max_ratio = config.max_ratio
        self.new_within = days(config.new_counterparty_days)
        self.window = days(config.window_days)
        self.max_hops = config.max_hops
        self.max_lots = config.max_lots
        self.max_forwards = config.max_forwards
        self.max_tokens = config.max_tokens
        self.strong_collect_senders = config.strong_collect_senders
        self.runtime = runtime

    @property
    def horizon(self) -> int:
        """How far back lots, forwards and tokens can still matter."""
        return self.window + self.lag

    # ---- own payments ---------------------------------------------------------------------------

    def on_payment(self, state: AccountState, entry: tuple, cash_in: bool, weigh) -> tuple[list, list]:
        """Note a payment in the lots; for an outflow, record a forward if it passes money on.

        Returns (hits for this account, messages for other accounts). ``weigh(rule, time)`` gives a
        hit's weight factor (the partition's population).
        """
        time, event_id, outgoing, amount, party, sale = entry
        if sale or amount <= 0:
            return [], []
        if not (cash_in and not outgoing) and not (state.is_new(party, time, self.new_within, self.runtime)
                                                  and state.one_way(party, outgoing)):
            return [], []
        lots = state.out_lots if outgoing else state.in_lots
        lag = self.lag
        for lot in lots:  # the first of the party's lots within the lag, if any (a loop: no generator per payment)
            if lot[L_PARTY] == party and time - lot[L_LAST] <= lag:
                break
        else:
            lot = [party, time, time, 0, event_id, False]
            lots.append(lot)
            if len(lots) > self.max_lots:
                lots.sort(key=_LOT_AGE)
                del lots[0]
        lot[L_LAST] = max(lot[L_LAST], time)
        lot[L_FIRST] = min(lot[L_FIRST], time)
        lot[L_AMOUNT] += amount
        if not outgoing:
            return [], []
        hits: list = []
        messages: list = []
        for out_lot, source in self._matches(state, lot, time):
            out_lot[L_FORWARDED] = True
            state.note_fired(time, self.runtime.rarity.bit("forwarding"))
            forward = (out_lot[L_LAST], out_lot[L_EVENT], source[L_PARTY], out_lot[L_PARTY], out_lot[L_AMOUNT])
            insort(state.forwards, forward)
            if len(state.forwards) > self.max_forwards:
                del state.forwards[0]
            upstream = [(token_id, t) for token_id, t in state.tokens.items() if self._carried(t, forward)]
            h, m = self._forwarded(state, forward, upstream, True, weigh)
            hits += h
            messages += m
        return hits, messages

    def _matches(self, state: AccountState, out_lot: list, time: int) -> list[tuple[list, list]]:
        """(outflow lot, inflow lot) pairs this outflow makes forwards of, if it does:

        * one to one: the outflow lot passes on an inflow lot from another party (the latest such);
        * gathered: it passes on the sum of every inflow lot from other parties within the lag (money
          collected from several, sent on in one go);
        * scattered: together with the other outflow lots begun since, it passes on an inflow lot
          (money received once, split between several new beneficiaries).

        Sums are over every lot in the window, never a chosen subset: a subset of a busy account's
        payments can be made to match anything. An outflow lot forwards at most once.
        """
        if out_lot[L_FORWARDED] or not state.in_lots:
            return []
        party, amount = out_lot[L_PARTY], out_lot[L_AMOUNT]
        # Money counts as passed on when the outflow *began* within the lag of the inflow: its later
        # instalments (a sum sent in two parts) belong to it, however long they took.
        began = out_lot[L_FIRST]
        sources = [lot for lot in state.in_lots if lot[L_PARTY] != party and lot[L_FIRST] < time
                   and began - lot[L_LAST] <= self.lag and lot[L_AMOUNT] > 0]
        if not sources:
            return []
        best = None
        for lot in sources:
            if self._ratio_ok(amount, lot[L_AMOUNT]) and (best is None or (lot[L_LAST], lot[L_PARTY]) > (best[L_LAST], best[L_PARTY])):
                best = lot
        if best is not None:
            return [(out_lot, best)]
        if len(sources) >= 2 and self._ratio_ok(amount, sum(lot[L_AMOUNT] for lot in sources)):
            return [(out_lot, lot) for lot in sorted(sources)]
        if len(state.out_lots) < 2:
            return []
        # Only money that came before this outflow began can be scattered by it.
        scattered = [lot for lot in sources if lot[L_FIRST] < began]
        lag = self.lag
        for lot in sorted(scattered, key=lambda x: (-x[L_LAST], x[L_PARTY])):
            first, last, source = lot[L_FIRST], lot[L_LAST], lot[L_PARTY]
            group = [o for o in state.out_lots if first < o[L_FIRST] and o[L_FIRST] - last <= lag and o[L_PARTY] != source]
            if len(group) >= 2 and self._ratio_ok(sum([o[L_AMOUNT] for o in group]), lot[L_AMOUNT]):
                return [(o, lot) for o in sorted(group) if not o[L_FORWARDED]]
        return []

    def _ratio_ok(self, passed_on: int, received: int) -> bool:
        return received > 0 and self.min_ratio <= passed_on / received <= self.max_ratio

    def _carried(self, token: tuple, forward: tuple) -> bool:
        """Whether a held token is about money the forward passed on: same sender, within the lag."""
        return token[T_SENDER] == forward[F_SENDER] and forward[F_TIME] - self.lag <= token[T_TIME] <= forward[F_TIME]

    def _forwarded(self, state: AccountState, forward: tuple, new: list, base: bool, weigh) -> tuple[list, list]:
        """Hits and messages of one forward: the base token (when ``base``), one token onwards per
        ``new`` upstream token, and, once any upstream token is held, a ``chain`` (and ``chain_up``
        for its sender). The chain's content names no count of tokens, so it is the same whichever
        of them arrived first."""
        account = state.account_id
        time, event_id, sender, receiver, amount = forward
        hits: list = []
        messages: list = []
        own_receiver = _own(receiver)
        if base and own_receiver:
            messages.append(FlowToken(receiver, event_id, time, short_id(event_id, sender), account, 1, amount,
                                      sender, (account,)))
        for token_id, token in new:
            if own_receiver and token[T_HOPS] < self.max_hops and account not in token[T_PATH]:
                messages.append(FlowToken(receiver, event_id, time, short_id(event_id, token_id), account,
                                          token[T_HOPS] + 1, amount, token[T_ORIGIN], (*token[T_PATH], account)))
        if new:
            key = f"{event_id}:{sender}"
            hits.append(self._own_hit(state, "chain", time, key, NORMAL,
                                      f"passed on money that {sender} had itself passed on", (event_id,), amount,
                                      weigh))
            if _own(sender):
                messages.append(self._cross_hit(sender, "chain_up", time, key, event_id, account, NORMAL,
                                                f"money it passed on to {account} was passed on again", amount,
                                                weigh))
        return hits, messages

    # ---- tokens from other accounts -------------------------------------------------------------

    def on_token(self, state: AccountState, token: FlowToken, weigh) -> tuple[list, list]:
        """Keep a token and judge what it makes true, late or not (repeats change nothing)."""
        if token.token_id in state.tokens:
            return [], []
        record = (token.time, token.event_id, token.sender, token.hops, token.amount, token.origin, token.path)
        state.tokens[token.token_id] = record
        if len(state.tokens) > self.max_tokens:
            del state.tokens[min(state.tokens, key=lambda k: (state.tokens[k][T_TIME], k))]
        hits: list = []
        messages: list = []
        account = state.account_id
        if token.origin == account or account in token.path:
            hits.append(self._own_hit(state, "cycle", token.time, token.token_id, HIGH,
                                      f"money it passed on came back through {len(token.path)} accounts",
                                      (token.event_id,), token.amount, weigh))
            for member in dict.fromkeys(m for m in (token.origin, *token.path) if m != account and _own(m)):
                messages.append(self._cross_hit(member, "cycle", token.time, token.token_id, token.event_id, account,
                                                HIGH, f"on a path that brought money back to {account}", token.amount,
                                                weigh))
        # Gathers and collections are judged per token from its partners before it: the new token's
        # own, and those of the later tokens it can now be a partner of.
        for token_id, held in list(state.tokens.items()):
            if token.time <= held[T_TIME] <= token.time + self.window:
                h, m = self._gathered(state, token_id, held, weigh)
                hits += h
                messages += m
        # Forwards this account made of money that came with this token: chains, and tokens onwards.
        for forward in state.forwards:
            if self._carried(record, forward):
                h, m = self._forwarded(state, forward, [(token.token_id, record)], False, weigh)
                hits += h
                messages += m
        return hits, messages

    def _gathered(self, state: AccountState, token_id: str, token: tuple, weigh) -> tuple[list, list]:
        """Collection and scatter-gather verdicts for one held token, from the tokens before it."""
        account = state.account_id
        partners = [(k, t) for k, t in state.tokens.items() if k != token_id and t[T_SENDER] != token[T_SENDER]
                    and token[T_TIME] - self.window <= t[T_TIME] <= token[T_TIME]]
        earlier = [t for _, t in partners]
        if not earlier:
            return [], []
        senders = len({t[T_SENDER] for t in earlier}) + 1
        level = HIGH if senders >= self.strong_collect_senders else NORMAL
        hits = [self._own_hit(state, "collect", token[T_TIME], token_id, level,
                              f"received money passed on by {senders} accounts within"
                              f" {describe_duration(token[T_TIME] - min(t[T_TIME] for t in earlier))}",
                              (token[T_EVENT],), token[T_AMOUNT], weigh)]
        # Every account whose forwarded money was collected here hears of it, keyed by its own token and
        # this one: a token's partners only grow as tokens arrive, so each key's last message is its
        # strongest, and the set of keys is the same whichever token came last.
        messages = [self._cross_hit(held[T_SENDER], "collect_up", held[T_TIME], f"{held_id}:{token_id}", held[T_EVENT],
                                    account, level,
                                    f"money it passed on to {account} was collected there with money others passed on",
                                    held[T_AMOUNT], weigh)
                    for held_id, held in ((token_id, token), *partners) if _own(held[T_SENDER])]
        via = sorted({t[T_SENDER] for t in earlier if t[T_ORIGIN] == token[T_ORIGIN]})
        if via:
            origin = token[T_ORIGIN]
            hits.append(self._own_hit(state, "scatter_gather", token[T_TIME], token_id, HIGH,
                                      f"money from one origin arrived through {len(via) + 1} accounts",
                                      (token[T_EVENT],), token[T_AMOUNT], weigh))
            for member in (origin, token[T_SENDER], *via):
                if _own(member) and member != account:
                    messages.append(self._cross_hit(
                        member, "scatter_gather", token[T_TIME], token_id, token[T_EVENT], account, NORMAL,
                        f"on one of several paths that brought money from one origin to {account}", token[T_AMOUNT],
                        weigh))
        return hits, messages

    # ---- hits ---------------------------------------------------------------------------------

    def _flows(self, amount: int) -> tuple[int, ...]:
        """The money a traced hit stands for, in every typology window (see account_state.H_FLOWS)."""
        return (amount, amount) * len(self.runtime.flow_windows)

    def _own_hit(self, state: AccountState, rule: str, time: int, key: str, level: int, reason: str,
                 evidence: tuple[str, ...], amount: int, weigh) -> tuple[str, Hit]:
        return short_id(rule, state.account_id, key), (time, rule, level, reason[:500], evidence, self._flows(amount),
                                                       weigh(rule, time))

    def _cross_hit(self, target: str, rule: str, time: int, key: str, event_id: str, source: str, level: int,
                   reason: str, amount: int, weigh) -> CrossHit:
        """A hit for another account (``target``), about payment ``event_id``, found by ``source`` and
        weighed with ``source``'s partition's population."""
        return CrossHit(target, event_id, time, short_id(rule, target, source, key), rule, level, reason[:500],
                        (event_id,), self._flows(amount), weigh(rule, time))


def _own(party: str) -> bool:
    """The bank's own account (another bank's is keyed ``bank|account``)."""
    return "|" not in party
