"""Draw a schedule's timeline as a Gantt chart PNG: one row per rank, one box per compute action.

Boxes are coloured by kind (forward, full backward, input backward, weight backward, and the
vocabulary-parallel passes ``S`` and ``T``) and
labelled with their microbatch; a second panel can show a timeline measured in a real run
beside the simulated one, on the same time unit (milliseconds) for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dataprep.io.atomic import atomic_path
from dataprep.train.simulate import Span

COLORS = {"F": "#4C78A8", "B": "#54A24B", "I": "#72B7B2", "W": "#F58518", "S": "#B279A2", "T": "#E45756"}


def _panel(ax, spans: Sequence[Span], ranks: int, title: str, unit: str,  # noqa: ANN001 - matplotlib Axes
           row_labels: Sequence[str] | None = None) -> None:
    end = max((s.end for s in spans), default=1.0)
    for s in spans:
        ax.barh(s.rank, s.end - s.start, left=s.start, height=0.8, color=COLORS.get(s.kind, "#999999"),
                edgecolor="white", linewidth=0.5)
        if (s.end - s.start) > end / 60:
            ax.text((s.start + s.end) / 2, s.rank, f"{s.microbatch}", ha="center", va="center", fontsize=7,
                    color="white")
    ax.set_yticks(range(ranks), list(row_labels) if row_labels else [f"rank {r}" for r in range(ranks)])
    ax.invert_yaxis()
    ax.set_xlim(0, end * 1.01)
    ax.set_xlabel(unit)
    ax.set_title(title, fontsize=10)


def draw_gantt(path: str | Path, spans: Sequence[Span], ranks: int, title: str, *, unit: str = "time",
               measured: Sequence[Span] | None = None, measured_title: str = "measured",
               row_labels: Sequence[str] | None = None) -> Path:
    """Write the chart to ``path`` (PNG); with ``measured``, the two timelines one above the other;
    ``row_labels`` name the rows (e.g. with each rank's peak memory)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    panels = 2 if measured is not None else 1
    fig, axes = plt.subplots(panels, 1, figsize=(12, 0.5 + 0.55 * ranks * panels + 0.8 * panels), squeeze=False)
    _panel(axes[0][0], spans, ranks, title, unit, row_labels)
    if measured is not None:
        _panel(axes[1][0], measured, ranks, measured_title, unit)
    kinds = sorted({s.kind for s in list(spans) + list(measured or [])}, key="FBIWST".find)
    labels = {"F": "forward", "B": "backward", "I": "backward (input)", "W": "backward (weights)",
              "S": "vocabulary S (logits)", "T": "vocabulary T (gradients)"}
    fig.legend(handles=[Patch(color=COLORS[k], label=labels[k]) for k in kinds if k in COLORS],
               loc="lower center", ncol=6, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
