"""Detection quality with the shipped defaults, end to end: the figures the README's "Results" quote.

Not collected by pytest. Run:  .venv/bin/python tests/benchmarks/eval_detection.py
Options: --amlsim DIR (default ../shared/data/amlsim beside the repository; skipped when absent)
--work DIR (default .cache/eval; imports and simulations are kept there and reused) --sim-accounts N
--sim-days D --seed S --only amlsim|sim --config TOML.

For each IBM AMLSim sample (when present): ``mulewatch import --mapping amlsim`` (one step = one day,
the payments of a step spread over it in file order), ``replay`` with the defaults, ``evaluate`` over
the 149 steps. Then the project's own simulator twice with the same seed: every signal, and
``--payments-only``. It prints, per data set, precision, recall and F1 of all alerts and at a budget
of the top 1 % of accounts, the workload, and recall by label typology, and writes every figure to
``<work>/summary.json``. Nothing here is tuned per data set: the same config runs everywhere.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {"20K_fanin200": "fan_in", "20K_cycle200": "cycle", "20K_fanin200cycle200": "fan_in_or_cycle"}
AMLSIM_DAYS = 149


def mulewatch(*args: str) -> None:
    """Run one mulewatch command with this interpreter; its own output goes to the log file."""
    subprocess.run([sys.executable, "-m", "stream.cli", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def judge(name: str, events: Path, labels: Path, days: float, work: Path, config: str | None) -> dict:
    """Replay one data set with the defaults (or ``config``) and evaluate it; returns the figures."""
    alerts, figures = work / f"{name}.alerts.jsonl", work / f"{name}.evaluation.json"
    print(f"{name}: replay ...", file=sys.stderr, flush=True)
    mulewatch("replay", str(events), "--out", str(alerts), *(["--config", config] if config else []))
    mulewatch("evaluate", "--alerts", str(alerts), "--labels", str(labels), "--days", str(days),
              "--json", str(figures), "--report", str(work / f"{name}.report.html"))
    return json.loads(figures.read_text())


def amlsim(folder: Path, work: Path, config: str | None) -> dict[str, dict]:
    results = {}
    for sample, typology in SAMPLES.items():
        archive = folder / f"{sample}.tgz"
        if not archive.exists():
            continue
        events, labels = work / f"{sample}.jsonl", work / f"{sample}.labels.csv"
        if not events.exists():
            print(f"{sample}: import ...", file=sys.stderr, flush=True)
            mulewatch("import", str(archive), "--mapping", "amlsim", "--label-const", f"typology={typology}",
                      "--out", str(events), "--labels", str(labels))
        results[sample] = judge(sample, events, labels, AMLSIM_DAYS, work, config)
    return results


def simulated(work: Path, accounts: int, days: int, seed: int, config: str | None) -> dict[str, dict]:
    results = {}
    for name, flags in ((f"sim-{accounts}x{days}-s{seed}", []),
                        (f"sim-{accounts}x{days}-s{seed}-payments-only", ["--payments-only"])):
        events, labels = work / f"{name}.jsonl.gz", work / f"{name}.labels.csv"
        if not events.exists():
            print(f"{name}: simulate ...", file=sys.stderr, flush=True)
            mulewatch("simulate", "--accounts", str(accounts), "--days", str(days), "--seed", str(seed),
                      "--out", str(events), "--labels", str(labels), *flags)
        results[name] = judge(name, events, labels, days, work, config)
    return results


def row(figures: dict) -> str:
    top1 = next(b for b in figures["budgets"] if b["percent"] == 1.0)
    a = figures["all_alerts"]
    return (f"P {a['precision']:.3f} R {a['recall']:.3f} F1 {a['f1']:.3f} ({a['taken']} alerted)"
            f" | top 1 % ({top1['budget']}): P {top1['precision']:.3f} R {top1['recall']:.3f} F1 {top1['f1']:.3f}"
            f" | {figures['alerted_accounts_per_10k_per_day']:.2f} alerted accounts and"
            f" {figures['alerts_per_10k_per_day']:.2f} alerts / 10k / day")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amlsim", type=Path, default=ROOT.parent / "shared" / "data" / "amlsim")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "eval")
    parser.add_argument("--sim-accounts", type=int, default=10000)
    parser.add_argument("--sim-days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("amlsim", "sim"))
    parser.add_argument("--config", help="detector config TOML (default: the shipped defaults)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    if args.only != "sim":
        if args.amlsim.is_dir():
            results.update(amlsim(args.amlsim, args.work, args.config))
        else:
            print(f"no AMLSim samples at {args.amlsim}: skipped", file=sys.stderr)
    if args.only != "amlsim":
        results.update(simulated(args.work, args.sim_accounts, args.sim_days, args.seed, args.config))
    summary = {}
    for name, figures in results.items():
        print(f"{name}: {row(figures)}")
        by_label = {r["name"]: (r["detected"], r["mules"]) for r in figures["recall_by_label"]}
        print("    recall by label: " + ", ".join(f"{k} {d}/{m}" for k, (d, m) in sorted(by_label.items())))
        summary[name] = {"all": figures["all_alerts"], "budgets": figures["budgets"],
                         "recall_by_label": figures["recall_by_label"],
                         "alerted_accounts_per_10k_per_day": figures["alerted_accounts_per_10k_per_day"],
                         "alerts_per_10k_per_day": figures["alerts_per_10k_per_day"]}
    (args.work / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
