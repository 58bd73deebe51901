"""The training loop of one pipeline rank: loader -> schedule step -> clip -> AdamW -> metrics.

Every rank runs :func:`train_rank` in its own process (started by :mod:`dataprep.train.launch`
or by ``torchrun``).  Rank ``r`` holds the stages the schedule places on it.  The rank holding
stage 0 feeds ``input_ids``, the rank holding the last stage feeds ``labels`` and computes the
loss; both read the same deterministic stream from :class:`dataprep.loader.TokenLoader`.

Per step: a barrier lines the ranks up, the schedule runs every microbatch forward and
backward (the loss is the token-mean cross-entropy: each microbatch's summed loss divided by
the tokens in the whole batch, so gradients need no rescaling), the global gradient norm is
all-reduced and clipped, AdamW steps, and the LR follows linear warm-up then cosine decay.
Rank 0 logs loss, tokens/s and the measured bubble (each rank's idle share of the schedule's
wall time, from timing its compute actions) to ``metrics.jsonl`` and the console.

Checkpoints (``checkpoints/step-NNNNNN/``) hold, per rank, the stage weights, optimizer, LR
schedule and loader state; a folder becomes visible (renamed from ``.tmp``) only when every
rank has written its part.  They load with ``torch.load(weights_only=True)``: nothing in them
can run code.  Resuming restores all of it, so steps after a resume produce the same losses as
an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from dataprep.io.atomic import write_local_atomic
from dataprep.train.config import TrainConfig
from dataprep.train.loader import TokenLoader
from dataprep.train.model import token_loss
from dataprep.train.pipeline import RankPipeline, build_rank_pipeline
from dataprep.train.preflight import gpt_config
from dataprep.train.schedules import get_schedule

CHECKPOINTS = "checkpoints"


class TokenMeanLoss:
    """Summed token cross-entropy of a microbatch over the tokens of the whole batch."""

    def __init__(self, tokens_per_batch: int) -> None:
        self.scale = 1.0 / tokens_per_batch

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return token_loss(logits, labels, self.scale)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to 1, then cosine decay to ``min_lr / lr`` at the last step."""
    o = cfg.optim
    if step < o.warmup_steps:
        return (step + 1) / o.warmup_steps
    span = max(1, cfg.steps - o.warmup_steps)
    progress = min(1.0, (step - o.warmup_steps) / span)
    floor = o.min_lr / o.lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint folder (``.tmp`` folders are incomplete and ignored)."""
    done = sorted(p for p in (out / CHECKPOINTS).glob("step-*") if p.is_dir() and not p.name.endswith(".tmp")
                  and (p / "meta.json").exists())
    return done[-1] if done else None


def read_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """One rank's checkpoint, loaded with ``weights_only=True``: tensors, numbers, strings and
    containers only; a file that would need to import or run code is refused."""
    return torch.load(path, map_location=device, weights_only=True)


class RankTrainer:
    """State and step of one rank; see the module docstring."""

    def __init__(self, cfg: TrainConfig, rank: int, world: int, device: torch.device) -> None:
        self.cfg, self.rank, self.world, self.device = cfg, rank, world, device
        self.out = Path(cfg.output.path)
        spec = get_schedule(cfg.pipeline.schedule)
        self.spec = spec
        self.stages_per_rank = cfg.pipeline.stages_per_rank or spec.default_stages_per_rank
        self.loader = TokenLoader(cfg.run_weights, cfg.data.seq_len, cfg.data.batch_size, seed=cfg.seed,
                                  prefetch=cfg.data.prefetch)
        self.gpt = gpt_config(cfg, self.loader.vocab_size)
        self.tokens_per_step = cfg.data.batch_size * cfg.data.seq_len
        self.pipe: RankPipeline = build_rank_pipeline(
            self.gpt, spec, rank=rank, ranks=world, stages_per_rank=self.stages_per_rank,
            microbatches=cfg.data.microbatches, seed=cfg.seed, loss_fn=TokenMeanLoss(self.tokens_per_step),
            device=device, balance=cfg.pipeline.balance)
        params = self.pipe.parameters()
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        o = cfg.optim
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=o.lr, betas=o.betas)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, cfg))
        self.step = 0
        self.needs_data = self.pipe.has_first or self.pipe.has_last

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "modules": {str(s): m.state_dict() for s, m in self.pipe.modules.items()},
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "loader": self.loader.state_dict()}

    def save(self) -> Path:
        final = self.out / CHECKPOINTS / f"step-{self.step:06d}"
        tmp = final.with_name(final.name + ".tmp")
        if self.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        dist.barrier()
        torch.save(self.state_dict(), tmp / f"rank-{self.rank}.pt")
        dist.barrier()
        if self.rank == 0:
            write_local_atomic(tmp / "meta.json", json.dumps({"step": self.step, "ranks": self.world,
                                                              "schedule": self.cfg.pipeline.schedule}))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        dist.barrier()
        return final

    def load(self, folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text())
        if meta["ranks"] != self.world or meta["schedule"] != self.cfg.pipeline.schedule:
            raise ValueError(f"{folder} was written by {meta['ranks']} ranks with schedule {meta['schedule']}; "
                             f"this run has {self.world} ranks and {self.cfg.pipeline.schedule}")
        state = read_checkpoint(folder / f"rank-{self.rank}.pt", self.device)
        for s, module in self.pipe.modules.items():
            module.load_state_dict(state["modules"][str(s)])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.loader.load_state_dict(state["loader"])
        self.step = int(state["step"])

    # -- one step -------------------------------------------------------------------------------
    def train_step(self, batch: dict[str, torch.Tensor] | None) -> dict[str, Any]:
        inputs = labels = None
        if batch is not None:
            inputs, labels = batch["input_ids"].to(self.device), batch["labels"].to(self.device)
        self.pipe.timer.take()
        dist.barrier()
        t0 = time.perf_counter()
        losses = self.pipe.step(inputs, labels)
        t1 = time.perf_counter()
        records = self.pipe.timer.take()
        params = self.pipe.parameters()
        # squared gradient norm and loss of this rank, summed on the device: one host sync, in the all-reduce
        zero = torch.zeros((), dtype=torch.float64, device=self.device)
        grads = [p.grad.double().pow(2).sum() for p in params if p.grad is not None]
        sq = torch.stack([torch.stack(grads).sum() if grads else zero,
                          torch.stack([x.detach().double() for x in losses]).sum() if losses else zero])
        dist.all_reduce(sq)
        grad_norm, loss = math.sqrt(float(sq[0])), float(sq[1])
        clip = self.cfg.optim.grad_clip
        if clip is not None and grad_norm > clip:
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(clip / (grad_norm + 1e-6))
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        t2 = time.perf_counter()
        busy = sum(r[4] - r[3] for r in records)
        share = torch.tensor([1 - busy / (t1 - t0), t2 - t0], dtype=torch.float64, device=self.device)
        bubbles = [torch.zeros_like(share) for _ in range(self.world)]
        dist.all_gather(bubbles, share)
        step_s = max(float(b[1]) for b in bubbles)
        return {"step": self.step, "loss": loss, "lr": lr, "grad_norm": grad_norm,
                "tokens_per_s": self.tokens_per_step / step_s, "step_s": step_s, "schedule_s": t1 - t0,
                "bubble": float(np.mean([float(b[0]) for b in bubbles])),
                "bubble_per_rank": [round(float(b[0]), 4) for b in bubbles],
                "_records": [(k, s, mb, a - t0, b - t0) for k, s, mb, a, b in records]}


def train_rank(cfg: TrainConfig, rank: int, world: int, *, resume: bool = False,
               echo: bool = True) -> dict[str, Any] | None:
    """Train on this rank (the process group must be initialised); rank 0 returns the summary."""
    if cfg.uses_cuda:
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    trainer = RankTrainer(cfg, rank, world, device)
    out = trainer.out
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    dist.barrier()
    if resume:
        found = latest_checkpoint(out)
        if found is not None:
            trainer.load(found)
    metrics_path = out / "metrics.jsonl"
    if rank == 0:
        kept = []
        if trainer.step and metrics_path.exists():  # drop lines past the checkpoint we resume from
            kept = [ln for ln in metrics_path.read_text().splitlines() if ln and json.loads(ln)["step"] <= trainer.step]
        write_local_atomic(metrics_path, "".join(ln + "\n" for ln in kept))
        if echo:
            print(f"train: {cfg.name}: {world} ranks, schedule {cfg.pipeline.schedule} "
                  f"({trainer.stages_per_rank} stage{'s' if trainer.stages_per_rank > 1 else ''} per rank), "
                  f"{cfg.data.microbatches} microbatches, vocab {trainer.gpt.vocab_size}, device {device.type}"
                  + (f", resuming after step {trainer.step}" if trainer.step else ""), flush=True)
            print(trainer.pipe.partition.describe(), flush=True)
    timeline_step = cfg.output.timeline_step or cfg.steps
    timeline: list = []
    iterator = iter(trainer.loader) if trainer.needs_data else None
    history: list[dict[str, Any]] = []
    while trainer.step < cfg.steps:
        batch = next(iterator) if iterator is not None else None
        m = trainer.train_step(batch)
        records = m.pop("_records")
        history.append({"records": records})
        if m["step"] == timeline_step:
            timeline = records
        if rank == 0:
            with metrics_path.open("a") as f:  # a log, one line per step (the one non-atomic write)
                f.write(json.dumps(m) + "\n")
            if echo:
                print(f"step {m['step']:5d}  loss {m['loss']:.4f}  lr {m['lr']:.2e}  {m['tokens_per_s']:9.0f} tok/s  "
                      f"bubble {100 * m['bubble']:5.1f}%", flush=True)
        if cfg.output.checkpoint_every and trainer.step % cfg.output.checkpoint_every == 0 and trainer.step < cfg.steps:
            trainer.save()
    if not history:  # resumed from a checkpoint at the last step: nothing left to train
        if rank == 0 and echo:
            print(f"train: already at step {trainer.step} of {cfg.steps}; nothing to do", flush=True)
        return None
    trainer.save()
    return _finish(trainer, history, timeline)


def _transfer_seconds(trainer: RankTrainer, repeats: int = 20) -> float:
    """One-way time to send one microbatch's activations between ranks 0 and 1 (ping-pong of a
    tensor of that shape, median of ``repeats``): the simulator's ``comm`` for this run."""
    if trainer.world < 2:
        return 0.0
    data = trainer.cfg.data
    shape = (data.batch_size // data.microbatches, data.seq_len, trainer.gpt.d_model)
    buf = torch.zeros(shape, dtype=torch.float32, device=trainer.device)
    times = []
    dist.barrier()
    for _ in range(repeats):
        if trainer.rank == 0:
            t0 = time.perf_counter()
            dist.send(buf, 1)
            dist.recv(buf, 1)
            times.append((time.perf_counter() - t0) / 2)
        elif trainer.rank == 1:
            dist.recv(buf, 0)
            dist.send(buf, 0)
    dist.barrier()
    return float(np.median(times)) if times else 0.0


def _finish(trainer: RankTrainer, history: list[dict[str, Any]], timeline: list) -> dict[str, Any] | None:
    """Gather measured timelines and op costs on rank 0; write timeline.json (and the PNGs via report)."""
    # mean cost of each op kind per stage, over steps after the first (warm-up: allocation, shape inference)
    steady = [r for h in history[1:] or history for r in h["records"]]
    costs: dict[str, list[float]] = {}
    for kind, stage, _, a, b in steady:
        costs.setdefault(f"{kind}{stage}", []).append(b - a)
    mine = {"rank": trainer.rank, "timeline": timeline, "costs": {k: float(np.mean(v)) for k, v in costs.items()}}
    comm = _transfer_seconds(trainer)
    gathered: list[Any] = [None] * trainer.world
    dist.all_gather_object(gathered, mine)
    if trainer.rank != 0:
        return None
    costs_all: dict[str, float] = {}
    for g in gathered:
        costs_all.update(g["costs"])
    doc = {"schedule": trainer.cfg.pipeline.schedule, "ranks": trainer.world,
           "stages_per_rank": trainer.stages_per_rank,
           "microbatches": trainer.cfg.data.microbatches, "op_costs_s": costs_all, "comm_s": comm,
           "spans": [[g["rank"], *rec] for g in gathered for rec in g["timeline"]],
           "partition": [list(b) for b in trainer.pipe.partition.bounds], "model": asdict(trainer.gpt)}
    write_local_atomic(trainer.out / "timeline.json", json.dumps(doc))
    from dataprep.train.timeline import predict, write_training_pngs
    summary = _summary(trainer, doc, predict(doc, comm))
    write_local_atomic(trainer.out / "summary.json", json.dumps(summary, indent=2))
    write_training_pngs(trainer.out)
    return summary


def _summary(trainer: RankTrainer, doc: dict[str, Any], sim: Any) -> dict[str, Any]:
    rows = [json.loads(ln) for ln in (trainer.out / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    steady = rows[1:] or rows
    return {"steps": trainer.step, "schedule": doc["schedule"], "ranks": trainer.world,
            "first_loss": rows[0]["loss"] if rows else None, "last_loss": rows[-1]["loss"] if rows else None,
            "tokens_per_s": float(np.median([r["tokens_per_s"] for r in steady])) if rows else None,
            "measured_bubble": float(np.median([r["bubble"] for r in steady])) if rows else None,
            "simulated_bubble": sim.mean_bubble, "partition": trainer.pipe.partition.describe().splitlines()}
