"""Predict a pipeline schedule's step time, bubble and activation memory from per-op costs.

A schedule is what the runtime executes: for every rank, an ordered list of compute actions
(``F`` forward, ``B`` full backward, ``I`` backward for inputs, ``W`` backward for weights,
``OVERLAP_F_B`` a forward and a backward issued together), each on a stage and a microbatch --
the same :class:`torch.distributed.pipelining.schedules._Action` lists the library runs.

The simulator executes those lists as soon as possible in their order: an action starts when
its rank is free and its inputs exist (a forward needs the previous stage's forward of the same
microbatch, a backward its own forward and the next stage's backward, a weight update its
input-gradient backward); crossing ranks adds ``comm``.  It reports, per rank:

* **bubble** -- the idle share of the step, ``1 - busy / step``.  With ``sync=True`` (what the
  trainer does: every step ends with a gradient-norm all-reduce and the optimizer) the step is
  the makespan of one iteration.  With ``sync=False`` iterations run back to back with no
  barrier (the Zero Bubble paper's optimizer post-validation, which ZB-H2 assumes) and the step
  is the steady-state period, measured over several iterations.
* **peak in flight** -- the most microbatches whose activations the rank holds at once (counted
  from the start of a forward to the end of its last backward piece, per stage chunk).
* **activation memory** over time, in bytes (or any unit) with the Zero Bubble paper's
  accounting: a forward on stage ``s`` adds ``m_b[s]`` (``M_B``); its input-gradient backward
  ``I`` frees ``m_b - m_w``, what the weight-gradient backward ``W`` still needs (``M_W``) stays
  until that ``W`` ends; a full backward ``B`` frees all of it.  The peak per rank is given in
  those units and in microbatches (over one microbatch's activations on that rank's stages).
* **vocabulary passes** (vocabulary parallelism, :mod:`dataprep.train.vocab_schedule`): ``S``
  on every rank needs the last stage's forward of its microbatch (broadcast: ``comm``); ``T``
  needs every rank's ``S`` of it (an all-gather of the softmax statistics: ``comm``); the last
  stage's backward needs every rank's ``T`` (a reduce of the input gradient: ``comm``).  ``S``
  leaves that rank's slice of the logits (``m_v``) until its ``T``.
* **span** -- per rank, from its first op's start to its last op's end, and the paper's
  **bubble rate** ``1 - work / largest span`` (the tables of the Zero Bubble paper use it:
  stages start staggered, so the ramp-up wait of a late stage does not count).

Each op costs its mean unless a ``jitter`` is given: then a rank that meets another (a transfer,
the vocabulary passes' collectives) waits for the slower of the two, as real ops' spread makes
it do.

No library computes this from the library's own action lists, hence this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from torch.distributed.pipelining.schedules import _Action, _ComputationType

# the Zero Bubble paper's names of the passes
F, B, I, W, OVERLAP = (_ComputationType.FORWARD, _ComputationType.FULL_BACKWARD,  # noqa: E741 - I: the paper's name
                       _ComputationType.BACKWARD_INPUT, _ComputationType.BACKWARD_WEIGHT, _ComputationType.OVERLAP_F_B)


class VocabPass(str):
    """The kind of a vocabulary-parallel pass (``S``: local logits and softmax statistics; ``T``:
    the output layer's gradients), on every rank.  ``_ComputationType`` is a closed enum, so the
    passes get their own kind with the same ``.value`` the action lists print."""

    @property
    def value(self) -> str:
        return str(self)


VOCAB_S, VOCAB_T = VocabPass("S"), VocabPass("T")


def vocab_action(kind: VocabPass, microbatch: int) -> _Action:
    """A vocabulary pass of ``microbatch`` (stage index -1: it belongs to no pipeline stage)."""
    return _Action(-1, kind, microbatch)  # type: ignore[arg-type]


def is_vocab(action: _Action) -> bool:
    return isinstance(action.computation_type, VocabPass)


def parse_action(text: str) -> _Action:
    """An action from its printed form (``2F0``, ``-1S3``), the inverse of ``str(action)``."""
    if text.startswith("-1") and text[2:3] in ("S", "T"):
        return vocab_action(VOCAB_S if text[2] == "S" else VOCAB_T, int(text[3:]))
    return _Action.from_str(text)


def _per_stage(v: float | Sequence[float], stage: int) -> float:
    return v[stage] if isinstance(v, Sequence) else v


def _peaks(events: list[tuple[float, int, float]]) -> dict[int, float]:
    """The highest running sum per rank of ``(time, rank, delta)`` events; frees go first at equal times."""
    level: dict[int, float] = defaultdict(float)
    peak: dict[int, float] = defaultdict(float)
    for _, r, delta in sorted(events, key=lambda e: (e[0], e[2])):
        level[r] += delta
        peak[r] = max(peak[r], level[r])
    return peak


@dataclass(frozen=True)
class OpCosts:
    """Seconds (or any unit) per microbatch on one stage: forward, input backward, weight backward.

    A full backward ``B`` costs ``full`` where given (a stage whose full backward was measured:
    one autograd pass costs less than its two split parts), else ``b + w``; a per-stage list of
    ``full`` may hold None for the stages without one.  Per-stage lists override the scalars.  ``m_b`` is the
    activation memory one microbatch's forward leaves on a stage, ``m_w`` the part of it kept from
    ``I`` until ``W`` (default: all of it); ``optimizer`` the optimizer step's time, added to a
    synchronised step.
    """
    f: float | Sequence[float] = 1.0
    b: float | Sequence[float] = 1.0
    w: float | Sequence[float] = 1.0
    comm: float = 0.0
    m_b: float | Sequence[float] = 1.0
    m_w: float | Sequence[float] | None = None
    optimizer: float = 0.0
    s: float = 0.0  # vocabulary passes, per microbatch on every rank
    t: float = 0.0
    m_v: float = 0.0  # one microbatch's slice of the logits, held from S to T
    full: float | Sequence[float | None] | None = None

    def memory(self, stage: int) -> tuple[float, float]:
        """``(M_B, M_W)`` of one microbatch on ``stage``."""
        mb = _per_stage(self.m_b, stage)
        return mb, mb if self.m_w is None else _per_stage(self.m_w, stage)

    def of(self, kind: _ComputationType, stage: int) -> float:
        pick = lambda v: _per_stage(v, stage)  # noqa: E731

        if kind == VOCAB_S:
            return self.s
        if kind == VOCAB_T:
            return self.t
        if kind == F:
            return pick(self.f)
        if kind == I:
            return pick(self.b)
        if kind == W:
            return pick(self.w)
        if kind == B:
            full = None if self.full is None else pick(self.full)
            return pick(self.b) + pick(self.w) if full is None else full
        raise ValueError(f"no cost for {kind}")


@dataclass
class Span:
    rank: int
    kind: str  # F, B, I, W
    stage: int
    microbatch: int
    start: float
    end: float
    iteration: int = 0


@dataclass
class SimResult:
    step_time: float
    busy: list[float]
    peak_inflight: list[int]
    spans: list[Span] = field(default_factory=list)
    peak_memory: list[float] = field(default_factory=list)  # activation memory, in OpCosts.m_b's unit
    microbatch_memory: list[float] = field(default_factory=list)  # one microbatch on the rank's stages

    @property
    def peak_microbatches(self) -> list[float]:
        """Peak activation memory per rank in microbatches of that rank's activations (1F1B: P on rank 0)."""
        return [p / m if m else 0.0 for p, m in zip(self.peak_memory, self.microbatch_memory)]

    @property
    def rank_spans(self) -> list[float]:
        """Per rank, first start to last end (one iteration)."""
        out = []
        for r in range(len(self.busy)):
            mine = [s for s in self.spans if s.rank == r]
            out.append(max(s.end for s in mine) - min(s.start for s in mine) if mine else 0.0)
        return out

    @property
    def span_bubble(self) -> float:
        """The Zero Bubble paper's bubble rate: ``1 - work of a rank / the largest rank span``."""
        return 1 - max(self.busy) / max(self.rank_spans)

    @property
    def idle(self) -> list[float]:
        return [self.step_time - b for b in self.busy]

    @property
    def bubble(self) -> list[float]:
        """Idle share of the step, per rank."""
        return [1 - b / self.step_time for b in self.busy]

    @property
    def mean_bubble(self) -> float:
        return sum(self.bubble) / len(self.bubble)


class ScheduleDeadlock(RuntimeError):
    pass


def _leaves(action: _Action) -> list[_Action]:
    return list(action.sub_actions) if action.computation_type == OVERLAP else [action]


def simulate(actions: Mapping[int, Sequence[_Action | None]], stage_to_rank: Callable[[int], int], num_stages: int,
             costs: OpCosts, *, sync: bool = True, iterations: int | None = None,
             jitter: Callable[[str, int, int], float] | None = None) -> SimResult:
    """Run the per-rank action lists as soon as possible in order; see the module docstring.

    ``jitter(kind, stage, rank)``, where given, is called once per op the simulation runs (in a
    fixed order) and multiplies that op's cost: op times that spread instead of all being their mean
    (:func:`dataprep.train.timeline.predict_with_spread` draws it from a run's recorded ops)."""
    ranks = sorted(actions)
    lists = {r: [a for a in actions[r]
                 if a is not None and (a.computation_type == OVERLAP or a.is_compute_op or is_vocab(a))]
             for r in ranks}
    vocab = any(is_vocab(a) for r in ranks for a in lists[r])
    last = num_stages - 1
    root = stage_to_rank(last)
    iterations = 1 if sync else (iterations or 6)
    done: dict[tuple, float] = {}  # (kind, stage, mb, iteration) -> end time ('G' = either gradient kind)
    free = dict.fromkeys(ranks, 0.0)
    ptr = dict.fromkeys(ranks, 0)
    spans: list[Span] = []
    events: list[tuple[float, int, float]] = []  # (time, rank, +1/-1) for the in-flight count
    mem_events: list[tuple[float, int, float]] = []  # (time, rank, bytes) for activation memory
    ends = {r: [0.0] * iterations for r in ranks}
    total = {r: len(lists[r]) * iterations for r in ranks}

    def ready(a: _Action, r: int, it: int) -> float | None:
        s, mb = a.stage_index, a.microbatch_index
        kind = a.computation_type
        need: list[tuple[tuple, float]] = []
        if kind == VOCAB_S:
            need.append((("F", last, mb, it), costs.comm if r != root else 0.0))
        if kind == VOCAB_T:
            need += [(("S", q, mb, it), costs.comm if q != r else 0.0) for q in ranks]
        if vocab and kind in (B, I) and s == last:
            need += [(("T", q, mb, it), costs.comm if q != r else 0.0) for q in ranks]
        if kind == F and s > 0:
            need.append((("F", s - 1, mb, it), costs.comm if stage_to_rank(s - 1) != r else 0.0))
        if kind in (B, I):
            need.append((("F", s, mb, it), 0.0))
            if s < num_stages - 1:
                need.append((("G", s + 1, mb, it), costs.comm if stage_to_rank(s + 1) != r else 0.0))
        if kind == W:
            need.append((("I", s, mb, it), 0.0))
        t = 0.0
        for key, delay in need:
            if key not in done:
                return None
            t = max(t, done[key] + delay)
        return t

    while any(ptr[r] < total[r] for r in ranks):
        progress = False
        for r in ranks:
            while ptr[r] < total[r]:
                it, pos = divmod(ptr[r], len(lists[r]))
                action = lists[r][pos]
                leaves = _leaves(action)
                times = [ready(a, r, it) for a in leaves]
                if any(t is None for t in times):
                    break
                start = max([free[r]] + [t for t in times if t is not None])
                t = start
                for a in leaves:  # an overlapped pair costs the sum of its parts on one device
                    kind, s, mb = a.computation_type, a.stage_index, a.microbatch_index
                    end = t + costs.of(kind, s) * (jitter(kind.value, s, r) if jitter else 1.0)
                    spans.append(Span(r, kind.value, s, mb, t, end, it))
                    if is_vocab(a):  # keyed by rank: T waits for every rank's S
                        done[(kind.value, r, mb, it)] = end
                        mem_events.append((t, r, costs.m_v) if kind == VOCAB_S else (end, r, -costs.m_v))
                        t = end
                        continue
                    done[(kind.value, s, mb, it)] = end
                    if kind in (B, I):
                        done[("G", s, mb, it)] = end
                    m_b, m_w = costs.memory(s)
                    if kind == F:
                        events.append((t, r, +1))
                        mem_events.append((t, r, m_b))
                    if kind in (B, W):
                        events.append((end, r, -1))
                    if kind == B:
                        mem_events.append((end, r, -m_b))
                    elif kind == I:
                        mem_events.append((end, r, m_w - m_b))
                    elif kind == W:
                        mem_events.append((end, r, -m_w))
                    t = end
                free[r] = t
                ends[r][it] = t
                ptr[r] += 1
                progress = True
        if not progress:
            stuck = {r: str(lists[r][ptr[r] % len(lists[r])]) for r in ranks if ptr[r] < total[r]}
            raise ScheduleDeadlock(f"the schedule cannot proceed: ranks wait on actions whose inputs never come: "
                                   f"{stuck}")

    peak = _peaks(events)
    peak_memory = _peaks(mem_events)
    per_mb = [sum(costs.memory(s)[0] for s in range(num_stages) if stage_to_rank(s) == r) for r in ranks]
    busy = [sum(s.end - s.start for s in spans if s.rank == r and s.iteration == iterations - 1) for r in ranks]
    if sync:
        step = max(ends[r][0] for r in ranks) + costs.optimizer
    else:  # steady-state period: the last iteration's span end to end, the same on every rank
        step = max(ends[r][-1] - ends[r][-2] for r in ranks)
    return SimResult(step, busy, [int(peak[r]) for r in ranks], [s for s in spans if s.iteration == 0],
                     [peak_memory[r] for r in ranks], per_mb)
