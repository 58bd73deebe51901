"""Pipeline schedules on CPU with 2 gloo processes: tokens/s, measured and simulated bubble.

Each schedule trains the same GPT (``--layers``, ``--d-model``, ``--seq-len``) for ``--steps``
steps through ``dataprep train --nproc 2`` on a tokenized run (default: the sample pages through
``recipes/web_to_tokens.yaml``, a 2,000-token vocabulary; ``--run`` takes another, e.g. the
32k-vocabulary real-corpus run ``benchmarks/.work/bench-tokens`` of ``tokenize_loader.py``).  From each
run's ``summary.json``: median tokens/s and measured bubble over the steps after the first,
and the bubble the simulator predicts from the same run's measured per-stage op costs and its
measured transfer time (a ping-pong of one microbatch's activations between the two ranks).
Ratios are against 1F1B measured in the same invocation.

The default model (d_model 256) makes each op take 20-60 ms on one CPU core.  With smaller
ops (``--d-model 128``: 10-30 ms) the measured bubble of the multi-chunk schedules runs a few
points above the simulation on a 2-core machine: the two ranks' compute threads hold both
cores, so the gloo threads that move activations wait for a core (several ms per transfer),
which the simulator's idle ping-pong transfer time does not include.

    .venv/bin/python benchmarks/pipeline_schedules.py [--steps 12] [--schedules 1f1b,zb-v]
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
SCHEDULES = ["gpipe", "1f1b", "interleaved-1f1b", "looped-bfs", "zb-h1", "zb-h2", "zb-v", "dualpipe-v"]


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
    args = parser.parse_args()
    run = tokens_run(args.run)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.schedules.split(","):
            config = {"name": f"bench-{name}", "seed": 0, "steps": args.steps, "device": "cpu",
                      "data": {"runs": str(run), "seq_len": args.seq_len, "batch_size": args.batch_size,
                               "microbatches": args.microbatches},
                      "model": {"layers": args.layers, "d_model": args.d_model, "heads": 4},
                      "pipeline": {"schedule": name}, "optim": {"warmup_steps": 2},
                      "output": {"path": f"{tmp}/{name}"}}
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(yaml.safe_dump(config))
            done = subprocess.run([DATAPREP, "train", str(path), "--nproc", "2"], cwd=ROOT, capture_output=True,
                                  text=True)
            if done.returncode:
                print(f"{name}: failed\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
                continue
            rows[name] = json.loads((Path(tmp) / name / "summary.json").read_text())
            print(f"  {name}: done", file=sys.stderr)
    base = rows.get("1f1b")
    print(f"\nrun: {run}  model: {args.layers} layers, d_model {args.d_model}, seq {args.seq_len}, "
          f"batch {args.batch_size} in {args.microbatches} microbatches, {args.steps} steps, 2 gloo processes")
    print(f"{'schedule':18s} {'tokens/s':>9s} {'x 1F1B':>7s} {'measured':>9s} {'simulated':>10s} {'diff (pp)':>10s} "
          f"{'bubble x 1F1B':>14s}")
    for name, r in rows.items():
        tps, meas, sim = r["tokens_per_s"], r["measured_bubble"], r["simulated_bubble"]
        rel_t = f"{tps / base['tokens_per_s']:.2f}" if base else "-"
        rel_b = f"{meas / base['measured_bubble']:.2f}" if base and base["measured_bubble"] > 0 else "-"
        print(f"{name:18s} {tps:9.0f} {rel_t:>7s} {100 * meas:8.1f}% {100 * sim:9.1f}% {100 * (meas - sim):+10.1f} "
              f"{rel_b:>14s}")


if __name__ == "__main__":
    main()
