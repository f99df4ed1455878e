"""Each account partition's population (see ``detectors.population``), kept with the partition's state.

The record lives in the account table under ``POPULATION_KEY`` in each partition's own store (Faust
reads and writes a table key in the store of the partition being processed, so every partition has
its own copy of the key). What is not in the record, the accounts not yet counted for the days still
open, is rebuilt from the partition's account states the first time the partition is used after the
worker started or the partition moved here: the record is written after the batch's account states,
so those states are never behind it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from detectors import AccountState
from detectors.population import Population, Rarity

#: Cannot collide with an account id (printable ASCII only, see schemas.common.Identifier).
POPULATION_KEY = b"\x00population"


def load_population(table: Any, partition: int, rarity: Rarity) -> Population:
    """The partition's population: its record, and the accounts still to count from its states.

    Must run while an event of ``partition`` is being processed (Faust routes the key by it).
    """
    stored = table.get(POPULATION_KEY)
    population = Population.from_bytes(stored, rarity) if stored else Population()
    population.rebuild(_states(table, partition))
    return population


def _states(table: Any, partition: int) -> Iterator[AccountState]:
    """Every account state in one partition's store (Faust 0.15's RocksDB store, pinned)."""
    store = table.data
    for key, value in store._visible_items(store._db_for_partition(partition)):
        if key != POPULATION_KEY and value:
            yield AccountState.from_bytes(value)
