"""Pipeline schedules on CPU with 2 gloo processes: tokens/s, measured and simulated bubble.

Each schedule trains the same GPT (``--layers``, ``--d-model``, ``--seq-len``) for ``--steps``
steps through ``dataprep train --nproc 2`` on a tokenized run (default: the sample pages through
``recipes/web_to_tokens.yaml``, a 2,000-token vocabulary; ``--run`` takes another, e.g. the
32k-vocabulary real-corpus run ``benchmarks/.work/bench-tokens`` of ``tokenize_loader.py``).  From each
run's ``summary.json``: median tokens/s and measured bubble over the steps after the first,
and the bubble the simulator predicts from the same run's measured per-stage op costs and its
measured transfer time (a ping-pong of one microbatch's activations between the two ranks).
Ratios are against 1F1B measured in the same invocation.  "sim spread" is the same simulation
with each op's time drawn from the spread of that op's recorded times instead of their mean
(``dataprep.train.timeline.predict_with_spread``, 200 seeded trials): the idle that ranks
meeting each other with unequal op times add (the vocabulary passes meet twice per microbatch).

The default model (d_model 256) makes each op take 20-60 ms on one CPU core.  A receive posted
just before the compute that needs it cost about 5 ms on this 2-core machine (the idle ping-pong
takes 0.1 ms), so on gloo the trainer posts every receive one compute action early
(``dataprep/train/recv_prefetch.py``): looped BFS, whose second rank met that wait at every
microbatch, went from 4.5-5.6 points of bubble over the simulation to about 3.  With smaller ops
(``--d-model 128``: 10-30 ms) the multi-chunk schedules still run a few points over: the two
ranks' compute threads hold both cores and the gloo threads that move activations wait for one.

``--vocab-size N`` pads the model's vocabulary to N rows (``model.vocab_size``) with a small
``--d-model``: the large-vocabulary case, where the head dominates the last stage.  With it,
each schedule runs three times: ``balance: cost``, ``balance: uniform`` (the naive equal-blocks
split) and ``vocab-parallel`` (``balance: cost`` with ``pipeline.vocab_parallel``: the embedding
and the output layer split over both ranks).  Every row also gives the measured peak memory
per rank (``peak_memory_mb_per_rank``; on CPU the process's RSS high-water mark), the
simulated peak activations (in microbatches of a rank's activations, from the same action
lists) and max/min per-rank busy time of the measured step (how evenly the split spreads the
work).

    .venv/bin/python benchmarks/pipeline_schedules.py [--steps 12] [--schedules 1f1b,zb-v]
    .venv/bin/python benchmarks/pipeline_schedules.py --vocab-size 65536 --d-model 64 --layers 4
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATAPREP = str(Path(sys.executable).parent / "dataprep")
SCHEDULES = ["gpipe", "1f1b", "interleaved-1f1b", "looped-bfs", "zb-h1", "zb-h2", "zb-auto", "zb-v", "v-half",
             "v-min", "dualpipe-v"]


def tokens_run(given: str | None) -> Path:
    if given:
        return Path(given)
    sample = ROOT / "out" / "web-to-tokens"
    if not (sample / "tokens" / "tokens.json").exists():
        subprocess.run([DATAPREP, "run", "recipes/web_to_tokens.yaml", "--overwrite"], cwd=ROOT, check=True)
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--microbatches", type=int, default=8)
    parser.add_argument("--schedules", default=",".join(SCHEDULES))
    parser.add_argument("--run", help="tokenized run to train on (default: the sample pages' run)")
    parser.add_argument("--vocab-size", type=int, help="pad the model's vocabulary (the large-vocabulary case)")
    parser.add_argument("--balances", help="with --vocab-size: which of cost,uniform,vocab-parallel (default all)")
    args = parser.parse_args()
    run = tokens_run(args.run)
    rows = {}
    balances = (args.balances or "cost,uniform,vocab-parallel").split(",") if args.vocab_size else ["cost"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.schedules.split(","):
            for balance in balances:
                if balance == "vocab-parallel" and name == "dualpipe-v":
                    continue  # its overlapped pairs leave no place for the vocabulary passes
                key = name if not args.vocab_size else f"{name}/{balance}"
                tag = key.replace("/", "-")
                model = {"layers": args.layers, "d_model": args.d_model, "heads": 4}
                if args.vocab_size:
                    model["vocab_size"] = args.vocab_size
                config = {"name": f"bench-{tag}", "seed": 0, "steps": args.steps, "device": "cpu",
                          "data": {"runs": str(run), "seq_len": args.seq_len, "batch_size": args.batch_size,
                                   "microbatches": args.microbatches},
                          "model": model, "pipeline": {"schedule": name,
                                                       "balance": "cost" if balance == "vocab-parallel" else balance,
                                                       "vocab_parallel": balance == "vocab-parallel"},
                          "optim": {"warmup_steps": 2}, "output": {"path": f"{tmp}/{tag}"}}
                path = Path(tmp) / f"{tag}.yaml"
                path.write_text(yaml.safe_dump(config))
                done = subprocess.run([DATAPREP, "train", str(path), "--nproc", "2"], cwd=ROOT, capture_output=True,
                                      text=True)
                if done.returncode:
                    print(f"{key}: failed\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
                    continue
                rows[key] = json.loads((Path(tmp) / tag / "summary.json").read_text())
                rows[key]["extra"] = step_shape(Path(tmp) / tag)
                print(f"  {key}: done", file=sys.stderr)
    base = rows.get("1f1b") or rows.get("1f1b/cost")
    vocab = f", vocabulary padded to {args.vocab_size}" if args.vocab_size else ""
    print(f"\nrun: {run}  model: {args.layers} layers, d_model {args.d_model}, seq {args.seq_len}{vocab}, "
          f"batch {args.batch_size} in {args.microbatches} microbatches, {args.steps} steps, 2 gloo processes")
    print(f"{'schedule':24s} {'tokens/s':>9s} {'x 1F1B':>7s} {'measured':>9s} {'simulated':>10s} {'diff (pp)':>10s} "
          f"{'sim spread':>11s} {'diff (pp)':>10s} "
          f"{'bubble x 1F1B':>14s} {'peak MB/rank':>14s} {'sim peak mb':>12s} {'busy max/min':>13s}")
    for name, r in rows.items():
        tps, meas, sim = r["tokens_per_s"], r["measured_bubble"], r["simulated_bubble"]
        spread = r["simulated_bubble_with_spread"]
        rel_t = f"{tps / base['tokens_per_s']:.2f}" if base else "-"
        rel_b = f"{meas / base['measured_bubble']:.2f}" if base and base["measured_bubble"] > 0 else "-"
        peak = "/".join(f"{m:.0f}" for m in r.get("peak_memory_mb_per_rank", []))
        e = r["extra"]
        print(f"{name:24s} {tps:9.0f} {rel_t:>7s} {100 * meas:8.1f}% {100 * sim:9.1f}% {100 * (meas - sim):+10.1f} "
              f"{100 * spread:10.1f}% {100 * (meas - spread):+10.1f} "
              f"{rel_b:>14s} {peak:>14s} {e['sim_peak']:>12s} {e['busy_ratio']:13.2f}")


def step_shape(out: Path) -> dict:
    """From the run's timeline: the simulated peak activations per rank and max/min measured busy time."""
    from dataprep.train.timeline import load_timeline, measured_spans, predict

    doc = load_timeline(out)
    spans = measured_spans(doc)
    busy = [sum(s.end - s.start for s in spans if s.rank == r) for r in range(doc["ranks"])]
    sim = predict(doc)
    return {"sim_peak": "/".join(f"{m:.1f}" for m in sim.peak_microbatches), "busy_ratio": max(busy) / min(busy)}


if __name__ == "__main__":
    main()
