"""``mulewatch cases``: one line per account with its current alert, from a file and from the topic."""

from __future__ import annotations

import os
import subprocess

import orjson
import pytest
from kafka import KafkaProducer

from stream.cases import CaseBook
from stream.cli import main
from tests.stream.worker_harness import MULEWATCH


def alert(account: str, version: int, score: int, when: str, episode: str = "2026-01-01T00:00:00Z",
          typologies: tuple = (("collection_account", None),), severity: str = "medium") -> dict:
    return {"alert_id": f"{account}-{episode}", "account_id": account, "version": version, "episode_start": episode,
            "score": score, "severity": severity, "window_end": when,
            "typologies": [{"typology": name, "score": points or score} for name, points in typologies]}


def test_a_case_is_the_latest_version_of_the_latest_episode_whatever_the_order():
    alerts = [alert("A", 2, 70, "2026-01-03T00:00:00Z"), alert("A", 1, 65, "2026-01-02T00:00:00Z"),
              alert("A", 1, 60, "2026-02-01T00:00:00Z", episode="2026-01-31T00:00:00Z"),
              alert("B", 3, 90, "2026-01-05T00:00:00Z", severity="high")]
    for order in (alerts, alerts[::-1]):
        book = CaseBook()
        for a in order:
            book.add(a)
        assert {c.account_id: (c.version, c.score) for c in book.cases.values()} == {"A": (1, 60), "B": (3, 90)}
        assert [c.account_id for c in book.ranked()] == ["B", "A"]


def test_from_a_file_the_table_ranks_cases_and_counts_versions(tmp_path, capsys):
    path = tmp_path / "alerts.jsonl"
    lines = [alert("A", 1, 65, "2026-01-02T00:00:00Z"), alert("A", 3, 80, "2026-01-02T06:00:00Z",
             typologies=(("account_sold", 80), ("account_lent", 70))), alert("B", 1, 70, "2026-01-03T00:00:00Z")]
    path.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in lines) + b"not json\n")
    assert main(["cases", "--alerts", str(path)]) == 0
    out, err = capsys.readouterr()
    rows = out.splitlines()
    assert rows[1].split()[:5] == ["80", "medium", "18h", "3", "A"] and "account_sold:80 account_lent:70" in rows[1]
    assert rows[2].split()[:5] == ["70", "medium", "0s", "1", "B"]
    assert rows[-1] == "2 cases from 3 alert versions" and "4: not an alert" in err


@pytest.mark.kafka
def test_following_the_topic_piped_prints_each_changed_case(kafka_bootstrap, new_topic):
    topic = new_topic("cases")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for a in (alert("A", 1, 65, "2026-01-02T00:00:00Z"), alert("A", 3, 80, "2026-01-02T06:00:00Z"),
              alert("A", 1, 65, "2026-01-02T00:00:00Z"), alert("B", 1, 70, "2026-01-03T00:00:00Z")):
        producer.send(topic, orjson.dumps(a))
    producer.flush()
    producer.close()
    env = {**os.environ, "MULEWATCH_BROKER": f"kafka://{kafka_bootstrap}", "MULEWATCH_TOPICS__ALERTS": topic}
    done = subprocess.run([MULEWATCH, "cases", "--until-idle", "3"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert [line.split()[3:5] for line in lines] == [["1", "A"], ["3", "A"], ["1", "B"]]  # the repeat changed nothing
    assert "\x1b" not in done.stdout.decode()
