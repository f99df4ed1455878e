"""Shared helpers of the deployment tests: where the files are, and what metric names they use."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "mulewatch.json"

#: A mulewatch metric name inside a PromQL expression (recording-rule names use ':' and do not match).
METRIC_NAME = re.compile(r"\bmulewatch_[a-zA-Z0-9_]+")


def load_yaml_documents(path: Path) -> list:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def rule_expressions() -> Iterator[tuple[str, str]]:
    """(alert name, expression) of every rule in deploy/prometheus/rules.yml."""
    for group in load_yaml_documents(RULES)[0]["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    """(panel title, expression) of every query of the Grafana dashboard, rows included."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    def panels(items: list) -> Iterator[dict]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            yield f"variable {variable['name']}", query["query"] if isinstance(query, dict) else query


def metric_names(expression: str) -> set[str]:
    return set(METRIC_NAME.findall(expression))

