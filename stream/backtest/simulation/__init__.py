"""Deterministic labelled simulator of a bank's events: ordinary life plus injected account misuse.

Modules: ``world`` (other banks, merchants, countries), ``population`` (own accounts and habits),
``ordinary`` (daily life per persona), ``misuse`` (one scenario per typology), ``emit`` (event JSON
and per-day buffers), ``generator`` (history, then one sorted day at a time), ``writer`` (JSONL,
labels CSV, Kafka).
"""

from stream.backtest.simulation.generator import DEFAULT_START, SimConfig, Simulation

__all__ = ["DEFAULT_START", "SimConfig", "Simulation"]
