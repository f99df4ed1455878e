"""Fixtures for the detector tests: the shipped config and a helper that runs events through Engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # detector_events, next to this file

from detectors import DetectorConfig, Engine, load_config  # noqa: E402


@pytest.fixture(scope="session")
def config() -> DetectorConfig:
    return load_config()


class Run:
    """Events through one Engine; alerts and per-account hits for assertions."""

    def __init__(self, config: DetectorConfig, events) -> None:
        self.engine = Engine(config)
        self.alerts = list(self.engine.process_all(events))

    def rules_hit(self, account: str) -> set[str]:
        state = self.engine.accounts.get(account)
        return set() if state is None else {hit[1] for hit in state.hits.values()}

    def hits(self, account: str, rule: str) -> list[tuple]:
        state = self.engine.accounts[account]
        return sorted(hit for hit in state.hits.values() if hit[1] == rule)

    def typologies(self, account: str | None = None) -> set[str]:
        return {t.typology.value for a in self.alerts if account is None or a.account_id == account for t in a.typologies}

    def final_versions(self) -> dict[str, int]:
        versions: dict[str, int] = {}
        for alert in self.alerts:
            versions[alert.alert_id] = max(versions.get(alert.alert_id, 0), alert.version)
        return versions


@pytest.fixture
def run(config):
    def _run(events, cfg: DetectorConfig | None = None) -> Run:
        return Run(cfg or config, events)

    return _run
