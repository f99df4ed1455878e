"""The evaluation's tables as rows of text cells, drawn by the terminal output and by the HTML report.

One definition per table keeps the two outputs showing the same columns and the same rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.backtest.evaluation.metrics import Evaluation


@dataclass(frozen=True)
class Table:
    title: str
    head: list[str]
    rows: list[list[str]]
    total: list[str] | None  # a summary row, drawn apart from the others
    note: str
    summary: str = ""  # a headline figure that is not a row, shown right under the table
    text_columns: int = 1  # leading columns holding names (left-aligned); the rest are figures


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def budget_table(ev: Evaluation) -> Table:
    rows = [[sel.name, str(sel.budget), str(sel.taken), str(sel.mules_found), fmt(sel.precision), fmt(sel.recall), fmt(sel.f1)]
            for sel in ev.budgets]
    everything = ev.all_alerts
    return Table(
        title="Precision and recall at alert budgets",
        head=["worked", "budget", "accounts", "mules", "precision", "recall", "F1"],
        rows=rows,
        total=["all alerts (defaults)", "-", str(everything.taken), str(everything.mules_found),
               fmt(everything.precision), fmt(everything.recall), fmt(everything.f1)],
        note=(f"Accounts ranked by their strongest alert (score, then severity, then earliest, then account id); "
              f"a budget works the top of the ranking up to its share of the {ev.accounts} labelled accounts "
              f"(rounded down), or every alerted account when fewer are alerted."),
        summary=(f"average precision over the ranking: {fmt(ev.average_precision)} "
                 f"(over all {ev.mules} labelled mules; a mule never alerted adds 0)"),
    )


def label_table(ev: Evaluation) -> Table:
    rows = [[row.name, str(row.mules), str(row.detected), fmt(row.recall), _hours(row.ttd_median_h), fmt(row.agreement)]
            for row in ev.recall_by_label]
    everything = ev.all_alerts
    return Table(
        title="Recall by label typology",
        head=["label typology", "mules", "detected", "recall", "median TTD h", "agreement"],
        rows=rows,
        total=["all mules", str(ev.mules), str(everything.mules_found), fmt(everything.recall), _hours(ev.ttd_median_h),
               fmt(ev.agreement)],
        note=("Counted in the labels' own words, which need not be the alerts'. "
              "Detected = any alert, whatever its typology. TTD = hours from misuse start to first alert. Agreement, only "
              "where the label typology is also an alert typology: detected mules with an alert of that same typology."),
    )


def alert_table(ev: Evaluation) -> Table:
    rows = [[row.name, str(row.alerted), str(row.mules), fmt(row.precision)] for row in ev.precision_by_alert]
    everything = ev.all_alerts
    return Table(
        title="Precision by alert typology",
        head=["alert typology", "alerted accounts", "of which mules", "precision"],
        rows=rows,
        total=["any alert", str(everything.taken), str(everything.mules_found), fmt(everything.precision)],
        note=("An account counts once per alert typology it has; mules of any label typology count as true positives"
              + (f"; {ev.unlabelled_alerted} alerted accounts are not in the labels and count as false positives."
                 if ev.unlabelled_alerted else ".")),
    )


def crosstab_table(ev: Evaluation, numbered: bool) -> Table:
    """Label typology x alert typology; ``numbered`` heads the columns 1, 2, ... with a legend, for a terminal's width."""
    columns = [row.name for row in ev.precision_by_alert]
    head = [str(n) for n in range(1, len(columns) + 1)] if numbered else columns
    legend = ("Columns: " + ", ".join(f"{n}={name}" for n, name in enumerate(columns, start=1)) + ". ") if numbered else ""
    return Table(
        title="Detected mules: label typology x alert typology",
        head=["label typology", *head],
        rows=[[name, *(str(counts[c]) for c in columns)] for name, counts in ev.crosstab.items()],
        total=None,
        note=legend + "A mule counts once in every alert typology it has, so a row may add up to more than its detected mules.",
    )


def rule_table(ev: Evaluation) -> Table:
    rows = [[row.rule_id, str(row.mule_accounts), str(row.other_accounts), fmt(row.precision),
             fmt(row.mule_weight_share), fmt(row.other_weight_share)] for row in ev.rules]
    return Table(
        title="Rules behind true and false positives",
        head=["rule", "mule accounts", "other accounts", "precision", "weight share on mules", "weight share on others"],
        rows=rows,
        total=None,
        note=("Accounts: alerted mules (true positives) and alerted other accounts (false positives) with the rule in any "
              "of their alerts. Weight share: the rule's part of the summed rule weights of all alerts on that side."),
    )


def tables(ev: Evaluation, numbered_crosstab: bool) -> list[Table]:
    """Every table, in reading order."""
    return [budget_table(ev), label_table(ev), alert_table(ev), crosstab_table(ev, numbered_crosstab), rule_table(ev)]
