"""A real Prometheus server scrapes a real worker that ran a simulated bank.

One worker and one Prometheus (Debian's package, installed by deploy/prometheus/ensure-prometheus.sh)
serve every test of this module: Prometheus scrapes the worker's /metrics every second and evaluates
the shipped alerting rules against it.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.deploy_files import RULES, dashboard_expressions, metric_names, rule_expressions
from tests.stream.worker_harness import MULEWATCH, Deployment, free_port, route_line

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BAD_MESSAGES = [b"", b"\xff\xfe garbage", b'{"type": "teleport", "event_id": "x-1"}', b"[1, 2]"]


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def wait_until(what: str, check, seconds: float, interval: float = 0.5, detail=lambda: ""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}\n{detail()}")


class PrometheusServer:
    """A throw-away Prometheus on a free loopback port, scraping one target every second."""

    def __init__(self, tmp: Path, target: str) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed: run deploy/prometheus/ensure-prometheus.sh (make test does)"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp / "prometheus.yml"
        config.write_text(  # JSON is YAML
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [{"job_name": "mulewatch", "static_configs": [{"targets": [target]}]}],
                }
            )
        )
        self.log_path = tmp / "prometheus.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until("Prometheus to be ready", lambda: self.ready(), 30, detail=self.log)

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log()
        return http_get(f"{self.url}/-/ready")[0] == 200

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def api(self, path: str, **params: str) -> dict:
        status, body = http_get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        assert status == 200, (status, body[:500])
        answer = json.loads(body)
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, promql: str) -> list[dict]:
        return self.api("query", query=promql)["result"]

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def scenario_ids(lines: list[bytes]) -> set[str]:
    """Every id the scenario uses: values of keys ending in ``_id`` at any depth (accounts, customers...)."""
    ids: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("_id") and isinstance(item, str):
                    ids.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for line in lines:
        walk(orjson.loads(line))
    return ids


def scrape(port: int) -> dict[str, list]:
    """Sample name -> samples of the worker's /metrics."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, body[:500]
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def wait_until_settled(worker, events: int, quiet_s: float = 6) -> int:
    """Wait until ``ingest`` consumed every event and the alert counter stopped moving; returns it."""

    def totals() -> tuple[float, float]:
        samples = scrape(worker.web_port)
        return tuple(sum(s.value for s in samples.get(name, [])) for name in
                     ("mulewatch_events_consumed_total", "mulewatch_alerts_published_total"))

    wait_until(f"the worker to consume {events} events", lambda: totals()[0] >= events, 180,
               detail=lambda: worker.log()[-3000:])
    last, since = totals()[1], time.monotonic()
    while time.monotonic() - since < quiet_s:
        time.sleep(0.5)
        now = totals()[1]
        if now != last:
            last, since = now, time.monotonic()
    return int(last)


@pytest.fixture(scope="module")
def run(kafka_bootstrap, tmp_path_factory):
    """Worker + Prometheus, the simulated bank and a few bad messages fed, alerts read back."""
    tmp = tmp_path_factory.mktemp("prom")
    events = tmp / "events.jsonl"
    subprocess.run(
        [MULEWATCH, "simulate", "--accounts", "300", "--days", "20", "--seed", "11", "--out", str(events),
         "--labels", str(tmp / "labels.csv")],
        check=True, capture_output=True,
    )
    lines = events.read_bytes().splitlines()
    deployment = Deployment(kafka_bootstrap, tmp, f"mwprom-{time.time_ns() % 10**10}")
    prometheus = None
    try:
        worker = deployment.start_worker()
        prometheus = PrometheusServer(tmp, f"127.0.0.1:{worker.web_port}")
        wait_until(
            "the worker's /readyz",
            lambda: worker.process.poll() is None and http_get(f"http://127.0.0.1:{worker.web_port}/readyz")[0] == 200,
            120,
            detail=lambda: worker.log()[-3000:],
        )
        deployment.produce_raw([*(route_line(line) for line in lines), *(("account_events", b"k", m) for m in BAD_MESSAGES)])
        published = wait_until_settled(worker, len(lines))
        alerts = deployment.read("alerts", expect=published, max_s=60)
        assert alerts and len(alerts) == published, (len(alerts), published, worker.log()[-3000:])
        yield {"deployment": deployment, "worker": worker, "prometheus": prometheus, "lines": lines, "alerts": alerts}
    finally:
        if prometheus is not None:
            prometheus.stop()
        for worker in deployment.workers:
            # views held in the reorder buffer make a graceful stop wait; they are redelivered anyway
            worker.stop(timeout=10)


def test_promql_returns_the_alert_counter_after_the_scenario(run):
    prometheus, alerts = run["prometheus"], run["alerts"]
    wait_until(
        f"sum(mulewatch_alerts_published_total) == {len(alerts)} in Prometheus",
        lambda: prometheus.scalar("sum(mulewatch_alerts_published_total)") == len(alerts),
        30,
        detail=lambda: str(prometheus.query("mulewatch_alerts_published_total > 0")),
    )
    by_typology = prometheus.query("sum by (typology) (mulewatch_alerts_published_total) > 0")
    published = {}
    for record in alerts:
        typology = orjson.loads(record.value)["typologies"][0]["typology"]  # the strongest
        published[typology] = published.get(typology, 0) + 1
    assert {r["metric"]["typology"]: float(r["value"][1]) for r in by_typology} == published
    assert prometheus.scalar('up{job="mulewatch"}') == 1.0


def test_consumed_and_dead_lettered_events_reach_prometheus(run):
    prometheus, lines = run["prometheus"], run["lines"]
    wait_until(
        "every event and dead letter counted in Prometheus",
        lambda: prometheus.scalar("sum(mulewatch_events_consumed_total)") == len(lines)
        and prometheus.scalar('sum(mulewatch_dead_letters_total{reason!="late"})') == len(BAD_MESSAGES),
        30,
    )
    reasons = {r["metric"]["reason"] for r in prometheus.query('mulewatch_dead_letters_total{reason!="late"} > 0')}
    assert reasons == {"empty", "undecodable", "unknown_type", "not_an_object"}
    # late events are dead-lettered too, and counted on their own
    assert prometheus.scalar("mulewatch_late_events_total") == prometheus.scalar(
        'mulewatch_dead_letters_total{reason="late"}'
    )


def test_latency_lag_and_state_metrics_describe_the_run(run):
    worker, alerts, lines = run["worker"], run["alerts"], run["lines"]
    samples = wait_until(
        "the metrics timer to sample consumer lag and state sizes",
        lambda: (s := scrape(worker.web_port)).get("mulewatch_consumer_lag_messages") and s,
        20,
    )
    value = {s.name + json.dumps(s.labels, sort_keys=True): s.value for v in samples.values() for s in v}
    # one latency observation per published alert, each well under the test's duration
    assert value["mulewatch_processing_latency_seconds_count{}"] == len(alerts)
    assert 0 < value["mulewatch_processing_latency_seconds_sum{}"] / len(alerts) < 60
    # the simulated events are years old: lag is their age
    newest = max(datetime.fromisoformat(orjson.loads(line)["event_time"]).timestamp() for line in lines)
    assert value["mulewatch_event_time_lag_seconds{}"] >= time.time() - newest - 5
    assert value["mulewatch_last_event_timestamp_seconds{}"] <= newest
    assert value['mulewatch_state_keys{"table": "account-state"}'] >= 300
    assert value['mulewatch_state_keys{"table": "identifier-state"}'] > 0
    lag = samples["mulewatch_consumer_lag_messages"]
    assert {s.labels["topic"] for s in lag} >= {run["deployment"].topic("payments")}
    assert all(s.value >= 0 and s.labels["partition"].isdigit() for s in lag)
    assert value["mulewatch_detector_seconds_count{}"] >= len(lines)


def test_every_metric_named_by_the_dashboard_and_the_rules_is_exposed(run):
    exposed = set(scrape(run["worker"].web_port))
    named: dict[str, set[str]] = {}
    for where, expression in [*rule_expressions(), *dashboard_expressions()]:
        for name in metric_names(expression):
            named.setdefault(name, set()).add(where)
    assert len(named) >= 8, named
    missing = {name: sorted(where) for name, where in named.items() if name not in exposed}
    assert not missing, f"named by the rules or dashboard but not exposed with a sample: {missing}"


def test_the_shipped_rules_load_and_evaluate_against_the_worker(run):
    prometheus = run["prometheus"]
    expected = {name for name, _ in rule_expressions()}

    def evaluated() -> dict | None:
        rules = {r["name"]: r for g in prometheus.api("rules")["groups"] for r in g["rules"]}
        return rules if set(rules) == expected and all(r.get("lastEvaluation", "0").startswith("2") for r in rules.values()) else None

    rules = wait_until("every shipped rule to be evaluated", evaluated, 20)
    assert all(r["health"] == "ok" for r in rules.values()), {n: r.get("lastError") for n, r in rules.items()}
    firing = {r["name"] for r in rules.values() if r["state"] != "inactive"}
    assert "MulewatchWorkerDown" not in firing


def test_no_metric_label_value_is_an_id_from_the_scenario(run):
    ids = scenario_ids(run["lines"])
    assert {"A00000001", "C00000001"} & ids, "the scenario's ids were not collected"
    samples = scrape(run["worker"].web_port)
    leaks = {
        (name, key, value)
        for name, items in samples.items()
        for sample in items
        for key, value in sample.labels.items()
        if value in ids
    }
    assert not leaks, leaks
    assert not any(math.isnan(s.value) for s in samples.get("mulewatch_event_time_lag_seconds", []))
