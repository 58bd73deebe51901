"""``OUT/report.html``: one self-contained page that shows what a run did.

Sections: the funnel (documents, bytes and tokens after every stage), removals and
quarantines by reason, time per stage, distributions (document length, language, language
score, perplexity, quality scores: kept against removed), near-duplicate cluster sizes, and a
few sample documents kept and removed at every stage.  Charts are inline SVG
(:mod:`dataprep.svg_charts`); the page loads nothing from the network.  A small inline script
marks ``<html data-render="ok">`` once every chart has been laid out, or ``"error"`` with the
messages if a script error happened, so a headless browser can check the page.

Distributions read only the columns they need, from the first ``max_rows`` rows of each
folder in file order (deterministic, bounded work on large runs); document lengths come from
the counts in stats.json (every document; no text is read back).
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from dataprep.svg_charts import bars, binned_histogram, histogram

REPORT_FILE = "report.html"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1340px;color:#222;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px}.meta{color:#666;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:18px}.chart{background:#fafafa;border:1px solid #eee;border-radius:4px}
.chart-title{font-size:13px;font-weight:600}.label{font-size:11px;fill:#333}.value{font-size:10px;fill:#555}
.axis{stroke:#999}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
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


def _dataset(folder: Path) -> ds.Dataset | None:
    """Every Parquet file under ``folder`` (stages add columns: the schemas are unified)."""
    files = sorted(str(p) for p in folder.rglob("*.parquet")) if folder.exists() else []
    if not files:
        return None
    import pyarrow.parquet as pq
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    return ds.dataset(files, format="parquet", schema=schema)


def _columns(data: ds.Dataset | None, wanted: list[str], max_rows: int) -> dict[str, np.ndarray]:
    """The first ``max_rows`` values of the wanted columns that exist (text -> its length)."""
    if data is None:
        return {}
    names = list(dict.fromkeys(c for c in wanted if c in data.schema.names))
    if not names:
        return {}
    out: dict[str, list] = {c: [] for c in names}
    rows = 0
    for batch in data.to_batches(columns=names, batch_size=8192):
        for c in names:
            col = batch.column(c)
            if c == "text":
                col = pc.utf8_length(col)
            out[c].append(col.to_numpy(zero_copy_only=False) if c != "lang" else np.array(col.to_pylist(), dtype=object))
        rows += batch.num_rows
        if rows >= max_rows:
            break
    return {c: np.concatenate(v)[:max_rows] if v else np.array([]) for c, v in out.items()}


def _samples(data: ds.FileSystemDataset | None, n: int, by_reason: bool) -> list[dict[str, Any]]:
    """The first ``n`` rows (``by_reason``: of each reason, at most ``8 n`` in all), in data
    order; only the row groups holding the picked rows are read in full."""
    if data is None:
        return []
    cols = [c for c in ("id", "source", "text", "reason", "error") if c in data.schema.names]
    if not by_reason or "reason" not in cols:
        return _rows(data, np.arange(n), cols)
    codes = pc.dictionary_encode(data.to_table(columns=["reason"]).column("reason")).combine_chunks()
    codes = np.asarray(pc.fill_null(codes.indices, -1), dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    _, firsts, counts = np.unique(codes[order], return_index=True, return_counts=True)
    pick = np.sort(np.concatenate([order[f:f + min(n, c)] for f, c in zip(firsts, counts)]))[: 8 * n] \
        if len(codes) else np.zeros(0, np.int64)
    return _rows(data, pick, cols)


def _rows(data: ds.FileSystemDataset, rows: np.ndarray, columns: list[str]) -> list[dict[str, Any]]:
    """The rows at positions ``rows`` (sorted) of the dataset's files taken in order."""
    import pyarrow.parquet as pq

    out: list[dict[str, Any]] = []
    base = 0
    for path in data.files:
        if base > (rows[-1] if len(rows) else -1):
            break
        pf = pq.ParquetFile(path)
        for g in range(pf.num_row_groups):
            size = pf.metadata.row_group(g).num_rows
            inside = rows[(rows >= base) & (rows < base + size)] - base
            if len(inside):
                table = pf.read_row_group(g, columns=[c for c in columns if c in pf.schema_arrow.names])
                out += table.take(pa.array(inside)).to_pylist()
            base += size
    return out


def _doc(row: dict[str, Any], removed: bool) -> str:
    text = (row.get("text") or "")[:600]
    why = f" · {html.escape(str(row['reason']))}" if row.get("reason") else ""
    return (f'<div class="doc{" removed" if removed else ""}"><div class="src">{html.escape(str(row.get("source", "")))}'
            f'{why}</div>{html.escape(text)}{"…" if len(row.get("text") or "") > 600 else ""}</div>')


def build_report(out: str | Path, *, samples: int = 3, max_rows: int = 100_000) -> Path:
    """Write ``OUT/report.html`` from a finished run's stats and outputs; return its path."""
    root = Path(out)
    stats = json.loads((root / "stats.json").read_text())
    stages = stats["stages"]
    run = stats.get("run", {})
    body: list[str] = []
    name = run.get("name") or root.name
    inputs = stats["input"]["inputs"]
    quarantined = stats["input"]["quarantined"]
    kept = stats["output"]["docs"]
    body.append(f"<h1>dataprep run: {html.escape(str(name))}</h1><p class='meta'>{html.escape(str(root.resolve()))} · "
                f"{inputs:,} inputs → {kept:,} documents kept, {sum(quarantined.values()):,} quarantined · "
                f"report built {time.strftime('%Y-%m-%d %H:%M:%S')}</p>")

    # funnel
    labels = ["read"] + [f"{s['index']:02d} {s['stage']}" for s in stages]
    docs = [stats["input"]["docs"]] + [s["docs_out"] for s in stages]
    mb = [stats["input"]["bytes"] / 1e6] + [s["bytes_out"] / 1e6 for s in stages]
    # tokens: counted by a tokenize stage; for the stages before it (whose documents were never
    # tokenized) estimated from the bytes each kept, at the tokenizer's measured bytes per token
    counted = [s for s in stages if "tokens" in (s.get("counters") or {})]
    per_byte = counted[0]["counters"]["tokens"] / max(counted[0]["bytes_in"], 1) if counted else None

    def tokens_after(s: dict[str, Any] | None) -> tuple[str, float | None]:
        if per_byte is None or s is None:  # the raw input (HTML, WARC) is not what gets tokenized
            return "", None
        if s is not None and "tokens" in (s.get("counters") or {}):
            return f"{s['counters']['tokens']:,}", float(s["counters"]["tokens"])
        value = per_byte * s["bytes_out"]
        return f"≈{value:,.0f}", value

    table = ["<table><tr><th class='l'>stage</th><th>docs in</th><th>docs out</th><th>removed</th><th>MB out</th>"
             "<th>tokens out</th><th>seconds</th></tr>",
             f"<tr><td class='l'>read ({inputs:,} inputs)</td><td>{inputs:,}</td><td>{stats['input']['docs']:,}</td>"
             f"<td>{sum(quarantined.values()):,} quarantined</td><td>{mb[0]:.2f}</td><td>{tokens_after(None)[0]}</td>"
             f"<td>{stats['input'].get('seconds', 0):.2f}</td></tr>"]
    for s in stages:
        table.append(f"<tr><td class='l'>{s['index']:02d} {html.escape(s['stage'])}</td><td>{s['docs_in']:,}</td>"
                     f"<td>{s['docs_out']:,}</td><td>{sum(s['removed'].values()):,}</td><td>{s['bytes_out'] / 1e6:.2f}</td>"
                     f"<td>{tokens_after(s)[0]}</td><td>{s['seconds']:.2f}</td></tr>")
    table.append("</table>")
    token_chart = ""
    if per_byte is not None:
        values = [tokens_after(s)[1] or 0.0 for s in stages]
        token_chart = bars(f"tokens after each stage (≈ at {1 / per_byte:.2f} bytes per token before tokenize)",
                           labels[1:], values)
    body.append("<h2>Funnel</h2><div class='grid'>" + bars("documents after each stage", labels, docs)
                + bars("megabytes of text after each stage", labels, mb, unit=" MB") + token_chart
                + "</div>" + "".join(table))

    # reasons and time
    reasons = {f"quarantine: {k}": v for k, v in quarantined.items()}
    for s in stages:
        reasons.update({f"{s['index']:02d} {k}": v for k, v in s["removed"].items()})
    ordered = sorted(reasons.items(), key=lambda kv: -kv[1])
    seconds = [("read", stats["input"].get("seconds", 0.0))] + [(f"{s['index']:02d} {s['stage']}", s["seconds"]) for s in stages]
    body.append("<h2>Removals and time</h2><div class='grid'>"
                + bars("documents removed or quarantined, by reason", [k for k, _ in ordered], [v for _, v in ordered])
                + bars("seconds per stage (summed over tasks)", [k for k, _ in seconds], [v for _, v in seconds], unit=" s")
                + "</div>")

    # distributions
    wanted = ([] if "lengths" in stats else ["text"]) + ["lang", "lang_score", "perplexity", "quality_score"]
    kept_data, removed_data = _dataset(root / "data"), _dataset(root / "removed")
    kept_cols = _columns(kept_data, wanted + _quality_columns(kept_data), max_rows)
    removed_cols = _columns(removed_data, wanted + _quality_columns(removed_data), max_rows)
    charts = []
    if "lengths" in stats:
        charts.append(_length_chart(stats["lengths"]))
    elif "text" in kept_cols or "text" in removed_cols:
        charts.append(histogram("document length (characters)", {k: v for k, v in
                                (("kept", kept_cols.get("text")), ("removed", removed_cols.get("text"))) if v is not None},
                                log_x=True, x_label="characters"))
    if "lang" in kept_cols or "lang" in removed_cols:
        langs: dict[str, int] = {}
        for value in kept_cols.get("lang", []):
            langs[str(value)] = langs.get(str(value), 0) + 1
        top = sorted(langs.items(), key=lambda kv: -kv[1])[:15]
        charts.append(bars("kept documents by language", [k for k, _ in top], [v for _, v in top]))
    for col, label, log in (("lang_score", "language score", False), ("perplexity", "perplexity", True),
                            ("quality_score", "quality classifier score", False)):
        if col in kept_cols or col in removed_cols:
            charts.append(histogram(label, {k: v for k, v in (("kept", kept_cols.get(col)), ("removed", removed_cols.get(col)))
                                            if v is not None and len(v)}, log_x=log, x_label=col))
    quality = sorted({c for c in list(kept_cols) + list(removed_cols) if c.startswith("quality_") and c != "quality_score"})
    for col in quality[:8]:
        series = {k: v for k, v in (("kept", kept_cols.get(col)), ("removed", removed_cols.get(col))) if v is not None and len(v)}
        if series and all(np.issubdtype(np.asarray(v).dtype, np.number) for v in series.values()):
            charts.append(histogram(col.replace("quality_", "quality: "), series, x_label=col))
    body.append("<h2>Distributions</h2><p class='meta'>kept = documents in data/; removed = documents in removed/ "
                f"(first {max_rows:,} of each)</p><div class='grid'>" + "".join(charts) + "</div>")

    # near-duplicate clusters
    clusters = _columns(removed_data, ["dup_cluster"], 10 * max_rows).get("dup_cluster")
    if clusters is not None and len(clusters):
        _, counts = np.unique(clusters.astype(str), return_counts=True)
        sizes, freq = np.unique(counts + 1, return_counts=True)  # + the kept representative
        body.append("<h2>Near-duplicate clusters</h2><div class='grid'>"
                    + bars("clusters by size (documents, representative included)", [str(s) for s in sizes], freq.tolist())
                    + "</div>" + f"<p class='meta'>{len(counts):,} clusters, {int(counts.sum()):,} documents removed as duplicates, "
                    f"largest cluster {int(counts.max()) + 1:,}</p>")

    # samples
    parts = ["<h2>Samples</h2><h3>kept (passed every stage)</h3>"] + [_doc(r, False) for r in _samples(kept_data, samples, False)]
    for folder in sorted((root / "removed").iterdir()) if (root / "removed").exists() else []:
        rows = _samples(_dataset(folder), samples, True)
        if rows:
            parts.append(f"<h3>removed at {html.escape(folder.name)}</h3>" + "".join(_doc(r, True) for r in rows))
    q = _samples(_dataset(root / "quarantine"), samples, True)
    if q:
        parts.append("<h3>quarantined</h3>" + "".join(_doc({**r, "text": r.get("error") or ""}, True) for r in q))
    body.append("".join(parts))

    page = (f"<!DOCTYPE html><html lang='en' data-render='pending'><head><meta charset='utf-8'>"
            f"<title>dataprep report: {html.escape(str(name))}</title><style>{CSS}</style><script>{CHECK}</script>"
            f"</head><body>{''.join(body)}</body></html>")
    path = root / REPORT_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
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


def _quality_columns(data: ds.Dataset | None) -> list[str]:
    return [c for c in data.schema.names if c.startswith("quality_")] if data is not None else []
