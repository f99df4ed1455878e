"""No alert version lost to repeated crashes: SIGKILL at random moments while a wide history is fed.

Five kills per run, at moments drawn from a seeded generator, while a bank several thousand accounts
wide is produced and consumed; the worker restarts each time on its data dir. Over all its lives it
must publish exactly the (alert_id, version) pairs the offline engine raises, a repeat only as a
byte-identical copy. The seeds differ so that, run after run, the kills land in different places;
``tests/benchmarks/soak_repeated_kills.py`` runs more seeds and kills for longer.
"""

from __future__ import annotations

import random
import time

import pytest

from tests.faults.harness import alert_versions, assert_exact_repeats, assert_same_alerts, consume_with_kills

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KILLS = 5


@pytest.mark.parametrize("seed", [20261202, 7])
def test_repeated_sigkills_at_random_moments_lose_no_alert_version(deployment, wide_bank, seed):
    lines, expected = wide_bank
    started = time.monotonic()
    run = consume_with_kills(deployment, lines, expected, random.Random(seed), KILLS)
    published = alert_versions(run.records)
    print("\n" + "\n".join(run.lives))
    print(f"repeated kills (seed {seed}): {len(lines)} events, {len(run.records)} alert records, "
          f"{len(published)} distinct versions (offline {len(expected)}) in {time.monotonic() - started:.0f}s")
    assert_exact_repeats(run.records)
    assert_same_alerts(published, expected)
