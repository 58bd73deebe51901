"""The training loop of one rank of a ``dp x pp`` mesh: loader -> schedule step -> clip -> AdamW
-> metrics, with evaluation and resharding checkpoints.

Every rank runs :func:`train_rank` in its own process (started by :mod:`dataprep.train.launch`
or by ``torchrun``).  The ranks form a 2-D DeviceMesh (:mod:`dataprep.train.parallel`): each of
``dp`` replicas is a pipeline of ``pp`` ranks, and each stage is FSDP2-sharded over the replicas
(for ``dp > 1`` or bf16).  Replica ``d`` reads its own share of every batch (the loader's rank
``d`` of ``dp``: ``batch_size / dp`` sequences); within a replica the rank holding stage 0 feeds
``input_ids`` and the rank holding the last stage feeds ``labels``.  With
``data.document_mask`` every rank also gets each token's document index, so attention stays
inside documents.

Per step: a barrier lines the ranks up, the schedule runs every microbatch forward and
backward (the loss is the token mean of the replica's share: each microbatch's summed
cross-entropy over the share's tokens; FSDP2 averages gradients over replicas, which makes it
the mean over the whole batch), the global gradient norm over every stage and replica is
all-reduced and clipped, AdamW steps, and the LR follows linear warm-up then cosine decay.
Rank 0 logs loss, tokens/s (also per rank), MFU, peak memory per rank and the measured bubble
(per rank, the idle share of the schedule's makespan: from the barrier to the last rank's last
action, as the simulator's ``bubble``) to ``metrics.jsonl`` and the console; every
``eval_every`` steps the same ``eval_batches`` validation batches run forward only through the
schedule (``val_loss``, ``val_ppl``).

Checkpoints (:mod:`dataprep.train.checkpoint`) are DCP folders keyed by the unsplit model's
parameter names: they load into another layout or schedule, and ``--resume`` with nothing
changed continues bit for bit (weights, AdamW state, step; the LR and the data position are
functions of the step).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from dataprep.io.atomic import write_local_atomic
from dataprep.train import checkpoint
from dataprep.train.checkpoint import CheckpointError
from dataprep.train.config import TrainConfig
from dataprep.train.loader import TokenLoader
from dataprep.train.metrics import parameter_count, peak_flops, peak_memory_bytes, step_flops
from dataprep.train.model import document_ids, token_loss
from dataprep.train.parallel import build_layout, clip_global_norm, shard_stage
from dataprep.train.pipeline import RankPipeline, build_rank_pipeline
from dataprep.train.preflight import gpt_config
from dataprep.train.schedules import get_schedule


class TokenMeanLoss:
    """Summed token cross-entropy of a microbatch over the tokens of the replica's whole batch."""

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


class RankTrainer:
    """State and step of one rank; see the module docstring."""

    def __init__(self, cfg: TrainConfig, rank: int, world: int, device: torch.device) -> None:
        self.cfg, self.rank, self.world, self.device = cfg, rank, world, device
        self.out = Path(cfg.output.path)
        pp, dp = cfg.layout(world)
        self.layout = build_layout(device.type, pp, dp)
        spec = get_schedule(cfg.pipeline.schedule)
        self.spec = spec
        self.stages_per_rank = cfg.pipeline.stages_per_rank or spec.default_stages_per_rank
        self.local_batch = cfg.data.batch_size // dp
        d = cfg.data
        self.loader = TokenLoader(cfg.run_weights, d.seq_len, self.local_batch, seed=cfg.seed,
                                  rank=self.layout.dp_rank, world_size=dp, prefetch=d.prefetch)
        self.val_loader = TokenLoader(cfg.val_weights, d.seq_len, self.local_batch, seed=cfg.seed,
                                      rank=self.layout.dp_rank, world_size=dp, split=cfg.val_split) \
            if cfg.eval_every else None
        self.gpt = gpt_config(cfg, self.loader.vocab_size)
        self.tokens_per_step = d.batch_size * d.seq_len
        self.pipe: RankPipeline = build_rank_pipeline(
            self.gpt, spec, rank=self.layout.pp_rank, ranks=pp, stages_per_rank=self.stages_per_rank,
            microbatches=d.microbatches, seed=cfg.seed, loss_fn=TokenMeanLoss(self.local_batch * d.seq_len),
            device=device, balance=cfg.pipeline.balance, group=self.layout.pp_group,
            wrap=lambda m: shard_stage(m, self.layout, cfg.precision),
            activation_dtype=torch.bfloat16 if cfg.precision == "bf16" else torch.float32,
            micro_batch=self.local_batch // d.microbatches, activation_limit=cfg.pipeline.activation_limit,
            vocab_parallel=cfg.pipeline.vocab_parallel,
            pipelines=[[r * pp + j for j in range(pp)] for r in range(dp)])
        shards = {id(p) for p in self.pipe.vocab_parameters}
        params = [p for p in self.pipe.parameters() if id(p) not in shards]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        o = cfg.optim
        # foreach: one kernel per group, not per parameter -- on FSDP2's DTensors the per-parameter
        # loop pays DTensor dispatch for every op (measured 38 ms vs 11 ms a step at dp 2 on CPU).
        # The vocabulary shards are plain tensors beside FSDP2's DTensors: a group of their own,
        # since one foreach kernel cannot take both
        groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if self.pipe.vocab_parameters:
            groups.append({"params": self.pipe.vocab_parameters, "weight_decay": o.weight_decay})
        self.optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=o.betas, foreach=True)
        self.step = 0
        # vocabulary parallelism: every rank looks up and scores its rows of the vocabulary
        self.needs_data = self.pipe.has_first or self.pipe.has_last or d.document_mask or self.pipe.vocab is not None
        self.flops_per_step = step_flops(self.gpt, d.batch_size)
        self.peak = peak_flops(device, cfg.precision, cfg.peak_tflops)

    # -- checkpoints ---------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        c = self.cfg
        return {"step": self.step, "pp": self.layout.pp, "dp": self.layout.dp, "ranks": self.world,
                "schedule": c.pipeline.schedule, "stages_per_rank": self.stages_per_rank,
                "vocab_parallel": c.pipeline.vocab_parallel,
                "precision": c.precision, "model": asdict(self.gpt), "seed": c.seed,
                "runs": list(self.loader.names), "eos_id": self.loader.eos_id,
                "batch_size": c.data.batch_size, "seq_len": c.data.seq_len}

    def _state(self) -> dict[str, Any]:
        vocab = self.pipe.vocab.shard if self.pipe.vocab is not None else None
        return checkpoint.training_state(list(self.pipe.modules.values()), self.optimizer, vocab=vocab,
                                         mesh=self.layout.mesh)

    def save(self) -> Path:
        folder = self.out / checkpoint.CHECKPOINTS / f"step-{self.step:06d}"
        tokenizer = Path(self.loader.names[0]) / "tokens" / "tokenizer.json"
        state = self._state()
        return checkpoint.save(folder, state, self._meta(), tokenizer if tokenizer.exists() else None, self.rank)

    def load(self, folder: Path) -> None:
        """Continue from ``folder``, written by this or any other layout of the same model and data."""
        meta = checkpoint.read_meta(folder)
        mine = self._meta()
        for key in ("model", "seed", "runs", "seq_len", "batch_size"):
            if meta.get(key) != mine[key]:
                raise CheckpointError(f"{folder} was written for {key} {meta.get(key)!r}; this run has {mine[key]!r} "
                                      "(a checkpoint continues the same model on the same data)")
        checkpoint.load(folder, self._state())
        self.step = int(meta["step"])
        self.loader.seek(self.step * self.local_batch)

    # -- one step -------------------------------------------------------------------------------
    def _inputs(self, batch: dict[str, torch.Tensor] | None) -> tuple[torch.Tensor | None, ...]:
        if batch is None:
            return None, None, None
        inputs, labels = batch["input_ids"].to(self.device), batch["labels"].to(self.device)
        doc = document_ids(inputs, self.loader.eos_id) if self.cfg.data.document_mask else None
        return inputs, labels, doc

    def train_step(self, batch: dict[str, torch.Tensor] | None) -> dict[str, Any]:
        inputs, labels, doc = self._inputs(batch)
        self.pipe.timer.take()
        dist.barrier()
        t0 = time.perf_counter()
        losses = self.pipe.step(inputs, labels, doc)
        if self.layout.dp > 1:  # the vocabulary shards are plain tensors, not FSDP's
            for p in self.pipe.vocab_parameters:
                dist.all_reduce(p.grad, group=self.layout.dp_mesh.get_group())
                p.grad /= self.layout.dp
        t1 = time.perf_counter()
        records = self.pipe.timer.take()
        params = self.pipe.parameters()
        local = torch.zeros((), dtype=torch.float64)  # this rank's share of the loss (last stage only)
        if losses:
            local = torch.stack([x.detach().double() for x in losses]).sum()
        grad_norm, summed = clip_global_norm(params, self.cfg.optim.grad_clip, local, self.device,
                                             tuple(self.pipe.vocab_parameters),
                                             count_replicated=self.layout.dp_rank == 0)
        loss = float(summed[0]) / self.layout.dp
        lr = self.cfg.optim.lr * lr_factor(self.step, self.cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        t2 = time.perf_counter()
        busy = sum(r[4] - r[3] for r in records)
        share = torch.tensor([busy, t1 - t0, t2 - t0, peak_memory_bytes(self.device)],
                             dtype=torch.float64, device=self.device)
        gathered = [torch.zeros_like(share) for _ in range(self.world)]
        dist.all_gather(gathered, share)
        step_s = max(float(g[2]) for g in gathered)
        # the schedule's makespan: a rank whose actions end early idles until the last one's end
        # (the barrier lined their starts up), as the simulator counts it
        schedule_s = max(float(g[1]) for g in gathered)
        bubbles = [1 - float(g[0]) / schedule_s for g in gathered]
        tokens_per_s = self.tokens_per_step / step_s
        return {"step": self.step, "loss": loss, "lr": lr, "grad_norm": grad_norm,
                "tokens_per_s": tokens_per_s, "tokens_per_s_per_rank": tokens_per_s / self.world,
                "mfu": self.flops_per_step / step_s / (self.peak * self.world) if self.peak else None,
                "peak_memory_mb": [round(float(g[3]) / 2**20, 1) for g in gathered],
                "step_s": step_s, "schedule_s": schedule_s,
                "bubble": float(np.mean(bubbles)),
                "bubble_per_rank": [round(b, 4) for b in bubbles],
                "_records": [(k, s, mb, a - t0, b - t0) for k, s, mb, a, b in records]}

    def evaluate(self) -> dict[str, float]:
        """Mean token loss over the first ``eval_batches`` validation batches (the same every time)."""
        assert self.val_loader is not None
        total = torch.zeros((), dtype=torch.float64)
        for i in range(self.cfg.eval_batches):
            batch = self.val_loader.batch_at(i * self.local_batch) if self.needs_data else None
            inputs, labels, doc = self._inputs(batch)
            for x in self.pipe.evaluate(inputs, labels, doc, (self.local_batch, self.cfg.data.seq_len)):
                total += x.detach().double().cpu()
        total = total.to(self.device)
        dist.all_reduce(total)
        val_loss = float(total) / (self.layout.dp * self.cfg.eval_batches)
        return {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50.0))}


def _describe(trainer: RankTrainer, device: torch.device) -> str:
    cfg, lay = trainer.cfg, trainer.layout
    spr = trainer.stages_per_rank
    return (f"train: {cfg.name}: {trainer.world} ranks = pp {lay.pp} x dp {lay.dp}, schedule {cfg.pipeline.schedule} "
            f"({spr} stage{'s' if spr > 1 else ''} per rank), {cfg.data.microbatches} microbatches, "
            f"vocab {trainer.gpt.vocab_size}, {cfg.precision}, device {device.type}"
            + (", document mask" if cfg.data.document_mask else "")
            + (", vocabulary parallel" if cfg.pipeline.vocab_parallel else "")
            + (f", resuming after step {trainer.step}" if trainer.step else ""))


def _console(m: dict[str, Any]) -> str:
    mfu = f"{100 * m['mfu']:5.1f}%" if m.get("mfu") is not None else "  n/a"
    line = (f"step {m['step']:5d}  loss {m['loss']:.4f}  lr {m['lr']:.2e}  {m['tokens_per_s']:9.0f} tok/s  "
            f"mfu {mfu}  mem {max(m['peak_memory_mb']):7.0f} MB  bubble {100 * m['bubble']:5.1f}%")
    if "val_loss" in m:
        line += f"  val_loss {m['val_loss']:.4f}  val_ppl {m['val_ppl']:.1f}"
    return line


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
        found = checkpoint.latest(out)
        if found is not None:
            trainer.load(found)
    metrics_path = out / "metrics.jsonl"
    if rank == 0:
        kept = []
        if trainer.step and metrics_path.exists():  # drop lines past the checkpoint we resume from
            kept = [ln for ln in metrics_path.read_text().splitlines() if ln and json.loads(ln)["step"] <= trainer.step]
        write_local_atomic(metrics_path, "".join(ln + "\n" for ln in kept))
        if echo:
            print(_describe(trainer, device), flush=True)
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
        if cfg.eval_every and (trainer.step % cfg.eval_every == 0 or trainer.step == cfg.steps):
            m.update(trainer.evaluate())
        if rank == 0:
            with metrics_path.open("a") as f:  # a log, one line per step (the one non-atomic write)
                f.write(json.dumps(m) + "\n")
            if echo:
                print(_console(m), flush=True)
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
    tensor of that shape, median of ``repeats``): the simulator's ``comm`` for this run.  Ranks 0
    and 1 are pipeline ranks 0 and 1 of replica 0."""
    if trainer.layout.pp < 2:
        return 0.0
    data = trainer.cfg.data
    shape = (trainer.local_batch // data.microbatches, data.seq_len, trainer.gpt.d_model)
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
    mine = {"rank": trainer.layout.pp_rank, "replica": trainer.layout.dp_rank, "timeline": timeline,
            "costs": {k: float(np.mean(v)) for k, v in costs.items()}}
    comm = _transfer_seconds(trainer)
    gathered: list[Any] = [None] * trainer.world
    dist.all_gather_object(gathered, mine)
    if trainer.rank != 0:
        return None
    gathered = [g for g in gathered if g["replica"] == 0]  # the timeline of one pipeline
    # a stage's ops run on one rank; the vocabulary passes (stage -1) on all: their mean over the ranks
    by_op: dict[str, list[float]] = {}
    for g in gathered:
        for key, seconds in g["costs"].items():
            by_op.setdefault(key, []).append(seconds)
    costs_all = {key: float(np.mean(v)) for key, v in by_op.items()}
    doc = {"schedule": trainer.cfg.pipeline.schedule, "ranks": trainer.layout.pp,
           "stages_per_rank": trainer.stages_per_rank,
           "microbatches": trainer.cfg.data.microbatches, "op_costs_s": costs_all, "comm_s": comm,
           "seed": trainer.cfg.seed,  # of predict_with_spread's trials
           "spans": [[g["rank"], *rec] for g in gathered for rec in g["timeline"]],
           "partition": [list(b) for b in trainer.pipe.partition.bounds], "model": asdict(trainer.gpt)}
    order = getattr(trainer.pipe.schedule, "compute_order", None)
    if order is not None:  # zb-auto's order depends on the split's costs: keep what ran
        doc["order"] = {str(r): [str(a) for a in acts] for r, acts in order.items()}
    write_local_atomic(trainer.out / "timeline.json", json.dumps(doc))
    from dataprep.train.timeline import predict, predict_with_spread, write_training_pngs
    summary = _summary(trainer, doc, predict(doc, comm))
    summary["simulated_bubble_with_spread"] = predict_with_spread(doc, comm).mean_bubble
    write_local_atomic(trainer.out / "summary.json", json.dumps(summary, indent=2))
    write_training_pngs(trainer.out)
    return summary


def _summary(trainer: RankTrainer, doc: dict[str, Any], sim: Any) -> dict[str, Any]:
    rows = [json.loads(ln) for ln in (trainer.out / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    steady = rows[1:] or rows

    def median(key: str) -> float | None:
        values = [r[key] for r in steady if r.get(key) is not None]
        return float(np.median(values)) if values else None

    val = [r for r in rows if "val_loss" in r]
    peak = [max(r.get("peak_memory_mb", [0])[i] for r in rows) for i in range(trainer.world)] if rows else []
    return {"steps": trainer.step, "schedule": doc["schedule"], "ranks": trainer.world,
            "pp": trainer.layout.pp, "dp": trainer.layout.dp, "precision": trainer.cfg.precision,
            "document_mask": trainer.cfg.data.document_mask,
            "first_loss": rows[0]["loss"] if rows else None, "last_loss": rows[-1]["loss"] if rows else None,
            "first_val_loss": val[0]["val_loss"] if val else None,
            "last_val_loss": val[-1]["val_loss"] if val else None,
            "tokens_per_s": median("tokens_per_s"), "tokens_per_s_per_rank": median("tokens_per_s_per_rank"),
            "mfu": median("mfu"), "peak_tflops": trainer.peak / 1e12 if trainer.peak else None,
            "parameters": parameter_count(trainer.gpt), "model_flops_per_step": trainer.flops_per_step,
            "peak_memory_mb_per_rank": peak,
            "measured_bubble": median("bubble"),
            "simulated_bubble": sim.mean_bubble, "partition": trainer.pipe.partition.describe().splitlines()}
