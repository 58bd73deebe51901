"""The training config (YAML), validated like a recipe: every problem with file, line, key and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dataprep.config.yaml_source import load_yaml_model
from dataprep.train.schedule_specs import SCHEDULES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSpec(_Strict):
    runs: str | list[str] | dict[str, float] = Field(
        description="tokenized run folder(s) (output of a recipe with a tokenize stage); {run: weight} mixes them")
    seq_len: int = Field(128, ge=2, description="tokens per training sequence")
    batch_size: int = Field(16, ge=1, description="sequences per step (global batch)")
    microbatches: int = Field(4, ge=1, description="microbatches the batch is split into for the pipeline")
    prefetch: int = Field(8, ge=1, description="batches assembled ahead by the loader's thread")
    document_mask: bool = Field(
        False, description="attention stays inside each document of a packed window; positions restart per document")
    val_runs: str | list[str] | dict[str, float] | None = Field(
        None, description="tokenized run(s) to evaluate on (default: the runs' held-out tokens/val split)")

    @model_validator(mode="after")
    def _divisible(self) -> DataSpec:
        if self.batch_size % self.microbatches:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of microbatches "
                             f"({self.microbatches}); "
                             f"e.g. batch_size: {-(-self.batch_size // self.microbatches) * self.microbatches}")
        return self


class ModelSpec(_Strict):
    layers: int = Field(4, ge=1, description="transformer blocks")
    d_model: int = Field(128, ge=8, description="hidden size")
    heads: int = Field(4, ge=1, description="attention heads (d_model must be a multiple)")
    mlp_ratio: int = Field(4, ge=1, description="MLP hidden size / d_model")
    vocab_size: int | None = Field(
        None, ge=2, description="pad the embedding and output layer to this many rows (default and minimum: the "
                                "tokenizer's vocabulary); the extra rows are never a target")

    @model_validator(mode="after")
    def _heads(self) -> ModelSpec:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads})")
        return self


class PipelineSpec(_Strict):
    schedule: str = Field("1f1b", description=f"one of {', '.join(SCHEDULES)}, or auto: the fastest that fits "
                                              "memory_per_rank, by `dataprep simulate --search`")
    stages_per_rank: int | None = Field(None, ge=1, description="model chunks per rank (default: the schedule's)")
    balance: Literal["cost", "uniform"] = Field(
        "cost", description="cost: balance predicted FLOPs incl. embeddings and head; uniform: equal blocks")
    memory_per_rank: float | None = Field(
        None, gt=0, description="schedule auto: GiB a rank may use (default: the GPU's memory; on CPU, RAM / ranks)")
    activation_limit: float | None = Field(
        None, gt=0, description="zb-auto: activations a rank may hold, in microbatches of one stage's "
                                "(default 2 x pp, the paper's ZB-2p; pp gives ZB-H1's memory)")
    vocab_parallel: bool = Field(
        False, description="split the token embedding and the output layer with its softmax over the vocabulary "
                           "across every pipeline rank (vocabulary parallelism); needs pp >= 2, not dualpipe-v")

    @field_validator("schedule")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in SCHEDULES and v != "auto":
            raise ValueError(f"unknown schedule {v!r}; choose one of {', '.join(SCHEDULES)} or auto")
        return v


class ParallelSpec(_Strict):
    pp: int | None = Field(None, ge=1, description="pipeline ranks (default: --nproc / dp)")
    dp: int = Field(1, ge=1, description="data-parallel replicas of the pipeline (FSDP2 over the dp axis)")


class OptimSpec(_Strict):
    lr: float = Field(3e-3, gt=0, description="peak learning rate (AdamW)")
    min_lr: float = Field(3e-4, ge=0, description="learning rate at the end of the cosine decay")
    warmup_steps: int = Field(10, ge=0, description="linear warm-up steps")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay (matrices only)")
    betas: tuple[float, float] = Field((0.9, 0.95), description="AdamW betas")
    grad_clip: float | None = Field(1.0, gt=0, description="clip the global gradient norm to this (null: off)")


class TrainOutputSpec(_Strict):
    path: str = Field(description="folder for metrics.jsonl, checkpoints/, PNGs and summary.json")
    checkpoint_every: int = Field(0, ge=0, description="save every N steps (0: only at the end)")
    timeline_step: int | None = Field(None, ge=1,
                                      description="step whose measured timeline is kept (default: the last)")


class TrainConfig(_Strict):
    """Data x pipeline parallel training of a GPT-style model on tokenized runs (see recipes/train_tiny.yaml,
    recipes/train_dp_pp.yaml)."""
    name: str = Field("train", description="shown in logs and summary.json")
    seed: int = Field(0, description="seeds weights and data order")
    steps: int = Field(ge=1, description="optimizer steps to train")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA with NCCL if present, else CPU with gloo")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16: bfloat16 compute over fp32 master weights and optimizer state")
    eval_every: int = Field(0, ge=0, description="evaluate on the validation split every N steps (0: never)")
    eval_batches: int = Field(4, ge=1, description="validation batches per evaluation (always the same ones)")
    peak_tflops: float | None = Field(
        None, gt=0, description="the device's peak TFLOP/s for MFU (default: a table of common GPUs; CPU: n/a)")
    data: DataSpec
    model: ModelSpec = ModelSpec()
    parallel: ParallelSpec = ParallelSpec()
    pipeline: PipelineSpec = PipelineSpec()
    optim: OptimSpec = OptimSpec()
    output: TrainOutputSpec

    @property
    def uses_cuda(self) -> bool:
        """CUDA with NCCL (``device: cuda``, or ``auto`` on a machine with a GPU), else CPU with gloo."""
        import torch

        return self.device == "cuda" or (self.device == "auto" and torch.cuda.is_available())

    @property
    def run_weights(self) -> dict[str, float]:
        return _weights(self.data.runs)

    @property
    def val_weights(self) -> dict[str, float]:
        """The runs evaluated on: ``data.val_runs``, else the training runs (their ``tokens/val``)."""
        return _weights(self.data.val_runs if self.data.val_runs is not None else self.data.runs)

    @property
    def val_split(self) -> str:
        """``train`` when ``data.val_runs`` names separate runs (their whole stream), else ``val``."""
        return "train" if self.data.val_runs is not None else "val"

    def layout(self, nproc: int) -> tuple[int, int]:
        """``(pp, dp)`` for ``nproc`` processes; :class:`ValueError` naming the arithmetic if they do not fit."""
        dp = self.parallel.dp
        pp = self.parallel.pp if self.parallel.pp is not None else nproc // dp
        if pp < 1 or pp * dp != nproc:
            shown = self.parallel.pp if self.parallel.pp is not None else "?"
            raise ValueError(f"--nproc {nproc} is not pp {shown} x dp {dp}; "
                             f"start pp x dp processes (e.g. --nproc {max(pp, 1) * dp})")
        return pp, dp


def _weights(runs: str | list[str] | dict[str, float] | None) -> dict[str, float]:
    if runs is None:
        return {}
    if isinstance(runs, str):
        return {runs: 1.0}
    if isinstance(runs, list):
        return dict.fromkeys(runs, 1.0)
    return dict(runs)


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read and validate a training config; raises :class:`dataprep.config.errors.ConfigError` listing every problem."""
    return load_yaml_model(path, TrainConfig, overrides, what="training config")  # type: ignore[return-value]
