"""Small inline-SVG charts for the run report: horizontal bars and histograms.

Hand-written because the report must be one self-contained file that opens without network
access: an SVG string per chart needs no script library and no image files.  Every chart is
an ``<svg class="chart">`` with a ``<title>`` and text labels, so it stays readable when copied.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D"]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f}k"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.3g}"


def bars(title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "",
         colors: Sequence[str] | None = None, width: int = 640) -> str:
    """Horizontal bars, one per label, with the value written after each bar."""
    if not labels:
        return f'<p class="empty">{html.escape(title)}: nothing to show</p>'
    row, label_w, value_w = 22, min(260, 8 * max(len(str(x)) for x in labels) + 12), 90
    plot_w = width - label_w - value_w
    top = max(max(values), 1e-12)
    height = row * len(labels) + 30
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img"><title>{html.escape(title)}</title>',
             f'<text x="0" y="14" class="chart-title">{html.escape(title)}</text>']
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 24 + i * row
        w = max(1.0, plot_w * value / top) if value > 0 else 0
        color = (colors or PALETTE)[i % len(colors or PALETTE)] if colors else PALETTE[0]
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" class="label">'
                     f'{html.escape(str(label))}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{color}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" class="value">'
                     f'{_fmt(value)}{html.escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(title: str, series: dict[str, np.ndarray], *, bins: int = 30, log_x: bool = False,
              x_label: str = "", width: int = 640, height: int = 220) -> str:
    """Overlaid histograms of one or more series (e.g. kept and removed), as step outlines and fills."""
    clean = {k: np.asarray(v, dtype=np.float64) for k, v in series.items()}
    clean = {k: v[np.isfinite(v) & ((v > 0) if log_x else True)] for k, v in clean.items()}
    values = np.concatenate(list(clean.values())) if clean else np.array([])
    if values.size == 0:
        return f'<p class="empty">{html.escape(title)}: no values</p>'
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        hi = lo + 1
    edges = np.geomspace(lo, hi, bins + 1) if log_x else np.linspace(lo, hi, bins + 1)
    return binned_histogram(title, edges, {k: np.histogram(v, edges)[0] for k, v in clean.items()}, log_x=log_x,
                            x_label=x_label, width=width, height=height)


def binned_histogram(title: str, edges: np.ndarray, counts: dict[str, np.ndarray], *, log_x: bool = False,
                     x_label: str = "", width: int = 640, height: int = 220) -> str:
    """:func:`histogram` of counts already binned: ``counts[k][i]`` falls in ``edges[i]..edges[i+1]``."""
    if not counts or not any(int(np.sum(c)) for c in counts.values()):
        return f'<p class="empty">{html.escape(title)}: no values</p>'
    bins = len(edges) - 1
    top = max(int(np.max(c)) for c in counts.values()) or 1
    left, pw, ph = 48, width - 84, height - 70
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img"><title>{html.escape(title)}</title>',
             f'<text x="0" y="14" class="chart-title">{html.escape(title)}</text>',
             f'<line x1="{left}" y1="{24 + ph}" x2="{left + pw}" y2="{24 + ph}" class="axis"/>',
             f'<text x="{left - 4}" y="30" text-anchor="end" class="value">{top}</text>',
             f'<text x="{left - 4}" y="{24 + ph}" text-anchor="end" class="value">0</text>']
    step = pw / bins
    for j, (name, c) in enumerate(counts.items()):
        color = PALETTE[j % len(PALETTE)]
        for i, n in enumerate(c):
            if n:
                h = ph * n / top
                parts.append(f'<rect x="{left + i * step:.1f}" y="{24 + ph - h:.1f}" width="{max(step - 1, 1):.1f}" '
                             f'height="{h:.1f}" fill="{color}" fill-opacity="0.55"/>')
        parts.append(f'<rect x="{left + pw - 150}" y="{26 + 16 * j}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + pw - 136}" y="{35 + 16 * j}" class="label">{html.escape(name)} '
                     f'({int(np.sum(c)):,})</text>')
    for frac in (0, 0.5, 1):
        x = left + pw * frac
        v = edges[0] * (edges[-1] / edges[0]) ** frac if log_x else edges[0] + (edges[-1] - edges[0]) * frac
        parts.append(f'<text x="{x:.1f}" y="{24 + ph + 14}" text-anchor="middle" class="value">{_fmt(float(v))}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" class="label">'
                 f'{html.escape(x_label)}{" (log scale)" if log_x else ""}</text></svg>')
    return "".join(parts)
