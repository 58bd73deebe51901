"""Checks a training config against the data and the ranks before any process starts: the runs
exist and share one vocabulary, the schedule accepts the ranks, stages per rank and
microbatches, and the model splits into that many stages.  Every problem is a
:class:`~dataprep.config.errors.ConfigError` naming the key and the arithmetic it rejects."""

from __future__ import annotations

from dataprep.config.errors import ConfigError, Problem
from dataprep.io.tokens import open_run
from dataprep.train.config import TrainConfig
from dataprep.train.partition import PartitionError, split_model
from dataprep.train.schedule_specs import ScheduleError, get_schedule
from dataprep.train.shape import GPTConfig


def gpt_config(cfg: TrainConfig, vocab_size: int) -> GPTConfig:
    """The model a config describes, for a tokenizer of ``vocab_size`` entries (padded to
    ``model.vocab_size`` when that is larger)."""
    m = cfg.model
    return GPTConfig(vocab_size=max(vocab_size, m.vocab_size or 0), seq_len=cfg.data.seq_len, layers=m.layers,
                     d_model=m.d_model, heads=m.heads, mlp_ratio=m.mlp_ratio)


def run_vocabulary(cfg: TrainConfig, file: str) -> int:
    """The vocabulary size the config's runs share."""
    vocab = set()
    for run in cfg.run_weights:
        try:
            vocab.add(open_run(run)[0]["vocab_size"])
        except FileNotFoundError as exc:
            raise ConfigError(file, [Problem("data.runs", f"{exc}")]) from None
    if len(vocab) != 1:
        raise ConfigError(file, [Problem("data.runs", f"the runs use different vocabularies {sorted(vocab)}")])
    return vocab.pop()


def check_training(cfg: TrainConfig, nproc: int, file: str) -> None:
    """Raise :class:`ConfigError` unless ``cfg`` can train on ``nproc`` processes (pp x dp)."""
    try:
        ranks, dp = cfg.layout(nproc)
    except ValueError as exc:
        raise ConfigError(file, [Problem("parallel", str(exc))]) from None
    data = cfg.data
    if data.batch_size % (dp * data.microbatches):
        fit = dp * data.microbatches
        raise ConfigError(file, [Problem(
            "data.batch_size", f"{data.batch_size} sequences do not split into dp {dp} replicas x "
            f"{data.microbatches} microbatches; use a multiple of {fit} "
            f"(e.g. batch_size: {-(-data.batch_size // fit) * fit})")])
    vocab = run_vocabulary(cfg, file)
    if cfg.model.vocab_size is not None and cfg.model.vocab_size < vocab:
        raise ConfigError(file, [Problem("model.vocab_size", f"{cfg.model.vocab_size} is smaller than the runs' "
                                                             f"vocabulary {vocab}; use at least {vocab} or remove it")])
    if cfg.eval_every:
        for run in cfg.val_weights:
            try:
                meta, _ = open_run(run, split=cfg.val_split)
            except FileNotFoundError as exc:
                raise ConfigError(file, [Problem("data.val_runs" if cfg.data.val_runs is not None else "eval_every",
                                                 f"{exc}; or set data.val_runs to runs to evaluate on")]) from None
            if meta["vocab_size"] != vocab:
                raise ConfigError(file, [Problem("data.val_runs", f"{run} uses vocabulary {meta['vocab_size']}, "
                                                                  f"the training runs {vocab}")])
    if cfg.precision == "bf16" and cfg.uses_cuda:
        import torch

        if not torch.cuda.is_bf16_supported():
            raise ConfigError(file, [Problem("precision", "this GPU has no bfloat16; use precision: fp32")])
    spec = get_schedule(cfg.pipeline.schedule)
    v = cfg.pipeline.stages_per_rank or spec.default_stages_per_rank
    try:
        spec.check(ranks, v, cfg.data.microbatches)
        split_model(gpt_config(cfg, vocab), ranks * v, cfg.pipeline.balance, cfg.pipeline.vocab_parallel)
        if cfg.pipeline.vocab_parallel and ranks < 2:
            raise ScheduleError("pipeline.vocab_parallel splits the vocabulary over the pipeline's ranks and needs "
                                "pp >= 2; set it to false for a single rank")
        if cfg.pipeline.vocab_parallel and spec.name == "dualpipe-v":
            raise ScheduleError("pipeline.vocab_parallel cannot run with dualpipe-v (its overlapped forward-backward "
                                "pairs leave no place for the vocabulary passes); use v-half, zb-v or 1f1b")
    except (ScheduleError, PartitionError) as exc:
        raise ConfigError(file, [Problem("pipeline",
                                         f"{exc} (pipeline ranks: {ranks} = --nproc {nproc} / dp {dp})")]) from None
