"""Measured versus simulated: a training run's recorded timeline, its prediction, and the PNGs.

``OUT/timeline.json`` (written by the trainer) holds the schedule shape, the mean measured
seconds of each op kind per stage (``F3``, ``B0``, ``I2``, ``W2``...) over the steps after the
first, and the spans of one step on every rank.  :func:`predict` feeds those costs to the
simulator, so the measured bubble can be compared with what the op costs alone imply.
:func:`predict_with_spread` does the same with each op's time drawn from the recorded step's
spread of that op, which the mean costs leave out (see its docstring).
:func:`write_training_pngs` draws ``loss.png``, ``throughput.png`` and ``timeline.png``
(measured beside simulated) next to ``metrics.jsonl``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.io.atomic import atomic_path
from dataprep.train.gantt import draw_gantt
from dataprep.train.schedules import get_schedule, rank_actions
from dataprep.train.simulate import OpCosts, SimResult, Span, parse_action, simulate


def load_timeline(out: str | Path) -> dict[str, Any]:
    path = Path(out) / "timeline.json" if Path(out).is_dir() else Path(out)
    return json.loads(path.read_text())


def measured_costs(doc: dict[str, Any]) -> OpCosts:
    """Per-stage op costs from a timeline.  A stage that ran only full backwards has ``b`` = its
    ``B`` and ``w`` = 0; one that ran both (DualPipe-V splits only its last microbatches) keeps its
    measured ``B`` apart (``full``), which is less than its ``I`` and ``W`` together."""
    stages = doc["ranks"] * doc["stages_per_rank"]
    c = doc["op_costs_s"]
    f = [c.get(f"F{s}", 0.0) for s in range(stages)]
    b = [c.get(f"I{s}", c.get(f"B{s}", 0.0)) for s in range(stages)]
    w = [c.get(f"W{s}", 0.0) for s in range(stages)]
    full = [c.get(f"B{s}") for s in range(stages)]
    return OpCosts(f, b, w, s=c.get("S-1", 0.0), t=c.get("T-1", 0.0),  # vocabulary passes: stage -1
                   full=full if any(x is not None for x in full) else None)


def predict(doc: dict[str, Any], comm: float | None = None) -> SimResult:
    """Simulate the run's schedule with its measured op costs and ``comm`` seconds per transfer
    (default: the transfer time the trainer measured, ``comm_s``)."""
    return simulate(*_simulation_inputs(doc, comm))


def _simulation_inputs(doc: dict[str, Any], comm: float | None) -> tuple[Any, ...]:
    """:func:`dataprep.train.simulate.simulate`'s positional arguments for the run's schedule."""
    comm = doc.get("comm_s", 0.0) if comm is None else comm
    spec = get_schedule(doc["schedule"])
    costs = dataclasses.replace(measured_costs(doc), comm=comm)
    if "order" in doc:  # an order computed for that run (zb-auto, V-Half, V-Min, vocabulary parallel)
        actions = {int(r): [parse_action(a) for a in acts] for r, acts in doc["order"].items()}
    else:
        actions = rank_actions(doc["schedule"], doc["ranks"], doc["microbatches"], doc["stages_per_rank"])
    return actions, spec.stage_to_rank(doc["ranks"]), doc["ranks"] * doc["stages_per_rank"], costs


def op_spread(doc: dict[str, Any]) -> dict[tuple[str, int, int], list[float]]:
    """Per op kind, stage and rank, the recorded step's durations of that op over the step's mean
    of that kind and stage.  A stage runs on one rank; the vocabulary passes (stage -1) run on
    every rank, and a rank whose passes run slower than the others' keeps factors above 1, so the
    prediction sees it wait less and make the others wait more."""
    durations: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    pooled: dict[tuple[str, int], list[float]] = defaultdict(list)  # the same, over the ranks
    for span in measured_spans(doc):
        durations[(span.kind, span.stage, span.rank)].append(span.end - span.start)
        pooled[(span.kind, span.stage)].append(span.end - span.start)
    means = {key: statistics.fmean(values) for key, values in pooled.items()}
    return {key: [v / means[key[:2]] for v in values] if means[key[:2]] > 0 else [1.0] * len(values)
            for key, values in durations.items()}


@dataclass(frozen=True)
class SpreadPrediction:
    """The bubble and step time :func:`predict_with_spread` expects: means over ``trials``, and the
    bubble's standard deviation over them."""
    mean_bubble: float
    bubble_sd: float
    step_time: float
    trials: int


def predict_with_spread(doc: dict[str, Any], comm: float | None = None, *, trials: int = 200,
                        seed: int | None = None) -> SpreadPrediction:
    """:func:`predict` with op times that spread as the run's did, averaged over ``trials``.

    The mean costs give a rank no wait where the schedule has it meet another rank in step with
    it: at a vocabulary pass's collective or a send, both arrive together.  A real op's time
    spreads (on a shared CPU by 10-20%), and at each meeting the faster rank waits for the
    slower: the more meetings per step, the more idle time the means leave out (vocabulary
    parallelism meets every rank twice per microbatch).  Here every op the simulation runs costs
    its mean times a factor drawn, independently and with replacement, from :func:`op_spread` of
    the same op kind, stage and rank (1 where the step recorded none).  Seeded (default: the training
    config's ``seed``, which the trainer writes into the timeline): the same timeline gives the
    same prediction."""
    spread = op_spread(doc)
    rng = random.Random(doc.get("seed", 0) if seed is None else seed)

    def jitter(kind: str, stage: int, rank: int) -> float:
        factors = spread.get((kind, stage, rank))
        return rng.choice(factors) if factors else 1.0

    inputs = _simulation_inputs(doc, comm)  # built once: only the draws differ between trials
    results = [simulate(*inputs, jitter=jitter) for _ in range(trials)]
    bubbles = [r.mean_bubble for r in results]
    return SpreadPrediction(statistics.fmean(bubbles), statistics.pstdev(bubbles),
                            statistics.fmean(r.step_time for r in results), trials)


def measured_spans(doc: dict[str, Any]) -> list[Span]:
    return [Span(rank, kind, stage, mb, start, end) for rank, kind, stage, mb, start, end in doc["spans"]]


def draw_timeline(doc: dict[str, Any], path: str | Path) -> Path:
    """Simulated (top) and measured (bottom) timelines of one step, in milliseconds."""
    sim = predict(doc)
    def ms(spans: list[Span]) -> list[Span]:
        return [Span(s.rank, s.kind, s.stage, s.microbatch, 1e3 * s.start, 1e3 * s.end) for s in spans]

    measured = measured_spans(doc)
    return draw_gantt(path, ms(sim.spans), doc["ranks"],
                      f"{doc['schedule']}: simulated from measured op costs (bubble {100 * sim.mean_bubble:.1f}%)",
                      unit="ms", measured=ms(measured), measured_title="measured (one step)")


def write_training_pngs(out: str | Path) -> list[Path]:
    """``loss.png``, ``throughput.png`` and ``timeline.png`` in ``out`` from its metrics and timeline."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    written = []
    for name, key, label in (("loss.png", "loss", "training loss (token mean)"),
                             ("throughput.png", "tokens_per_s", "tokens / s")):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot([r["step"] for r in rows], [r[key] for r in rows], marker="." if len(rows) < 60 else None,
                label="training")
        val = [r for r in rows if key == "loss" and "val_loss" in r]
        if val:
            ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], marker="o", label="validation")
            ax.legend()
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(out / name) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        written.append(out / name)
    if (out / "timeline.json").exists():
        written.append(draw_timeline(load_timeline(out), out / "timeline.png"))
    return written
