"""A monitoring report as one self-contained HTML file: tables and inline SVG, no scripts.

Nothing is fetched when the file opens (no CDN, no fonts), so it can be mailed or
attached to a ticket as it is. Every name in it comes from users or clients (model and
column names, categories) and is escaped.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

COLOURS = {"ok": "#2e7d32", "warn": "#ef6c00", "drift": "#c62828"}
BASE, NOW = "#90a4ae", "#1565c0"
WIDTH, HEIGHT = 320, 90

STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:left;vertical-align:middle}th{background:#f5f5f5}.status{font-weight:bold}
.note{color:#555}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
"""


def _number(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else html.escape(str(value))


def bars(baseline: Sequence[float], window: Sequence[float], labels: Sequence[str]) -> str:
    """Baseline and window shares side by side, one pair of bars per bin or category."""
    n = max(len(baseline), 1)
    slot = WIDTH / n
    top = max([*baseline, *window, 1e-9])
    parts = [f'<svg width="{WIDTH}" height="{HEIGHT}" role="img">']
    for i, (b, w) in enumerate(zip(baseline, window, strict=False)):
        for k, (share, colour) in enumerate(((b, BASE), (w, NOW))):
            h = (HEIGHT - 12) * share / top
            x = i * slot + k * slot * 0.45 + slot * 0.05
            label = html.escape(labels[i]) if i < len(labels) else str(i)
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - 12 - h:.1f}" width="{slot * 0.4:.1f}"'
                         f' height="{h:.1f}" fill="{colour}"><title>{label}: {share:.1%}'
                         f'</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _bin_labels(column: dict[str, Any]) -> list[str]:
    if column["kind"] == "categorical":
        return [*column["categories"], "unseen"]
    cuts = column["cuts"]
    return [f"< {cuts[0]:.3g}" if i == 0 else f"≥ {cuts[i - 1]:.3g}"
            for i in range(len(cuts) + 1)] if cuts else ["all"]


def _row(name: str, column: dict[str, Any]) -> str:
    status = column["status"]
    baseline, window = list(column["baseline_shares"]), list(column["shares"])
    if column["kind"] == "categorical":
        baseline.append(column["baseline_unseen"])
        window.append(column["unseen"] or 0.0)
    cells = [html.escape(name), column["kind"],
             f'<span class="status" style="color:{COLOURS.get(status, "#555")}">'
             f"{html.escape(status)}</span>",
             _number(column["psi"]), _number(column.get("wasserstein")),
             f'{_number(column["missing"])} / {_number(column["baseline_missing"])}',
             _number(column.get("out_of_range")), _number(column.get("unseen")),
             bars(baseline, window, _bin_labels(column))]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


HEADER = ("column", "kind", "status", "PSI", "Wasserstein (σ)", "missing now / baseline",
          "out of range", "unseen", "shares: baseline vs window")


def _section(report: dict[str, Any]) -> str:
    title = f'{html.escape(report["model"])}:{report["version"]}'
    if "features" not in report:
        return f"<h2>{title}: {html.escape(report['status'])}</h2>"
    volume, window = report["volume"], report["window"]
    out = [f'<h2>{title}: <span style="color:{COLOURS.get(report["status"], "#555")}">'
           f'{html.escape(report["status"])}</span></h2>',
           f'<p>{volume["rows"]:,} logged rows in {volume["requests"]:,} requests, '
           f'{time.strftime("%Y-%m-%d %H:%M", time.gmtime(window["start"]))} to '
           f'{time.strftime("%Y-%m-%d %H:%M", time.gmtime(window["end"]))} UTC; baseline: '
           f'{html.escape(report["baseline"]["source"])} ({report["baseline"]["rows"]:,} '
           "rows)</p>",
           '<p class="legend"><span style="background:' + BASE + '"></span>baseline'
           '<span style="background:' + NOW + '"></span>window</p>',
           "<table><tr>" + "".join(f"<th>{h}</th>" for h in HEADER) + "</tr>"]
    out += [_row(name, column) for name, column in report["features"].items()]
    if report["prediction"] is not None:
        out.append(_row("(prediction)", report["prediction"]))
    out.append("</table>")
    accuracy = report.get("accuracy")
    if accuracy:
        out.append(f'<p>accuracy on {accuracy["labels"]:,} fed-back labels: '
                   f'{accuracy["accuracy"]:.1%} (95 % CI {accuracy["low"]:.1%}–'
                   f'{accuracy["high"]:.1%})</p>')
    out += [f'<p class="note">{html.escape(n)}</p>' for n in report.get("notes", [])]
    return "\n".join(out)


def render(reports: list[dict[str, Any]]) -> str:
    """The whole page for the reports of one ``modelport monitor`` call."""
    thresholds: dict[str, Any] = next((r["thresholds"] for r in reports if "thresholds" in r),
                                      {})
    rules = ", ".join(f'{html.escape(k)} warn ≥ {v["warn"]:g}, drift ≥ {v["drift"]:g}'
                      for k, v in thresholds.items())
    body = "\n".join(_section(r) for r in reports)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>modelport monitor"
            f"</title><style>{STYLE}</style></head><body><h1>modelport monitor</h1>{body}"
            f'<p class="note">Judged by effect size (net of sampling noise): {rules}.</p>'
            "</body></html>\n")
