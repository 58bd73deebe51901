"""Vocabulary parallelism: the input embedding and the output layer split over the vocabulary
across every pipeline rank ("Balancing Pipeline Parallelism with Vocabulary Parallelism",
Yeung et al. 2024).

With a large vocabulary the embedding and, above all, the output projection with its softmax
make the first and last stages the stragglers, however the blocks are split.  Here rank ``r``
of ``P`` holds ``ceil(V / P)`` consecutive rows of both matrices (:class:`VocabShard`); the
pipeline stages keep only the position embedding and the final LayerNorm.

**Output layer** (per microbatch; placed in the schedule by :mod:`dataprep.train.vocab_schedule`):

* after the last stage's forward its output ``h`` is broadcast to every rank;
* ``S``: each rank computes its slice of the logits and, per token, their max, the sum of
  ``exp(logit - max)`` and the target's logit if the target is in its slice; the three
  statistics are all-gathered (barrier 1);
* ``T``: from them, every rank has the global log-sum-exp, hence the loss, and computes its slice
  of the softmax gradient ``(softmax - onehot) x scale``, its output weights' gradient and its
  part of ``dL/dh``; those parts are summed onto the last stage's rank (barrier 2), where the
  last stage's backward takes them as its output gradient.  The loss the last stage hands the
  pipeline runtime is a placeholder whose backward returns that sum.

Each of the three collectives has its own process group, so ranks may issue them in different
interleavings (a broadcast of microbatch 3 before the reduce of microbatch 1 on one rank, the
other way round on another); within a group every rank issues them in microbatch order.  They
are asynchronous: a rank waits for one only where it needs the result.

**Input layer**: each rank looks up the tokens of the whole batch that fall in its rows (zeros
elsewhere) and the partial embeddings are summed onto the first stage's rank, before the
schedule starts; the first stage takes the sum as its input (requiring a gradient).  After the
schedule, the gradient of that input is broadcast back and each rank adds it to its rows.  The
paper overlaps this per microbatch; one collective for the batch each way costs a little more
latency at the step's two ends and keeps the schedule's action lists about the output layer.

The softmax is computed in fp32, whatever the activations' precision, as the unsplit model's
loss is.  Loss and every gradient equal the unsplit model's (tested).

Written here because ``torch.distributed.pipelining`` has no notion of a layer shared by all
ranks of a pipeline; the passes are custom actions of the library's action-list runtime.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.pipelining.schedules import _Action, _PipelineScheduleRuntime
from torch.distributed.tensor import DTensor, Replicate, Shard

from dataprep.train.model import build_piece
from dataprep.train.shape import GPTConfig
from dataprep.train.simulate import VOCAB_S, VOCAB_T, is_vocab


def vocab_range(vocab_size: int, rank: int, ranks: int) -> tuple[int, int]:
    """The rows ``[lo, hi)`` of the vocabulary that pipeline rank ``rank`` of ``ranks`` holds: ``torch.chunk``'s
    split (``ceil(V / P)`` rows each, the last ranks fewer), which is how a ``Shard(0)`` DTensor -- the
    checkpoint's view of the shards -- divides rows."""
    per = -(-vocab_size // ranks)
    lo = min(vocab_size, rank * per)
    return lo, min(vocab_size, lo + per)


#: the size of S's temporary blocks of exponentials (see VocabShard.logits_and_stats)
EXP_BLOCK_BYTES = 8 << 20


class VocabShard(nn.Module):
    """Rows ``lo .. hi-1`` of the token embedding (``tokens``) and of the output projection (``out``),
    with exactly the unsplit model's initial values (both pieces are built with their seeds, then sliced)."""

    def __init__(self, cfg: GPTConfig, seed: int, rank: int, ranks: int) -> None:
        super().__init__()
        self.vocab_size = cfg.vocab_size
        self.lo, self.hi = vocab_range(cfg.vocab_size, rank, ranks)
        embeddings, head = build_piece(cfg, 0, seed), build_piece(cfg, cfg.layers + 1, seed)
        self.tokens = nn.Parameter(embeddings.tokens.weight.detach()[self.lo:self.hi].clone())
        self.out = nn.Parameter(head.out.weight.detach()[self.lo:self.hi].clone())
        self.full_names = {"tokens": "pieces.0.tokens.weight", "out": f"pieces.{cfg.layers + 1}.out.weight"}
        self._spare_logits: list[torch.Tensor] = []  # S's logits buffers that T has finished with

    def global_view(self, rows: torch.Tensor, mesh: DeviceMesh) -> DTensor:
        """``rows`` (this shard's, or a tensor shaped like them) as a DTensor of the unsplit matrix,
        ``Shard(0)`` over ``mesh``'s ``pp`` dimension (replicated over any other), sharing storage."""
        placements = [Shard(0) if name in ("pp", None) else Replicate() for name in (mesh.mesh_dim_names or [None])]
        vocab = self.vocab_size
        return DTensor.from_local(rows, mesh, placements, run_check=False, shape=(vocab, rows.shape[1]),
                                  stride=(rows.shape[1], 1))

    def _local(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        local = ids - self.lo
        inside = (local >= 0) & (local < self.hi - self.lo)
        return local.clamp(0, self.hi - self.lo - 1), inside

    @torch.no_grad()
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """This shard's part of the token embedding of ``ids`` (zeros for tokens outside it)."""
        local, inside = self._local(ids)
        return self.tokens[local] * inside.unsqueeze(-1).to(self.tokens.dtype)

    @torch.no_grad()
    def embed_backward(self, ids: torch.Tensor, grad: torch.Tensor) -> None:
        """Add ``grad`` (of the summed token embedding) to the rows of this shard's tokens."""
        local, inside = self._local(ids)
        rows = torch.zeros_like(self.tokens)
        rows.index_add_(0, local[inside], grad[inside].to(rows.dtype))
        self.tokens.grad = rows if self.tokens.grad is None else self.tokens.grad + rows

    @torch.no_grad()
    def logits_and_stats(self, h: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``S``: this shard's logits ``(tokens, rows)`` and per token ``[max, sum exp(logit - max),
        target logit or 0]`` as a ``(3, tokens)`` fp32 tensor."""
        x = h.reshape(-1, h.shape[-1]).float()
        logits = torch.mm(x, self.out.float().t(), out=self._logits_buffer(x.shape[0], x.device))
        top = logits.max(dim=1).values
        # in row blocks: each block's temporary stays under glibc's 32 MB heap ceiling and is reused,
        # where one of the logits' size would be mapped and faulted in at every microbatch
        block = max(1, EXP_BLOCK_BYTES // (logits.element_size() * logits.shape[1]))
        sum_exp = torch.cat([(logits[i:i + block] - top[i:i + block, None]).exp_().sum(dim=1)
                             for i in range(0, logits.shape[0], block)])
        local, inside = self._local(labels.reshape(-1))
        target = torch.where(inside, logits.gather(1, local[:, None]).squeeze(1), 0.0)
        return logits, torch.stack([top, sum_exp, target])

    def _logits_buffer(self, tokens: int, device: torch.device) -> torch.Tensor:
        """A ``(tokens, rows)`` fp32 buffer: one T has handed back (:meth:`release`), else a new one.  At a
        large vocabulary a microbatch's logits are tens of MB, over glibc's heap ceiling, so a new
        buffer per microbatch is mapped, faulted in page by page and unmapped again; reused ones
        are not.  There are as many as microbatches between their S and their T at once."""
        for i, spare in enumerate(self._spare_logits):
            if spare.shape[0] == tokens and spare.device == device:
                return self._spare_logits.pop(i)
        return torch.empty(tokens, self.hi - self.lo, dtype=torch.float32, device=device)

    def release(self, logits: torch.Tensor) -> None:
        """Hand back a buffer from :meth:`logits_and_stats` that nothing reads any more."""
        self._spare_logits.append(logits)

    @torch.no_grad()
    def grads(self, h: torch.Tensor, logits: torch.Tensor, stats: torch.Tensor, labels: torch.Tensor,
              scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``T``: from every rank's statistics ``(ranks, 3, tokens)``, the loss (summed over tokens,
        times ``scale``), and this shard's part of ``dL/dh`` (fp32, ``h``'s shape); adds this shard's
        output weights' gradient.  ``logits`` (S's, not needed after T) becomes the softmax's
        gradient in place: at a large vocabulary each new buffer of that size is memory the
        allocator maps and the kernel faults in again."""
        lse, loss = log_sum_exp_and_loss(stats, scale)
        grad = logits.sub_(lse[:, None]).exp_()
        local, inside = self._local(labels.reshape(-1))
        rows = torch.nonzero(inside).squeeze(1)
        grad[rows, local[rows]] -= 1.0
        # the scale goes onto the two small products, not onto the (tokens, rows) gradient
        x = h.reshape(-1, h.shape[-1]).float() * scale
        weight = grad.t() @ x
        self.out.grad = weight.to(self.out.dtype) if self.out.grad is None else self.out.grad.add_(weight)
        input_grad = (grad @ self.out.float()).mul_(scale)
        self.release(grad)
        return input_grad.view(*h.shape[:-1], h.shape[-1]), loss


def log_sum_exp_and_loss(stats: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per token the log-sum-exp over the whole vocabulary, and the summed loss times ``scale``, from
    every shard's ``[max, sum exp(logit - max), target logit]`` (``(ranks, 3, tokens)``)."""
    top = stats[:, 0].max(dim=0).values
    lse = top + torch.log((stats[:, 1] * torch.exp(stats[:, 0] - top)).sum(dim=0))
    return lse, (lse - stats[:, 2].sum(dim=0)).sum() * scale


class _GradFromVocab(torch.autograd.Function):
    """The last stage's loss placeholder: zero forward; backward returns ``dL/dh`` summed over the
    vocabulary shards (waiting for the reduce if it has not arrived)."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, state: VocabState, mb: int) -> torch.Tensor:  # noqa: D102
        ctx.state, ctx.mb, ctx.dtype = state, mb, h.dtype
        return h.new_zeros((), dtype=torch.float32)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: D102
        return (ctx.state.take_input_grad(ctx.mb) * grad).to(ctx.dtype), None, None


@dataclass
class VocabGroups:
    """One process group per collective (see the module docstring), over the pipeline's ranks."""
    broadcast: dist.ProcessGroup
    stats: dist.ProcessGroup
    grads: dist.ProcessGroup
    embed: dist.ProcessGroup


def vocab_groups(pipelines: list[list[int]], me: int) -> VocabGroups:
    """Create the groups for every pipeline (each a list of global ranks, in pipeline order); every
    process must call this, with the same lists, since ``new_group`` is collective over the world."""
    mine: list[dist.ProcessGroup] = []
    for _ in range(4):
        for members in pipelines:
            group = dist.new_group(members)
            if me in members:
                mine.append(group)
    return VocabGroups(*mine)


@dataclass
class VocabState:
    """What the passes of one step hand each other on this rank."""
    shard: VocabShard
    groups: VocabGroups
    rank: int  # in the pipeline group
    ranks: int
    root: int  # the last stage's rank
    first: int  # the first stage's rank
    scale: float
    d_model: int
    activation_dtype: torch.dtype
    device: torch.device
    labels: list[torch.Tensor] = field(default_factory=list)
    hidden: dict[int, torch.Tensor] = field(default_factory=dict)
    saved: dict[int, tuple] = field(default_factory=dict)
    stats: dict[int, tuple] = field(default_factory=dict)
    input_grads: dict[int, tuple] = field(default_factory=dict)
    losses: dict[int, torch.Tensor] = field(default_factory=dict)
    pending: list[tuple[Any, torch.Tensor]] = field(default_factory=list)  # (async work, its tensor)
    timer: Any = None  # the rank's OpTimer: the passes are recorded with its compute actions

    def take_input_grad(self, mb: int) -> torch.Tensor:
        grad, work = self.input_grads.pop(mb)
        work.wait()
        return grad

    # -- the input layer, around the schedule ---------------------------------------------------
    def embed(self, ids: torch.Tensor) -> torch.Tensor | None:
        """The summed token embedding of the batch on the first stage's rank (a leaf requiring a
        gradient); ``None`` elsewhere."""
        part = self.shard.embed(ids).to(self.activation_dtype)
        dist.reduce(part, group_dst=self.first, group=self.groups.embed)
        return part.requires_grad_(True) if self.rank == self.first else None

    def embed_backward(self, ids: torch.Tensor, embedded: torch.Tensor | None) -> None:
        grad = torch.empty(*ids.shape, self.d_model, dtype=self.activation_dtype, device=self.device)
        if self.rank == self.first:
            if embedded is None or embedded.grad is None:
                raise RuntimeError("vocabulary parallelism: the first stage's backward left no input gradient")
            grad.copy_(embedded.grad)
        dist.broadcast(grad, group_src=self.first, group=self.groups.embed)
        self.shard.embed_backward(ids, grad)

    def begin(self, labels: torch.Tensor, microbatches: int) -> None:
        self.labels = list(labels.tensor_split(microbatches))
        self.losses.clear()

    def finish(self) -> None:
        for work, _ in self.pending:
            work.wait()
        self.pending.clear()
        leftovers = [k for k in ("hidden", "saved", "stats", "input_grads") if getattr(self, k)]
        if leftovers:
            raise RuntimeError(f"vocabulary parallelism: passes left unfinished at the end of the step: {leftovers}")

    @torch.no_grad()
    def forward_loss(self, h: torch.Tensor | None, labels: torch.Tensor) -> torch.Tensor | None:
        """Forward only (evaluation), every rank at once: the loss of one microbatch whose last-stage
        output ``h`` the last stage's rank holds; returned there, ``None`` elsewhere."""
        if self.rank != self.root:
            h = torch.empty(*labels.shape, self.d_model, dtype=self.activation_dtype, device=self.device)
        assert h is not None
        h = h.to(self.activation_dtype).contiguous()
        dist.broadcast(h, group_src=self.root, group=self.groups.broadcast)
        logits, stats = self.shard.logits_and_stats(h, labels)
        self.shard.release(logits)
        gathered = [torch.empty_like(stats) for _ in range(self.ranks)]
        dist.all_gather(gathered, stats, group=self.groups.stats)
        loss = log_sum_exp_and_loss(torch.stack(gathered), self.scale)[1]
        return loss if self.rank == self.root else None

    # -- the output layer, in the schedule ------------------------------------------------------
    def last_stage_output(self, output: torch.Tensor, mb: int) -> torch.Tensor:
        """Called after the last stage's forward: broadcast ``output`` and return the placeholder loss."""
        h = output.detach().to(self.activation_dtype).contiguous()
        self.hidden[mb] = h
        self.pending.append((dist.broadcast(h, group_src=self.root, group=self.groups.broadcast, async_op=True), h))
        return _GradFromVocab.apply(output, self, mb)

    def s_pass(self, mb: int) -> None:
        labels = self.labels[mb]
        if self.rank == self.root:
            h = self.hidden.pop(mb)
        else:
            h = torch.empty(*labels.shape, self.d_model, dtype=self.activation_dtype, device=self.device)
            dist.broadcast(h, group_src=self.root, group=self.groups.broadcast)
        t0 = time.perf_counter()  # the wait for h is idle time, as a compute action's receive is
        logits, stats = self.shard.logits_and_stats(h, labels)
        gathered = [torch.empty_like(stats) for _ in range(self.ranks)]
        work = dist.all_gather(gathered, stats, group=self.groups.stats, async_op=True)
        self.saved[mb] = (h, logits)
        self.stats[mb] = (gathered, work)
        self._record("S", mb, t0)

    def t_pass(self, mb: int) -> None:
        gathered, work = self.stats.pop(mb)
        work.wait()
        t0 = time.perf_counter()
        h, logits = self.saved.pop(mb)
        grad, loss = self.shard.grads(h, logits, torch.stack(gathered), self.labels[mb], self.scale)
        self.losses[mb] = loss
        work = dist.reduce(grad, group_dst=self.root, group=self.groups.grads, async_op=True)
        if self.rank == self.root:
            self.input_grads[mb] = (grad, work)
        else:
            self.pending.append((work, grad))  # the tensor is kept alive until the reduce is done
        self._record("T", mb, t0)

    def _record(self, kind: str, mb: int, t0: float) -> None:
        if self.timer is not None and self.timer.enabled:
            self.timer.records.append((kind, -1, mb, t0, time.perf_counter()))


class ScheduleVocabParallel(_PipelineScheduleRuntime):
    """A per-rank order with vocabulary passes (:func:`dataprep.train.vocab_schedule.add_vocab_passes`)
    run by the library's action-list runtime: the compute actions get the library's sends and
    receives; the ``S``/``T`` actions run :class:`VocabState`'s passes."""

    def __init__(self, stages: list[Any], n_microbatches: int, *, order: dict[int, list[_Action]],
                 vocab: VocabState, **kwargs: Any) -> None:
        # the runtime calls its loss function only to infer the backward's shapes, at set-up
        kwargs["loss_fn"] = _shape_only_loss
        super().__init__(stages=stages, n_microbatches=n_microbatches, **kwargs)
        self.vocab = vocab
        self.compute_order = {r: list(order[r]) for r in range(self.pp_group_size)}
        self.pipeline_order = {r: [a for a in acts if not is_vocab(a)] for r, acts in self.compute_order.items()}
        self._prepare_schedule_with_comms(self.pipeline_order)
        self.pipeline_order_with_comms[self.rank] = _interleave(self.pipeline_order_with_comms[self.rank],
                                                                self.compute_order[self.rank])
        self._comp_type_to_function_map[VOCAB_S] = lambda action, ctx: vocab.s_pass(action.microbatch_index)
        self._comp_type_to_function_map[VOCAB_T] = lambda action, ctx: vocab.t_pass(action.microbatch_index)

    def _maybe_compute_loss(self, stage: Any, output: Any, target_mbs: Any, mb_index: int,
                            loss_kwargs: Any = None) -> None:
        if stage.is_last:
            self._internal_losses.append(self.vocab.last_stage_output(output, mb_index))

    def _update_losses(self, stages: Any, losses: Any) -> None:
        self._internal_losses.clear()
        if losses is not None and any(s.is_last for s in self._stages):
            losses.clear()
            losses.extend(self.vocab.losses[mb] for mb in range(self._n_microbatches))


def _shape_only_loss(output: torch.Tensor, target: Any) -> torch.Tensor:
    return output.float().sum() * 0.0


def _interleave(with_comms: list[_Action], order: list[_Action]) -> list[_Action]:
    """``with_comms`` (the library's lowering of ``order``'s compute actions) with ``order``'s vocabulary
    passes put back before the compute action they precede in ``order``."""
    out: list[_Action] = []
    pending = iter(order)
    compute_types = {a.computation_type for a in order if not is_vocab(a)}
    for action in with_comms:
        if action.computation_type in compute_types:
            for a in pending:
                if not is_vocab(a):
                    if a != action:
                        raise RuntimeError(f"the runtime reordered the compute actions: {a} != {action}")
                    break
                out.append(a)
        out.append(action)
    out.extend(a for a in pending if is_vocab(a))
    return out
