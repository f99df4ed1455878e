"""A seeded corpus of hostile input messages, built by breaking real events of the simulated bank.

Every message of ``bad_corpus`` must be refused by the worker's edge validation
(``stream.decoding.decode_event``); the test checks that offline before it sends anything, so a
generator bug cannot silently turn a "bad" message into a valid event.

``duplicates`` are different: an event id reused with other content is a *valid* event per schema.
Documented behaviour: the detectors dedupe by event id and the first application wins, so such a
re-send is not a dead letter and changes no alert (it is applied as a duplicate: no state change).
"""

from __future__ import annotations

import random

import orjson

CATEGORIES = (
    "random_bytes", "truncated_json", "nested_json", "huge_string", "wrong_type", "nan_infinity",
    "far_time", "bad_amount", "unicode_id", "oversize",
)

_UNICODE_TRICKS = (
    "\u0410",        # Cyrillic capital A, looks like Latin A
    "\u200b",        # zero-width space
    "\u202e",        # right-to-left override
    "\uff10",        # fullwidth digit zero
    "\u0000",        # NUL
    "\ufeff",        # byte order mark
    "\u0301",        # combining acute accent
    "\U0001f4b8",    # emoji
    "\u00a0",        # no-break space
    "\u2024",        # one dot leader, looks like "."
)
_FAR_TIMES = (
    "9999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2200-06-01T00:00:00+00:00", "1969-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z", "1900-01-01T00:00:00Z", "2026-01-01T00:00:00", "+10000-01-01T00:00:00Z",
    "2026-13-45T25:61:61Z", "",
)
_BAD_AMOUNTS = (
    "1e16", "1000000000000000.0001", "0.00001", "0", "-0.01", "1e-30", "99999999999999999999999", "1e400",
    "0E-10", "-1",
)
_NUMBER_AMOUNTS = (1e308, -5, 0, 1e-12, 10**30)
_WRONG_TYPES = ([1], {"x": 1}, True, None, 12, 1.5, "", "not an id")


def _mutate(event: dict, rng: random.Random, path: tuple[str, ...], value) -> dict:
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return event


def _id_path(event: dict, rng: random.Random) -> tuple[str, ...]:
    if event["type"] == "payment":
        return rng.choice([("event_id",), ("debtor", "account_id"), ("creditor", "account_id")])
    return rng.choice([("event_id",), ("account_id",)])


def _one(category: str, line: bytes, rng: random.Random) -> bytes:
    event = orjson.loads(line)
    if category == "random_bytes":
        return rng.randbytes(rng.randint(1, 300))
    if category == "truncated_json":
        return line[: rng.randint(1, len(line) - 1)]
    if category == "nested_json":
        depth = rng.choice([64, 256, 1_000, 5_000]) if rng.random() > 0.01 else 100_000
        opener, closer = rng.choice([('{"a":', "}"), ("[", "]")])
        inner = opener * depth + "1" + closer * depth * rng.choice([1, 1, 0])
        return ('{"type":"payment","event_id":"n1","debtor":' + inner + "}").encode()
    if category == "huge_string":
        size = rng.choice([129, 300, 1_000, 5_000, 20_000]) if rng.random() > 0.01 else 300_000
        path = rng.choice([_id_path(event, rng), ("type",), ("currency",), ("event_time",)])
        return orjson.dumps(_mutate(event, rng, path, "A" * size))
    if category == "wrong_type":
        keys = [("event_time",), ("event_id",), ("type",)]
        keys += [("amount",), ("debtor",), ("debtor", "account_id")] if event["type"] == "payment" else [("account_id",)]
        value = rng.choice(_WRONG_TYPES)
        path = rng.choice(keys)
        if path == ("type",) and isinstance(value, str):
            value = 7
        if path == ("amount",) and type(value) in (int, float):
            value = {"value": value}  # a JSON number is a valid amount
        return orjson.dumps(_mutate(event, rng, path, value))
    if category == "nan_infinity":
        literal = rng.choice(["NaN", "Infinity", "-Infinity", '"NaN"', '"Infinity"', '"-inf"', "1e999"])
        if event["type"] == "payment":
            text = line.decode().replace(f'"amount":"{event["amount"]}"', f'"amount":{literal}')
        else:
            text = line.decode().replace(f'"event_time":"{event["event_time"]}"', f'"event_time":{literal}')
        return text.encode()
    if category == "far_time":
        return orjson.dumps(_mutate(event, rng, ("event_time",), rng.choice(_FAR_TIMES)))
    if category == "bad_amount":
        if event["type"] != "payment":
            return orjson.dumps(_mutate(event, rng, ("type",), "payment"))  # a payment without the payment fields
        amount = rng.choice(_BAD_AMOUNTS + _NUMBER_AMOUNTS)
        if isinstance(amount, int) and amount > 2**63:
            return line.decode().replace(f'"amount":"{event["amount"]}"', f'"amount":{amount}').encode()
        return orjson.dumps(_mutate(event, rng, ("amount",), amount))
    if category == "unicode_id":
        path = _id_path(event, rng)
        target = event
        for key in path[:-1]:
            target = target[key]
        original = target[path[-1]]
        spot = rng.randint(0, len(original))
        trick = rng.choice(_UNICODE_TRICKS)
        return orjson.dumps(_mutate(event, rng, path, original[:spot] + trick + original[spot:]))
    if category == "oversize":
        # Just over the worker's 1,000,000-byte limit, still under the broker's message size.
        return orjson.dumps(_mutate(event, rng, ("event_id",), "x" * 1_000_100))
    raise ValueError(category)


def bad_corpus(lines: list[bytes], count: int = 10_000, seed: int = 20261129) -> list[tuple[str, bytes]]:
    """(category, value) pairs; a handful of oversize ones, the rest spread over the categories."""
    rng = random.Random(seed)
    corpus = [("oversize", _one("oversize", rng.choice(lines), rng)) for _ in range(3)]
    others = [c for c in CATEGORIES if c != "oversize"]
    while len(corpus) < count:
        category = others[len(corpus) % len(others)]
        corpus.append((category, _one(category, rng.choice(lines), rng)))
    rng.shuffle(corpus)
    return corpus


def duplicates(lines: list[bytes], count: int = 200, seed: int = 7) -> dict[int, bytes]:
    """Line index -> a re-send of that event: same event id and time, other content (amount or channel)."""
    rng = random.Random(seed)
    out: dict[int, bytes] = {}
    payments = [i for i, line in enumerate(lines) if b'"type":"payment"' in line]
    for index in rng.sample(payments, count):
        event = orjson.loads(lines[index])
        event["amount"] = f"{rng.randint(1, 99_999)}.{rng.randint(0, 99):02d}"
        event["channel"] = rng.choice(["mobile", "online", "branch", "atm", "api"])
        out[index] = orjson.dumps(event)
    return out
