"""Checks a training config against the data and the ranks before any process starts: the runs
exist and share one vocabulary, the schedule accepts the ranks, stages per rank and
microbatches, and the model splits into that many stages.  Every problem is a
:class:`~dataprep.config.errors.ConfigError` naming the key and the arithmetic it rejects."""

from __future__ import annotations

from dataprep.config.errors import ConfigError, Problem
from dataprep.io.tokens import open_run
from dataprep.train.config import TrainConfig
from dataprep.train.model import GPTConfig
from dataprep.train.partition import PartitionError, split_model
from dataprep.train.schedules import ScheduleError, get_schedule


def gpt_config(cfg: TrainConfig, vocab_size: int) -> GPTConfig:
    """The model a config describes, for a tokenizer of ``vocab_size`` entries."""
    m = cfg.model
    return GPTConfig(vocab_size=vocab_size, seq_len=cfg.data.seq_len, layers=m.layers, d_model=m.d_model,
                     heads=m.heads, mlp_ratio=m.mlp_ratio)


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


def check_training(cfg: TrainConfig, ranks: int, file: str) -> None:
    """Raise :class:`ConfigError` unless ``cfg`` can train on ``ranks`` pipeline ranks."""
    vocab = run_vocabulary(cfg, file)
    spec = get_schedule(cfg.pipeline.schedule)
    v = cfg.pipeline.stages_per_rank or spec.default_stages_per_rank
    try:
        spec.check(ranks, v, cfg.data.microbatches)
        split_model(gpt_config(cfg, vocab), ranks * v, cfg.pipeline.balance)
    except (ScheduleError, PartitionError) as exc:
        raise ConfigError(file, [Problem("pipeline", f"{exc} (ranks: {ranks} from --nproc)")]) from None
