"""``OUT/report.html``: one self-contained page that shows what a run did.

Sections: the funnel (documents, bytes and tokens after every stage), removals and
quarantines by reason, time per stage, distributions (document length, language, language
score, perplexity, quality scores: kept against removed), near-duplicate cluster sizes, and a
few sample documents kept and removed at every stage.  The data comes from
:func:`dataprep.report.data.collect`; this module only renders it.  Charts are inline SVG
(:mod:`dataprep.report.svg_charts`); the page loads nothing from the network.  A small inline
script marks ``<html data-render="ok">`` once every chart has been laid out, or ``"error"`` with
the messages if a script error happened, so a headless browser can check the page.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import fsspec
import numpy as np

from dataprep.io.atomic import write_bytes_atomic
from dataprep.io.layout import REPORT_FILE
from dataprep.report.data import SCORES, ReportData, collect
from dataprep.report.svg_charts import bars, binned_histogram, histogram

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1340px;color:#222;
padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px}.meta{color:#666;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:18px}.chart{background:#fafafa;border:1px solid #eee;border-radius:4px}
.chart-title{font-size:13px;font-weight:600}.label{font-size:11px;fill:#333}.value{font-size:10px;fill:#555}
.axis{stroke:#999}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.doc{font-size:12px;background:#f8f8f8;border-left:3px solid #4C78A8;
padding:6px 10px;margin:6px 0;white-space:pre-wrap;max-height:9em;overflow:hidden}.doc.removed{border-color:#E45756}
.src{color:#777;font-size:11px}.empty{color:#999;font-style:italic}
"""

CHECK = """
window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message))});
window.addEventListener('load',function(){var charts=document.querySelectorAll('svg.chart'),drawn=0;
for(var i=0;i<charts.length;i++){var b=charts[i].getBoundingClientRect();if(b.width>0&&b.height>0)drawn++;}
var root=document.documentElement;root.dataset.charts=drawn+'/'+charts.length;
root.dataset.render=(window.__errors.length===0&&drawn===charts.length&&drawn>0)?'ok':'error';
if(window.__errors.length)root.dataset.errors=window.__errors.join(' | ');});
"""


def _doc(row: dict[str, Any], removed: bool) -> str:
    text = (row.get("text") or "")[:600]
    why = f" · {html.escape(str(row['reason']))}" if row.get("reason") else ""
    source = html.escape(str(row.get("source", "")))
    return (f'<div class="doc{" removed" if removed else ""}"><div class="src">{source}'
            f'{why}</div>{html.escape(text)}{"…" if len(row.get("text") or "") > 600 else ""}</div>')


def _tokens_cell(tokens: float | None, exact: bool) -> str:
    if tokens is None:
        return ""
    return f"{int(tokens):,}" if exact else f"≈{tokens:,.0f}"


def _funnel(d: ReportData) -> str:
    labels = ["read"] + [s.label for s in d.stages]
    docs = [d.docs_read] + [s.docs_out for s in d.stages]
    mb = [d.bytes_read / 1e6] + [s.bytes_out / 1e6 for s in d.stages]
    quarantined = sum(d.quarantined.values())
    table = ["<table><tr><th class='l'>stage</th><th>docs in</th><th>docs out</th><th>removed</th><th>MB out</th>"
             "<th>tokens out</th><th>seconds</th><th>seconds / MB in</th></tr>",
             f"<tr><td class='l'>read ({d.inputs:,} inputs)</td><td>{d.inputs:,}</td><td>{d.docs_read:,}</td>"
             f"<td>{quarantined:,} quarantined</td><td>{mb[0]:.2f}</td><td></td><td>{d.read_seconds:.2f}</td>"
             f"<td></td></tr>"]
    for s in d.stages:
        table.append(f"<tr><td class='l'>{html.escape(s.label)}</td><td>{s.docs_in:,}</td><td>{s.docs_out:,}</td>"
                     f"<td>{s.removed:,}</td><td>{s.bytes_out / 1e6:.2f}</td>"
                     f"<td>{_tokens_cell(s.tokens, s.tokens_counted)}</td>"
                     f"<td>{s.seconds:.2f}</td>"
                     f"<td>{'' if s.seconds_per_mb is None else f'{s.seconds_per_mb:.3f}'}</td></tr>")
    table.append("</table>")
    token_chart = ""
    if d.bytes_per_token is not None:
        token_chart = bars(f"tokens after each stage (≈ at {d.bytes_per_token:.2f} bytes per token before tokenize)",
                           labels[1:], [s.tokens or 0.0 for s in d.stages])
    return ("<h2>Funnel</h2><div class='grid'>" + bars("documents after each stage", labels, docs)
            + bars("megabytes of text after each stage", labels, mb, unit=" MB") + token_chart
            + "</div>" + "".join(table))


def _removals_and_time(d: ReportData) -> str:
    seconds = [("read", d.read_seconds)] + [(s.label, s.seconds) for s in d.stages]
    return ("<h2>Removals and time</h2><div class='grid'>"
            + bars("documents removed or quarantined, by reason", [k for k, _ in d.reasons], [v for _, v in d.reasons])
            + bars("seconds per stage (summed over tasks)", [k for k, _ in seconds], [v for _, v in seconds], unit=" s")
            + "</div>")


def _would_remove(d: ReportData) -> str:
    """An annotate run: what each stage's thresholds would remove, had they removed."""
    if not d.would_remove:
        return ""
    rows = "".join(f"<tr><td class='l'>{html.escape(k)}</td><td>{n:,}</td><td>{first:,}</td>"
                   f"<td>{100 * n / max(d.docs_read, 1):.1f}%</td></tr>" for k, n, first in d.would_remove)
    return ("<h2>What the filters would remove (annotate run)</h2><p class='meta'>nothing was removed: each "
            "document carries would_remove (the first stage's reason) and would_remove_all (every stage's); "
            "'first' counts the documents no earlier stage would have removed</p><div class='grid'>"
            + bars("documents each reason would remove", [k for k, _, _ in d.would_remove],
                   [n for _, n, _ in d.would_remove])
            + "</div><table><tr><th class='l'>stage and reason</th><th>would remove</th><th>first</th>"
            "<th>of documents read</th></tr>" + rows + "</table>")


def _series(d: ReportData, column: str) -> dict[str, np.ndarray]:
    return {k: v for k, v in (("kept", d.kept_columns.get(column)), ("removed", d.removed_columns.get(column)))
            if v is not None and len(v)}


def _distributions(d: ReportData) -> str:
    charts = []
    if d.lengths is not None:
        charts.append(_length_chart(d.lengths))
    elif "text" in d.kept_columns or "text" in d.removed_columns:
        charts.append(histogram("document length (characters)", {k: v for k, v in
                                (("kept", d.kept_columns.get("text")), ("removed", d.removed_columns.get("text")))
                                if v is not None}, log_x=True, x_label="characters"))
    if "lang" in d.kept_columns or "lang" in d.removed_columns:
        top = d.languages()
        charts.append(bars("kept documents by language", [k for k, _ in top], [v for _, v in top]))
    for col, label, log in SCORES:
        if col in d.kept_columns or col in d.removed_columns:
            charts.append(histogram(label, _series(d, col), log_x=log, x_label=col))
    for col in d.quality_columns()[:8]:
        series = _series(d, col)
        if series and all(np.issubdtype(np.asarray(v).dtype, np.number) for v in series.values()):
            charts.append(histogram(col.replace("quality_", "quality: "), series, x_label=col))
    return ("<h2>Distributions</h2><p class='meta'>kept = documents in data/; removed = documents in removed/ "
            f"(first {d.max_rows:,} of each)</p><div class='grid'>" + "".join(charts) + "</div>")


def _clusters(d: ReportData) -> str:
    counts = d.cluster_sizes
    if counts is None or not len(counts):
        return ""
    sizes, freq = np.unique(counts + 1, return_counts=True)  # + the kept representative
    return ("<h2>Near-duplicate clusters</h2><div class='grid'>"
            + bars("clusters by size (documents, representative included)", [str(s) for s in sizes], freq.tolist())
            + "</div>" + f"<p class='meta'>{len(counts):,} clusters, "
            f"{int(counts.sum()):,} documents removed as duplicates, "
            f"largest cluster {int(counts.max()) + 1:,}</p>")


def _samples(d: ReportData) -> str:
    parts = ["<h2>Samples</h2><h3>kept (passed every stage)</h3>"] + [_doc(r, False) for r in d.kept_samples]
    for folder, rows in d.removed_samples:
        parts.append(f"<h3>removed at {html.escape(folder)}</h3>" + "".join(_doc(r, True) for r in rows))
    if d.quarantine_samples:
        parts.append("<h3>quarantined</h3>" + "".join(_doc({**r, "text": r.get("error") or ""}, True)
                                                      for r in d.quarantine_samples))
    return "".join(parts)


def render(d: ReportData) -> str:
    """The report page of ``d``."""
    header = (f"<h1>dataprep run: {html.escape(d.name)}</h1><p class='meta'>{html.escape(d.root)} · "
              f"{d.inputs:,} inputs → {d.kept:,} documents kept, {sum(d.quarantined.values()):,} quarantined · "
              f"report built {time.strftime('%Y-%m-%d %H:%M:%S')}</p>")
    body = [header, _funnel(d), _removals_and_time(d), _would_remove(d), _distributions(d), _clusters(d), _samples(d)]
    return (f"<!DOCTYPE html><html lang='en' data-render='pending'><head><meta charset='utf-8'>"
            f"<title>dataprep report: {html.escape(d.name)}</title><style>{CSS}</style><script>{CHECK}</script>"
            f"</head><body>{''.join(body)}</body></html>")


def build_report(out: str | Path, *, samples: int = 3, max_rows: int = 100_000) -> Path:
    """Write ``OUT/report.html`` from a finished run's stats and outputs; return its path."""
    path = Path(out) / REPORT_FILE
    page = render(collect(out, samples_per_reason=samples, max_rows=max_rows))
    write_bytes_atomic(fsspec.filesystem("file"), str(path), page.encode("utf-8"))
    return path


def _length_chart(lengths: dict[str, Any]) -> str:
    """The document-length histogram from stats.json's counts per length bin (empty documents,
    bin -1, have no place on a log scale)."""
    per_decade = lengths["bins_per_decade"]
    series = {k: {int(b): n for b, n in lengths.get(k, {}).items() if int(b) >= 0} for k in ("kept", "removed")}
    used = [b for counts in series.values() for b in counts]
    if not used:
        return binned_histogram("document length (characters)", np.array([1.0, 10.0]), {})
    lo, hi = min(used), max(used)
    edges = 10.0 ** (np.arange(lo, hi + 2) / per_decade)
    counts = {k: np.array([c.get(b, 0) for b in range(lo, hi + 1)]) for k, c in series.items() if c}
    return binned_histogram("document length (characters)", edges, counts, log_x=True, x_label="characters")
