"""Deterministic labelled simulator of a bank's events: ordinary life plus injected account misuse.

Modules: ``world`` (other banks, merchants, countries), ``population`` (own accounts and habits),
``ordinary`` (daily life per persona, look-alikes included), ``misuse`` (one rent/lend/sell scenario
per typology), ``laundering`` (the AMLSim family of laundering patterns among ordinary accounts),
``emit`` (event JSON and per-day buffers, payments-only mode), ``generator`` (history, then one sorted
day at a time), ``writer`` (JSONL, labels CSV, Kafka).
"""

from stream.backtest.simulation.generator import DEFAULT_START, SimConfig, Simulation

__all__ = ["DEFAULT_START", "SimConfig", "Simulation"]
