"""A self-contained HTML backtest report: tables and matplotlib plots embedded as base64 PNG.

The file opens offline: no scripts, fonts or images are fetched from anywhere.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime

from stream.backtest.evaluation.metrics import Evaluation, _fmt


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(ev: Evaluation) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plots: dict[str, str] = {}

    rows = [r for r in ev.typologies] + [ev.overall]
    fig, ax = plt.subplots(figsize=(9, 4))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r.precision or 0 for r in rows], width=0.4, label="precision", color="#4c72b0")
    ax.bar([x + 0.2 for x in xs], [r.recall or 0 for r in rows], width=0.4, label="recall", color="#dd8452")
    ax.set_xticks(list(xs), [r.name.replace("_", "\n") for r in rows], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.legend(loc="lower right")
    ax.set_title("Precision (by alert typology) and recall (by label typology)")
    plots["bars"] = _png(fig)

    fig, ax = plt.subplots(figsize=(9, 3.5))
    if ev.volume_by_day:
        days = [datetime.fromisoformat(d) for d, _, _ in ev.volume_by_day]
        ax.bar(days, [m for _, m, _ in ev.volume_by_day], label="on mules", color="#55a868")
        ax.bar(days, [o for _, _, o in ev.volume_by_day], bottom=[m for _, m, _ in ev.volume_by_day],
               label="on other accounts", color="#c44e52")
        ax.legend()
        fig.autofmt_xdate()
    ax.set_ylabel("alerts")
    ax.set_title("Alert volume per day (by the alert's window end)")
    plots["volume"] = _png(fig)

    fig, ax = plt.subplots(figsize=(9, 3.5))
    if ev.ttd_hours:
        ax.hist(ev.ttd_hours, bins=min(40, max(5, len(ev.ttd_hours) // 3)), color="#8172b2")
        for value, name in ((ev.ttd_median_h, "median"), (ev.ttd_p90_h, "p90")):
            ax.axvline(value, color="black", ls="--" if name == "p90" else "-", lw=1)
            ax.text(value, ax.get_ylim()[1] * 0.9, f" {name} {value:.1f} h", fontsize=8)
    ax.set_xlabel("hours from misuse start to first alert")
    ax.set_ylabel("mules")
    ax.set_title("Time to detect")
    plots["ttd"] = _png(fig)
    return plots


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}tr.total td{font-weight:bold}
.note{color:#555;font-size:0.9em}ul.reasons{margin:0;padding-left:1.2em;text-align:left}
"""


def render(ev: Evaluation, title: str = "mulewatch backtest") -> str:
    plots = _plots(ev)
    e = html.escape
    rows = []
    for row in [*ev.typologies, ev.overall]:
        cls = ' class="total"' if row is ev.overall else ""
        rows.append(
            f"<tr{cls}><td class=l>{e(row.name)}</td><td>{row.mules}</td><td>{row.detected}</td><td>{_fmt(row.recall)}</td>"
            f"<td>{row.alerted}</td><td>{_fmt(row.precision)}</td><td>{_fmt(row.f1)}</td><td>{_fmt(row.agreement)}</td></tr>"
        )
    fps = []
    for fp in ev.false_positives:
        reasons = "".join(f"<li>{e(r)}</li>" for r in fp["reasons"])
        fps.append(
            f"<tr><td class=l>{e(fp['account_id'])}{'' if fp['labelled'] else ' (not labelled)'}</td><td class=l>{e(fp['typology'])}</td>"
            f"<td>{fp['score']}</td><td class=l>{e(fp['severity'])}</td><td>{fp['alerts']}</td>"
            f"<td class=l>{e(fp['first_alert'])}</td><td class=l><ul class=reasons>{reasons}</ul></td></tr>"
        )
    ttd = "no detected mule" if ev.ttd_median_h is None else f"median {ev.ttd_median_h:.1f} h, 90th percentile {ev.ttd_p90_h:.1f} h"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title><style>{_CSS}</style></head><body>
<h1>{e(title)}</h1>
<p>{ev.accounts} labelled accounts over {ev.days:g} days ({e(ev.days_source)}); {ev.alerts} alerts
({ev.alert_versions} alert versions read), {ev.overall.alerted} alerted accounts.</p>
<p><b>Workload:</b> {ev.alerts_per_10k_per_day:.2f} alerts per 10,000 accounts per day
({ev.alerted_accounts_per_10k_per_day:.2f} alerted accounts). <b>Time to detect:</b> {ttd}.</p>
<h2>Account-level precision and recall</h2>
<table><tr><th class=l>typology</th><th>mules</th><th>detected</th><th>recall</th><th>alerted accounts</th>
<th>precision</th><th>F1</th><th>typology agreement</th></tr>{''.join(rows)}</table>
<p class=note>An account is detected when any alert names it. Recall per typology: share of that typology's
mules (by label) with any alert. Precision per typology is attributed by the alert's typology: of the accounts
with an alert of that typology, the share that are mules of any typology. Typology agreement: detected mules of
the typology with an alert of the same typology. Alerted accounts missing from the labels count as false
positives ({ev.unlabelled_alerted} here).</p>
<img alt="precision and recall per typology" src="data:image/png;base64,{plots['bars']}">
<h2>Alert volume over time</h2>
<img alt="alerts per day" src="data:image/png;base64,{plots['volume']}">
<h2>Time to detect</h2>
<p class=note>First alert's window end minus the label's misuse start; {ev.alerted_before_start} mules were alerted
before their misuse start (counted as 0 h).</p>
<img alt="time to detect" src="data:image/png;base64,{plots['ttd']}">
<h2>Top false positives</h2>
<table><tr><th class=l>account</th><th class=l>typology</th><th>score</th><th class=l>severity</th><th>alerts</th>
<th class=l>first alert</th><th class=l>reasons (highest-scoring alert)</th></tr>{''.join(fps) or '<tr><td colspan=7 class=l>none</td></tr>'}</table>
</body></html>
"""
