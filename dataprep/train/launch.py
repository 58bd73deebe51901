"""Start the pipeline ranks: N local processes (gloo on CPU, NCCL on CUDA), or join torchrun's.

``dataprep train CONFIG --nproc N`` starts N copies of ``python -m dataprep.train.launch`` with
the environment ``torchrun`` would set (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT`` on a free local port), streams their output, and fails as soon as
one fails (the others are stopped).  Under ``torchrun`` (those variables already set) each
process trains directly.  Writing this by hand rather than calling torchrun keeps ``--nproc``
working without an extra executable on the PATH; it is a dozen lines of ``subprocess``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

from dataprep.train.config import TrainConfig, load_train_config


def under_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_this_rank(cfg: TrainConfig, resume: bool) -> None:
    """Join the process group described by the environment and train."""
    import torch.distributed as dist  # here, not at the top: the CLI starts ranks without importing torch

    from dataprep.train.trainer import train_rank

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("nccl" if cfg.uses_cuda else "gloo", rank=rank, world_size=world,
                            timeout=timedelta(minutes=10))
    try:
        train_rank(cfg, rank, world, resume=resume, echo=rank == 0)
    finally:
        dist.destroy_process_group()


def run_in_process(cfg: TrainConfig, resume: bool, debug: bool = False) -> int:
    """Train as the only rank, in this process (``--nproc 1``: no second interpreter to start)."""
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": "1",
                       "RANK": "0", "LOCAL_RANK": "0"})
    try:
        run_this_rank(cfg, resume)
    except Exception as exc:
        if debug:
            raise
        print(f"error: rank 0: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
    finally:
        for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK"):
            os.environ.pop(key, None)
    return 0


def spawn(config: str, nproc: int, overrides: list[str], resume: bool, debug: bool = False) -> int:
    """Run ``nproc`` ranks as local processes; the exit code of the first to fail, else 0."""
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": str(nproc),
           "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc))}
    cmd = [sys.executable, "-m", "dataprep.train.launch", config] + [a for o in overrides for a in ("--set", o)]
    if resume:
        cmd.append("--resume")
    if debug:
        cmd.append("--debug")
    procs = [subprocess.Popen(cmd, env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in range(nproc)]
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                rank, code = failed[0]
                print(f"error: rank {rank} exited with code {code}; stopping the other ranks", file=sys.stderr)
                return code if code > 0 else 1
            if all(c == 0 for c in codes):
                return 0
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one pipeline rank (started by `dataprep train` or torchrun)")
    parser.add_argument("config")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        cfg = load_train_config(args.config, args.overrides)
        if cfg.pipeline.schedule == "auto":  # started by torchrun directly: every rank resolves it alike
            from dataprep.train.schedule_search import resolve_auto

            chosen, why = resolve_auto(cfg, int(os.environ.get("WORLD_SIZE", "1")), args.config)
            if os.environ.get("RANK", "0") == "0":
                print(why, file=sys.stderr)
            cfg = load_train_config(args.config, [*args.overrides, *chosen])
        run_this_rank(cfg, args.resume)
    except Exception as exc:
        if args.debug:
            raise
        print(f"error: rank {os.environ.get('RANK', '?')}: {type(exc).__name__}: {exc} "
              "(run with --debug for the traceback)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
