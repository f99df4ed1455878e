"""Deterministic ids: the same inputs give the same id in every process and on every replay."""

from __future__ import annotations

from hashlib import blake2b

SEPARATOR = "|"  # cannot occur in identifiers, so joined parts never collide


def short_id(*parts: object) -> str:
    """16-hex id for rule hits."""
    return blake2b(SEPARATOR.join(map(str, parts)).encode(), digest_size=8).hexdigest()


def alert_id(*parts: object) -> str:
    """32-hex id for alerts (the contract's pattern)."""
    return blake2b(SEPARATOR.join(map(str, parts)).encode(), digest_size=16).hexdigest()


def episode_alert_id(account_id: str, episode_start: int) -> str:
    """The id of an account's alert for the episode starting at ``episode_start`` (ms; contract 2.0.0)."""
    return alert_id(account_id, "episode", episode_start)
