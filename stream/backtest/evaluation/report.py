"""A self-contained HTML backtest report: tables and matplotlib plots embedded as base64 PNG.

The file opens offline: no scripts, fonts or images are fetched from anywhere.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime

from stream.backtest.evaluation.metrics import Evaluation
from stream.backtest.evaluation.tables import Table, alert_table, budget_table, crosstab_table, fmt, label_table, rule_table

_MULES, _OTHERS = "#55a868", "#c44e52"


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pr_plot(ev: Evaluation, plt) -> str:
    """Precision against recall down the ranking, its area shaded (the average precision) and each budget marked."""
    fig, ax = plt.subplots(figsize=(7, 5))
    curve = ev.pr_curve
    if curve and ev.mules:
        recall = [0.0, *(p.recall for p in curve)]
        precision = [curve[0].precision, *(p.precision for p in curve)]
        # steps-pre: each recall step is drawn at the precision reached there, so the shaded area is the AP
        ax.plot(recall, precision, drawstyle="steps-pre", color="#4c72b0", label="accounts worked in ranking order")
        ax.fill_between(recall, precision, step="pre", alpha=0.15, color="#4c72b0",
                        label=f"area = average precision {fmt(ev.average_precision)}")
        for n, sel in enumerate([*ev.budgets, ev.all_alerts]):
            if not sel.taken:
                continue
            ax.plot(sel.recall, sel.precision, "o", color="black" if sel.percent is None else "#dd8452", zorder=3)
            unfilled = f" (budget {sel.budget})" if sel.budget is not None and sel.budget > sel.taken else ""
            ax.annotate(f"{sel.name}: {sel.taken} accounts{unfilled}", (sel.recall, sel.precision), xytext=(-10, -16 - 13 * n),
                        textcoords="offset points", ha="right", fontsize=8, arrowprops={"arrowstyle": "-", "lw": 0.5})
        ax.legend(loc="lower left", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no alerted account or no labelled mule", ha="center")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall (share of labelled mules among the accounts worked)")
    ax.set_ylabel("precision (share of accounts worked that are mules)")
    ax.set_title("Precision-recall over accounts ranked by their strongest alert")
    return _png(fig)


def _typology_plot(ev: Evaluation, plt) -> str:
    """Recall by label typology beside precision by alert typology: two vocabularies, two panels."""
    height = 1.2 + 0.35 * max(len(ev.recall_by_label), len(ev.precision_by_alert), 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, height))
    panels = (
        (left, ev.recall_by_label, [r.recall for r in ev.recall_by_label],
         [f"{r.detected}/{r.mules}" for r in ev.recall_by_label], "#dd8452", "recall", "Recall by label typology"),
        (right, ev.precision_by_alert, [r.precision for r in ev.precision_by_alert],
         [f"{r.mules}/{r.alerted}" for r in ev.precision_by_alert], "#4c72b0", "precision", "Precision by alert typology"),
    )
    for ax, rows, values, counts, color, xlabel, title in panels:
        ys = range(len(rows))
        ax.barh(list(ys), values, color=color)
        for y, value, count in zip(ys, values, counts):
            ax.text(min(value, 1.0) + 0.01, y, count, va="center", fontsize=8)
        ax.set_yticks(list(ys), [r.name for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.15)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
    fig.tight_layout()
    return _png(fig)


def _rule_plot(ev: Evaluation, plt) -> str:
    """Each rule's share of the alert weight on mules against on other accounts: which rules false positives rest on."""
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.35 * max(len(ev.rules), 1)))
    ys = range(len(ev.rules))
    ax.barh([y - 0.2 for y in ys], [r.mule_weight_share or 0 for r in ev.rules], height=0.4, color=_MULES,
            label="on mules (true positives)")
    ax.barh([y + 0.2 for y in ys], [r.other_weight_share or 0 for r in ev.rules], height=0.4, color=_OTHERS,
            label="on other accounts (false positives)")
    ax.set_yticks(list(ys), [r.rule_id for r in ev.rules], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of the summed rule weights of the alerts on that side")
    ax.set_title("Rule weight in alerts on mules and on other accounts")
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def _volume_plot(ev: Evaluation, plt) -> str:
    fig, ax = plt.subplots(figsize=(9, 3.5))
    if ev.volume_by_day:
        days = [datetime.fromisoformat(d) for d, _, _ in ev.volume_by_day]
        ax.bar(days, [m for _, m, _ in ev.volume_by_day], label="on mules", color=_MULES)
        ax.bar(days, [o for _, _, o in ev.volume_by_day], bottom=[m for _, m, _ in ev.volume_by_day],
               label="on other accounts", color=_OTHERS)
        ax.legend()
        fig.autofmt_xdate()
    ax.set_xlabel("day (of the alert's window end)")
    ax.set_ylabel("alerts")
    ax.set_title("Alert volume per day")
    return _png(fig)


def _ttd_plot(ev: Evaluation, plt) -> str:
    fig, ax = plt.subplots(figsize=(9, 3.5))
    if ev.ttd_hours:
        ax.hist(ev.ttd_hours, bins=min(40, max(5, len(ev.ttd_hours) // 3)), color="#8172b2")
        for value, name in ((ev.ttd_median_h, "median"), (ev.ttd_p90_h, "p90")):
            ax.axvline(value, color="black", ls="--" if name == "p90" else "-", lw=1)
            ax.text(value, ax.get_ylim()[1] * 0.9, f" {name} {value:.1f} h", fontsize=8)
    ax.set_xlabel("hours from misuse start to first alert")
    ax.set_ylabel("mules")
    ax.set_title("Time to detect")
    return _png(fig)


def _plots(ev: Evaluation) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return {"pr": _pr_plot(ev, plt), "typologies": _typology_plot(ev, plt), "rules": _rule_plot(ev, plt),
            "volume": _volume_plot(ev, plt), "ttd": _ttd_plot(ev, plt)}


def _table(table: Table) -> str:
    e = html.escape

    def row(cells: list[str], tag: str, cls: str = "") -> str:
        return f"<tr{cls}>" + "".join(
            f"<{tag}{' class=l' if i < table.text_columns else ''}>{e(c)}</{tag}>" for i, c in enumerate(cells)) + "</tr>"

    body = [row(table.head, "th"), *(row(r, "td") for r in table.rows)]
    if table.total:
        body.append(row(table.total, "td", ' class="total"'))
    summary = f"<p><b>{e(table.summary)}</b></p>" if table.summary else ""
    return f"<h2>{e(table.title)}</h2>\n<table>{''.join(body)}</table>\n{summary}<p class=note>{e(table.note)}</p>"


def _img(alt: str, data: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}tr.total td{font-weight:bold}
.note{color:#555;font-size:0.9em}ul.reasons{margin:0;padding-left:1.2em;text-align:left}
"""


def _false_positives(ev: Evaluation) -> str:
    e = html.escape
    rows = []
    for fp in ev.false_positives:
        reasons = "".join(f"<li>{e(r)}</li>" for r in fp.reasons)
        rows.append(
            f"<tr><td class=l>{e(fp.account_id)}{'' if fp.labelled else ' (not labelled)'}</td>"
            f"<td class=l>{e(', '.join(fp.typologies))}</td><td>{fp.score}</td><td class=l>{e(fp.severity)}</td>"
            f"<td>{fp.alerts}</td><td class=l>{e(fp.first_alert)}</td><td class=l><ul class=reasons>{reasons}</ul></td></tr>"
        )
    return ("<table><tr><th class=l>account</th><th class=l>typology</th><th>score</th><th class=l>severity</th><th>alerts</th>"
            "<th class=l>first alert</th><th class=l>reasons (strongest alert)</th></tr>"
            f"{''.join(rows) or '<tr><td colspan=7 class=l>none</td></tr>'}</table>")


def render(ev: Evaluation, title: str = "mulewatch backtest") -> str:
    plots = _plots(ev)
    e = html.escape
    ttd = "no detected mule" if ev.ttd_median_h is None else f"median {ev.ttd_median_h:.1f} h, 90th percentile {ev.ttd_p90_h:.1f} h"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title><style>{_CSS}</style></head><body>
<h1>{e(title)}</h1>
<p>{ev.accounts} labelled accounts ({ev.mules} mules) over {ev.days:g} days ({e(ev.days_source)}); {ev.alerts} alerts
({ev.alert_versions} alert versions read), {ev.alerted_accounts} alerted accounts.</p>
<p><b>Workload:</b> {ev.alerts_per_10k_per_day:.2f} alerts per 10,000 accounts per day
({ev.alerted_accounts_per_10k_per_day:.2f} alerted accounts). <b>Time to detect:</b> {ttd}.</p>
{_table(budget_table(ev))}
{_img("precision-recall curve", plots["pr"])}
{_table(label_table(ev))}
{_table(alert_table(ev))}
{_img("recall by label typology and precision by alert typology", plots["typologies"])}
{_table(crosstab_table(ev, numbered=False))}
{_table(rule_table(ev))}
{_img("rule weight shares on mules and on other accounts", plots["rules"])}
<h2>Alert volume over time</h2>
{_img("alerts per day", plots["volume"])}
<h2>Time to detect</h2>
<p class=note>First alert's window end minus the label's misuse start; {ev.alerted_before_start} mules were alerted
before their misuse start (counted as 0 h).</p>
{_img("time to detect", plots["ttd"])}
<h2>Top false positives</h2>
{_false_positives(ev)}
</body></html>
"""
