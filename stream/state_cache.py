"""Decoded account states kept between batches, so a busy account is not decoded on every view.

The RocksDB table stays the source of truth: every change is written there too, and the cache is
emptied whenever partitions move, since another worker may have changed what we remember.
"""

from __future__ import annotations

from typing import Generic, TypeVar

S = TypeVar("S")


class StateCache(Generic[S]):
    """A bounded map that forgets its oldest entries first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: dict[bytes, S] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> S | None:
        return self._entries.get(key)

    def put(self, key: bytes, state: S) -> None:
        if self.capacity == 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = state
        while len(self._entries) > self.capacity:
            del self._entries[next(iter(self._entries))]

    def clear(self) -> None:
        self._entries.clear()
