"""What analysts' decisions change, on the simulator: the figures of issue 15's "done when".

Simulates a bank (``mulewatch simulate --dispositions``: an analyst following the labels decides each
new case a day after it is published), replays the events without and with the decisions, and prints:

* alerts and alerted accounts per 10,000 accounts a day (one alert per account and episode);
* precision and recall without and with the decisions;
* alert versions published on accounts after an analyst found them legitimate, without and with;
* recall among the mules that a confirmed mule paid or was paid by (own accounts, within the
  decision's look-back and follow days), without and with.

Not collected by pytest; about 6 minutes for the default 10,000 accounts and 30 days:

    .venv/bin/python tests/benchmarks/eval_dispositions.py [--accounts N --days D --seed S]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mulewatch(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "stream.cli", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def confirmed_counterparty_mules(events: Path, decisions: Path, mules: set[str], lookback: timedelta,
                                 follow: timedelta) -> set[str]:
    """Mules that a confirmed mule paid or was paid by, both accounts being the bank's own, from
    ``lookback`` before the decision to ``follow`` after it (some are confirmed mules themselves)."""
    confirmed: dict[str, datetime] = {}
    for line in decisions.read_text().splitlines():
        d = json.loads(line)
        if d["decision"] == "confirmed_mule":
            confirmed[d["account_id"]] = min(confirmed.get(d["account_id"], when(d["decided_at"])), when(d["decided_at"]))
    found: set[str] = set()
    with gzip.open(events, "rt") as handle:
        for line in handle:
            if '"payment"' not in line:
                continue
            e = json.loads(line)
            if e.get("type") != "payment" or e["debtor"].get("bank_id") or e["creditor"].get("bank_id"):
                continue
            t = when(e["event_time"])
            for mule, other in ((e["debtor"]["account_id"], e["creditor"]["account_id"]),
                                (e["creditor"]["account_id"], e["debtor"]["account_id"])):
                decided = confirmed.get(mule)
                if decided is not None and decided - lookback <= t <= decided + follow and other in mules \
                        and other != mule:
                    found.add(other)
    return found


def alerted(alerts: Path) -> set[str]:
    return {json.loads(line)["account_id"] for line in alerts.read_text().splitlines() if line.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "dispositions")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    name = f"sim-{args.accounts}x{args.days}-s{args.seed}"
    events, labels, decisions = (args.work / f"{name}.jsonl.gz", args.work / f"{name}.labels.csv",
                                 args.work / f"{name}.dispositions.jsonl")
    print("simulate with an analyst ...", file=sys.stderr, flush=True)
    mulewatch("simulate", "--accounts", str(args.accounts), "--days", str(args.days), "--seed", str(args.seed),
              "--out", str(events), "--labels", str(labels), "--dispositions", str(decisions))
    figures = {}
    for run, extra in (("without", []), ("with", ["--dispositions", str(decisions)])):
        print(f"replay {run} the decisions ...", file=sys.stderr, flush=True)
        alerts, result = args.work / f"{name}.{run}.alerts.jsonl", args.work / f"{name}.{run}.evaluation.json"
        mulewatch("replay", str(events), "--out", str(alerts), *extra)
        mulewatch("evaluate", "--alerts", str(alerts), "--labels", str(labels), "--days", str(args.days),
                  "--dispositions", str(decisions), "--json", str(result))
        figures[run] = (json.loads(result.read_text()), alerted(alerts))
    with open(labels, newline="") as handle:
        mules = {row["account_id"] for row in csv.DictReader(handle) if row["label"] == "1"}
    from detectors import load_config

    config = load_config().dispositions
    reached = confirmed_counterparty_mules(events, decisions, mules, timedelta(days=config.lookback_days),
                                           timedelta(days=config.follow_days))
    for run, (ev, accounts) in figures.items():
        a, d = ev["all_alerts"], ev["decisions"]
        found = len(reached & accounts)
        print(f"{run:>7} decisions: P {a['precision']:.3f} R {a['recall']:.3f} F1 {a['f1']:.3f} | "
              f"{ev['alerts_per_10k_per_day']:.2f} alerts and {ev['alerted_accounts_per_10k_per_day']:.2f} alerted "
              f"accounts / 10k / day (ratio {ev['alerts_per_10k_per_day'] / max(ev['alerted_accounts_per_10k_per_day'], 1e-9):.2f})"
              f" | versions after a legitimate decision {d['repeats_after_legitimate']} on {d['legitimate_accounts']} accounts"
              f" | confirmed mules' counterparties that are mules: {found}/{len(reached)} alerted")
    print(f"decisions: {figures['with'][0]['decisions']['decisions']}")


if __name__ == "__main__":
    main()
