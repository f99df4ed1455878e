"""Which account partition the worker puts an account in, for the offline engine to do the same.

The worker keeps a population per account partition (``detectors.population``); replay's engine
must split the accounts the same way to raise the same alerts. The worker's repartition topic is
keyed by account id and partitioned by the Kafka client's default partitioner (murmur2 of the key),
so this is that partitioner and the partition count the worker runs with.
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka.partitioner import murmur2


def account_partitioner(partitions: int) -> Callable[[str], int]:
    """account id -> account partition, as the worker's producer assigns it."""
    def partition_of(account: str) -> int:
        return (murmur2(account.encode()) & 0x7FFFFFFF) % partitions

    return partition_of
