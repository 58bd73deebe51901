"""The trainer against plain PyTorch, in one run, on the sample pages' token shards.

Same model code (:func:`dataprep.train.model.build_full`), same AdamW groups, same batch
(windows of the same tokenized run) and the same threads per process:

* ours at pp 1, dp 1 (``dataprep train --nproc 1``) against a plain loop: forward, backward,
  clip, AdamW step.  Twice: one microbatch (the plain loop's whole batch at once) and 4
  microbatches (the plain loop accumulates gradients over the same 4);
* ours at dp 2, pp 1 (``--nproc 2``, FSDP2 over 2 gloo processes) against plain
  ``DistributedDataParallel`` on 2 gloo processes (each its half of the batch);
* ours in bf16 against ours in fp32 (CPU).

Throughput is the median tokens/s over the steps after ``--warmup``, whole processes each,
alternating rounds; the table shows the medians of ``--repeat`` rounds.

    .venv/bin/python benchmarks/trainer.py [--steps 30] [--repeat 2] [--d-model 128] [--layers 4] [--only dp2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / ".work" / "trainer"
PY = sys.executable
DATAPREP = str(Path(sys.executable).parent / "dataprep")  # the installed console script


def tokens_run() -> Path:
    """The sample pages through recipes/web_to_tokens.yaml (built once)."""
    run = WORK / "web-to-tokens"
    if not (run / "tokens" / "tokens.json").exists():
        recipe = yaml.safe_load((REPO / "recipes" / "web_to_tokens.yaml").read_text())
        recipe["input"]["path"] = str(REPO / "recipes" / "data" / "web" / "**" / "*.html")
        recipe["output"]["path"] = str(run)
        path = WORK / "web_to_tokens.yaml"
        path.write_text(yaml.safe_dump(recipe))
        subprocess.run([DATAPREP, "run", str(path), "--overwrite", "--quiet"], check=True)
    return run


def config(args: argparse.Namespace, name: str, **changes: object) -> Path:
    data = {"name": name, "seed": 0, "steps": args.steps, "device": "cpu",
            "data": {"runs": str(tokens_run()), "seq_len": args.seq_len, "batch_size": args.batch_size,
                     "microbatches": 1},
            "model": {"layers": args.layers, "d_model": args.d_model, "heads": 4},
            "pipeline": {"schedule": "1f1b"},
            "optim": {"lr": 3e-3, "warmup_steps": 5, "grad_clip": 1.0},
            "output": {"path": str(WORK / "out" / name), "checkpoint_every": 0}}
    for key, value in changes.items():
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    path = WORK / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def ours(args: argparse.Namespace, name: str, nproc: int, **changes: object) -> float:
    path = config(args, name, **changes)
    subprocess.run([DATAPREP, "train", str(path), "--nproc", str(nproc)], check=True,
                   stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (WORK / "out" / name / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["tokens_per_s"] for r in rows[args.warmup:])


def plain(args: argparse.Namespace, microbatches: int, world: int = 1) -> float:
    """The plain loop (world 1) or plain DDP (world > 1) as separate processes; tokens/s."""
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_port()), "WORLD_SIZE": str(world),
           "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // world))}
    cmd = [PY, __file__, "--worker", str(microbatches), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--seq-len", str(args.seq_len), "--batch-size", str(args.batch_size), "--d-model", str(args.d_model),
           "--layers", str(args.layers)]
    procs = [subprocess.Popen(cmd, env={**env, "RANK": str(r)}, stdout=subprocess.PIPE, text=True)
             for r in range(world)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"plain worker failed: {outs}")
    return float(json.loads(outs[0].strip().splitlines()[-1])["tokens_per_s"])


def _port() -> int:
    from dataprep.train.launch import free_port

    return free_port()


def worker(args: argparse.Namespace) -> None:
    """One process of the plain loop / plain DDP."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from dataprep.train.loader import TokenLoader
    from dataprep.train.model import GPTConfig, build_full, token_loss

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
    local = args.batch_size // world
    loader = TokenLoader(tokens_run(), args.seq_len, local, seed=0, rank=rank, world_size=world)
    cfg = GPTConfig(vocab_size=loader.vocab_size, seq_len=args.seq_len, layers=args.layers, d_model=args.d_model,
                    heads=4)
    model = build_full(cfg, seed=0)
    net = DistributedDataParallel(model) if world > 1 else model
    params = list(model.parameters())
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
                                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                                  lr=3e-3, betas=(0.9, 0.95), foreach=True)  # as ours
    mbs = args.worker
    scale = 1.0 / (local * args.seq_len)
    times = []
    for _, batch in zip(range(args.steps), loader):
        if world > 1:
            dist.barrier()
        t0 = time.perf_counter()
        for x, y in zip(batch["input_ids"].chunk(mbs), batch["labels"].chunk(mbs)):
            token_loss(net(x), y, scale).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if world > 1:
            dist.barrier()
        times.append(time.perf_counter() - t0)
    if world > 1:
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps({"tokens_per_s": args.batch_size * args.seq_len / statistics.median(times[args.warmup:])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--only", help="run only the cases whose name contains this (e.g. dp2, bf16)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    WORK.mkdir(parents=True, exist_ok=True)
    tokens_run()
    cases = {
        "pp1 dp1, 1 microbatch": (lambda: ours(args, "mb1", 1), lambda: plain(args, 1), "plain loop"),
        "pp1 dp1, 4 microbatches": (lambda: ours(args, "mb4", 1, **{"data.microbatches": 4}),
                                    lambda: plain(args, 4), "plain loop, 4 accumulations"),
        "dp2 pp1": (lambda: ours(args, "dp2", 2, **{"parallel.dp": 2}), lambda: plain(args, 1, world=2),
                    "plain DDP, 2 processes"),
        "bf16 pp1 dp1": (lambda: ours(args, "bf16", 1, precision="bf16"), lambda: ours(args, "fp32", 1),
                         "ours in fp32"),
    }
    if args.only:
        cases = {k: v for k, v in cases.items() if args.only in k}
    results: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in cases}
    for _ in range(args.repeat):
        for name, (a, b, _) in cases.items():
            results[name][0].append(a())
            results[name][1].append(b())
    print(f"model: {args.layers} layers, d_model {args.d_model}, seq_len {args.seq_len}, batch {args.batch_size}; "
          f"{args.steps} steps, median tokens/s after {args.warmup}; {args.repeat} rounds (median)")
    print("| ours | tokens/s | against | tokens/s | ratio |\n|---|---|---|---|---|")
    for name, (_, _, peer) in cases.items():
        a, b = statistics.median(results[name][0]), statistics.median(results[name][1])
        print(f"| {name} | {a:,.0f} | {peer} | {b:,.0f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
