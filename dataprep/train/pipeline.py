"""Build this rank's share of a pipeline: stage modules, ``PipelineStage`` objects, the schedule.

The runtime is ``torch.distributed.pipelining``; this module only decides what goes where:
the model is split by :func:`dataprep.train.partition.partition` into ``ranks x stages_per_rank``
stages, the schedule's placement (loop or V) says which stages this rank holds, and the
schedule class comes from :data:`dataprep.train.schedules.SCHEDULES`.

:class:`OpTimer` records when each compute action ran on this rank (forward, full backward,
input backward, weight backward, and the loss as part of the last stage's forward), which is
what the trainer turns into the *measured* bubble and timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.pipelining import PipelineStage

from dataprep.train.memory_model import stage_memory
from dataprep.train.model import GPTConfig, StageModule
from dataprep.train.partition import Partition, split_model, vocab_cost
from dataprep.train.recv_prefetch import post_receives_early
from dataprep.train.schedule_specs import ScheduleError
from dataprep.train.schedules import ScheduleFromActions, ScheduleSpec, rank_actions, runtime_class
from dataprep.train.simulate import OpCosts
from dataprep.train.vocab_parallel import ScheduleVocabParallel, VocabShard, VocabState, vocab_groups
from dataprep.train.vocab_schedule import vocab_parallel_actions


@dataclass
class OpTimer:
    """Start/end times (``time.perf_counter``) of the compute actions this rank ran."""
    rank: int
    records: list[tuple[str, int, int, float, float]] = field(default_factory=list)  # kind, stage, mb, t0, t1
    enabled: bool = True

    def wrap(self, stage: PipelineStage) -> None:
        """Time ``stage``'s forward and backward methods from now on."""
        index = stage.stage_index

        def timed(fn: Callable, kind_of: Callable[..., str], mb_of: Callable[..., int]) -> Callable:
            def run(*args: Any, **kwargs: Any) -> Any:
                if not self.enabled:
                    return fn(*args, **kwargs)
                t0 = time.perf_counter()
                out = fn(*args, **kwargs)
                self.records.append((kind_of(*args, **kwargs), index, mb_of(*args, **kwargs), t0, time.perf_counter()))
                return out
            return run

        stage.forward_one_chunk = timed(stage.forward_one_chunk, lambda *a, **k: "F", lambda chunk, *a, **k: chunk)
        stage.backward_one_chunk = timed(
            stage.backward_one_chunk, lambda *a, full_backward=True, **k: "B" if full_backward else "I",
            lambda chunk, *a, **k: chunk)
        stage.backward_weight_one_chunk = timed(stage.backward_weight_one_chunk, lambda *a, **k: "W",
                                                lambda chunk, *a, **k: chunk)

    def wrap_loss(self, schedule: Any) -> None:
        """Count the loss (computed by the schedule after the last stage's forward) as forward time."""
        original = schedule._maybe_compute_loss

        def run(stage: Any, output: Any, target_mbs: Any, mb_index: int, *rest: Any) -> Any:
            out = original(stage, output, target_mbs, mb_index, *rest)
            if self.enabled and stage.is_last and target_mbs is not None:
                for i in range(len(self.records) - 1, -1, -1):  # extend that microbatch's forward record
                    kind, index, mb, start, _ = self.records[i]
                    if (kind, index, mb) == ("F", stage.stage_index, mb_index):
                        self.records[i] = (kind, index, mb, start, time.perf_counter())
                        break
            return out
        schedule._maybe_compute_loss = run

    def take(self) -> list[tuple[str, int, int, float, float]]:
        out, self.records = self.records, []
        return out


@dataclass
class RankPipeline:
    """What one rank holds: its stage modules (by stage index), the schedule, the timer."""
    modules: dict[int, StageModule]
    stages: list[PipelineStage]
    schedule: Any
    partition: Partition
    timer: OpTimer
    num_stages: int
    stage_to_rank: Callable[[int], int]
    microbatches: int
    loss_fn: Callable
    device: torch.device
    d_model: int
    activation_dtype: torch.dtype = torch.float32
    group: dist.ProcessGroup | None = None
    vocab: VocabState | None = None  # vocabulary parallelism: this rank's shard and its passes

    @property
    def has_first(self) -> bool:
        return 0 in self.modules

    @property
    def has_last(self) -> bool:
        return self.num_stages - 1 in self.modules

    @property
    def vocab_parameters(self) -> list[torch.nn.Parameter]:
        """This rank's vocabulary shard's parameters (plain tensors, the same on every dp replica); none
        without vocabulary parallelism."""
        return list(self.vocab.shard.parameters()) if self.vocab is not None else []

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for s in sorted(self.modules) for p in self.modules[s].parameters()] + self.vocab_parameters

    def step(self, inputs: torch.Tensor | None, labels: torch.Tensor | None,
             doc_ids: torch.Tensor | None = None) -> list[torch.Tensor]:
        """One forward+backward over all microbatches; the per-microbatch losses (last stage's rank
        only).  ``doc_ids`` (document masking) goes to every stage, split like the batch.  The last
        stage's outputs are not kept (``return_outputs=False``): by default the library holds every
        microbatch's logits to concatenate them after the step -- with a large vocabulary the last
        rank's largest allocation, and time outside any op (measured: 2.5 GB and a 7-point gap
        between measured and simulated bubble at a 65,536-token vocabulary)."""
        if self.num_stages == 1:
            return self._step_alone(inputs, labels, doc_ids)
        if self.vocab is not None:
            return self._step_vocab_parallel(inputs, labels, doc_ids)
        losses: list[torch.Tensor] = []
        args = (inputs,) if self.has_first else ()
        target = labels if self.has_last else None
        kwargs = {"doc_ids": doc_ids} if doc_ids is not None else {}
        self.schedule.step(*args, target=target, losses=losses if self.has_last else None, return_outputs=False,
                           **kwargs)
        return losses

    def _step_vocab_parallel(self, inputs: torch.Tensor, labels: torch.Tensor,
                             doc_ids: torch.Tensor | None) -> list[torch.Tensor]:
        """Every rank holds the batch: the token embedding is summed onto the first stage before the
        schedule and its gradient spread back after it (:mod:`dataprep.train.vocab_parallel`)."""
        vocab = self.vocab
        assert vocab is not None
        vocab.begin(labels, self.microbatches)
        embedded = vocab.embed(inputs)
        losses: list[torch.Tensor] = []
        kwargs = {"doc_ids": doc_ids} if doc_ids is not None else {}
        self.schedule.step(*((embedded,) if self.has_first else ()), target=labels if self.has_last else None,
                           losses=losses if self.has_last else None, return_outputs=False, **kwargs)
        vocab.embed_backward(inputs, embedded)
        vocab.finish()
        return losses

    def _step_alone(self, inputs: torch.Tensor, labels: torch.Tensor,
                    doc_ids: torch.Tensor | None) -> list[torch.Tensor]:
        """pp 1: the one stage holds the whole model, so there is nothing to schedule -- forward and
        ``backward()`` per microbatch, as a plain training loop does (the same microbatches and
        sums as a schedule).  With FSDP2 the gradients are reduced during the last microbatch's
        backward, overlapping it, instead of after it as the pipeline runtime's reduce action does."""
        module, losses = self.modules[0], []
        sync = getattr(module, "set_requires_gradient_sync", None)
        chunks = zip(inputs.tensor_split(self.microbatches), labels.tensor_split(self.microbatches),
                     doc_ids.tensor_split(self.microbatches) if doc_ids is not None else [None] * self.microbatches)
        for mb, (x, y, doc) in enumerate(chunks):
            if sync is not None:
                sync(mb == self.microbatches - 1)
            t0 = time.perf_counter()
            loss = self.loss_fn(module(x, doc), y)
            t1 = time.perf_counter()
            loss.backward()
            if self.timer.enabled:
                self.timer.records += [("F", 0, mb, t0, t1), ("B", 0, mb, t1, time.perf_counter())]
            losses.append(loss.detach())
        return losses

    @torch.no_grad()
    def evaluate(self, inputs: torch.Tensor | None, labels: torch.Tensor | None, doc_ids: torch.Tensor | None,
                 batch_shape: tuple[int, int]) -> list[torch.Tensor]:
        """Forward only: the per-microbatch losses (last stage's rank only).  ``batch_shape`` is
        ``(sequences, seq_len)`` of the batch, which a rank holding neither end does not see.

        Each microbatch goes through the stages in order, activations sent point to point to
        the rank holding the next stage.  Written here because the schedules' own forward-only
        mode (``schedule.eval``) fails on the action-list runtimes (zero-bubble, V, DualPipe),
        which expect a backward for every forward; evaluation is rare, so running stages one
        after another instead of overlapped costs little."""
        losses: list[torch.Tensor] = []
        mbs = self.microbatches
        rows, seq_len = batch_shape
        chunks = [slice(i * (rows // mbs), (i + 1) * (rows // mbs)) for i in range(mbs)]
        me = dist.get_rank(self.group) if self.group is not None else dist.get_rank()
        embedded = self.vocab.embed(inputs) if self.vocab is not None else inputs
        for mb in chunks:
            x = None
            for s in range(self.num_stages):
                owner = self.stage_to_rank(s)
                if owner != me:
                    continue
                if s == 0:
                    x = embedded[mb]
                elif self.stage_to_rank(s - 1) != me:
                    x = torch.empty((mb.stop - mb.start, seq_len, self.d_model), dtype=self.activation_dtype,
                                    device=self.device)
                    dist.recv(x, group=self.group, group_src=self.stage_to_rank(s - 1))
                x = self.modules[s](x, doc_ids[mb] if doc_ids is not None else None)
                if s == self.num_stages - 1:
                    if self.vocab is None:
                        losses.append(self.loss_fn(x, labels[mb]))
                elif self.stage_to_rank(s + 1) != me:
                    dist.send(x.to(self.activation_dtype).contiguous(), group=self.group,
                              group_dst=self.stage_to_rank(s + 1))
            if self.vocab is not None:  # every rank: its share of the output layer
                loss = self.vocab.forward_loss(x if self.has_last else None, labels[mb])
                if loss is not None:
                    losses.append(loss)
        for module in self.modules.values():  # FSDP2: back to sharded parameters, as after a training step
            if hasattr(module, "reshard"):
                module.reshard()
        return losses


def planned_order(cfg: GPTConfig, spec: ScheduleSpec, part: Partition, ranks: int, stages_per_rank: int,
                  microbatches: int, micro_batch: int, precision: str,
                  activation_limit: float | None) -> dict[int, list[Any]]:
    """The action lists of ``zb-auto`` (for the split's predicted FLOPs and activation bytes),
    ``v-half`` and ``v-min``; every rank computes the same lists."""
    mem = stage_memory(cfg, part.bounds, micro_batch, precision)
    costs = OpCosts(part.costs, part.costs, part.costs, m_b=mem.m_b, m_w=mem.m_w)
    limit = (activation_limit or 2.0 * ranks) * sum(mem.m_b) / len(mem.m_b)
    return rank_actions(spec.name, ranks, microbatches, stages_per_rank, costs=costs, limit=limit)


def vocab_parallel_order(cfg: GPTConfig, spec: ScheduleSpec, part: Partition, ranks: int, stages_per_rank: int,
                         microbatches: int, micro_batch: int, precision: str,
                         activation_limit: float | None) -> dict[int, list[Any]]:
    """Every rank's order with the vocabulary passes placed (:mod:`dataprep.train.vocab_schedule`), at the
    partitioner's predicted costs.  1F1B gets the paper's two extra warm-up forwards (Vocab-1)."""
    if runtime_class(spec) is ScheduleFromActions:
        base = planned_order(cfg, spec, part, ranks, stages_per_rank, microbatches, micro_batch, precision,
                             activation_limit)
    else:
        base = rank_actions(spec.name, ranks, microbatches, stages_per_rank)
    head = vocab_cost(cfg) / ranks
    costs = OpCosts(part.costs, part.costs, part.costs, s=head, t=2 * head)
    return vocab_parallel_actions(spec.name, base, spec.stage_to_rank(ranks), ranks * stages_per_rank, microbatches,
                                  costs)


def build_rank_pipeline(cfg: GPTConfig, spec: ScheduleSpec, *, rank: int, ranks: int, stages_per_rank: int,
                        microbatches: int, seed: int, loss_fn: Callable, device: torch.device,
                        balance: str = "cost", group: dist.ProcessGroup | None = None,
                        wrap: Callable[[StageModule], StageModule] | None = None,
                        activation_dtype: torch.dtype = torch.float32, micro_batch: int = 1,
                        activation_limit: float | None = None, vocab_parallel: bool = False,
                        pipelines: list[list[int]] | None = None) -> RankPipeline:
    """This rank's stages and schedule; gradients are summed over microbatches (``scale_grads=False``).

    ``rank``/``ranks`` are positions in the pipeline group ``group`` (default: the world);
    ``wrap`` is applied to each stage module before it becomes a ``PipelineStage`` (FSDP2 for
    data parallelism and bf16, :func:`dataprep.train.parallel.shard_stage`).  ``vocab_parallel``
    splits the vocabulary layers over the pipeline's ranks (:mod:`dataprep.train.vocab_parallel`);
    ``pipelines`` then lists every pipeline's global ranks (default: one, the world), since every
    process creates the vocabulary's process groups.  The loss is then the summed token
    cross-entropy times ``loss_fn.scale`` (1 without one)."""
    spec.check(ranks, stages_per_rank, microbatches)
    if vocab_parallel and ranks < 2:
        raise ScheduleError("pipeline.vocab_parallel needs at least 2 pipeline ranks to split the vocabulary over")
    num_stages = ranks * stages_per_rank
    part = split_model(cfg, num_stages, balance, vocab_parallel)
    mine = spec.stages_of(rank, ranks, stages_per_rank)
    modules = {s: StageModule(cfg, *part.bounds[s], seed, vocab_parallel).to(device) for s in mine}
    if wrap is not None:
        modules = {s: wrap(m) for s, m in modules.items()}
    stages = [PipelineStage(modules[s], s, num_stages, device, group=group) for s in mine]
    timer = OpTimer(rank)
    for stage in stages:
        timer.wrap(stage)
    precision = "bf16" if activation_dtype == torch.bfloat16 else "fp32"
    vocab = None
    if vocab_parallel:
        where = spec.stage_to_rank(ranks)
        me = dist.get_rank()
        groups = vocab_groups(pipelines or [list(range(dist.get_world_size()))], me)
        vocab = VocabState(VocabShard(cfg, seed, rank, ranks).to(device), groups, rank, ranks, where(num_stages - 1),
                           where(0), float(getattr(loss_fn, "scale", 1.0)), cfg.d_model, activation_dtype, device,
                           timer=timer)
        order = vocab_parallel_order(cfg, spec, part, ranks, stages_per_rank, microbatches, micro_batch, precision,
                                     activation_limit)
        schedule = ScheduleVocabParallel(stages, microbatches, scale_grads=False, order=order,
                                         vocab=vocab)
    else:
        runtime = runtime_class(spec)
        extra = {}
        if runtime is ScheduleFromActions:
            extra["order"] = planned_order(cfg, spec, part, ranks, stages_per_rank, microbatches, micro_batch,
                                           precision, activation_limit)
        schedule = runtime(stages if spec.multi else stages[0], microbatches, loss_fn=loss_fn, scale_grads=False,
                           **extra)
    if dist.get_backend(group) == "gloo":  # see dataprep.train.recv_prefetch for why not on NCCL
        post_receives_early(schedule)
    timer.wrap_loss(schedule)
    return RankPipeline(modules, stages, schedule, part, timer, num_stages, spec.stage_to_rank(ranks), microbatches,
                        loss_fn, device, cfg.d_model, activation_dtype, group, vocab)
