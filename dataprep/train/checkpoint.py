"""Checkpoints that reshard: ``torch.distributed.checkpoint`` (DCP) keyed by the unsplit model's names.

A checkpoint ``checkpoints/step-NNNNNN/`` holds DCP's files (one ``__<rank>_0.distcp`` per
rank and ``.metadata``), ``meta.json`` (step, the layout that wrote it, the model's shape, the
data settings) and the run's ``tokenizer.json``.  The saved state is::

    {"model": {"pieces.<i>.<name>": tensor, ...},
     "optim": {"pieces.<i>.<name>": {"step", "exp_avg", "exp_avg_sq"}, ...}}

Every name is the parameter's name in the *unsplit* model (:class:`dataprep.train.model.StageModule`
keeps pieces under their global index), and DCP records each tensor's global shape with the
slice every rank wrote.  Loading asks for the slices the new layout holds -- a whole tensor on
a plain stage, its shard on an FSDP2 stage -- so a checkpoint written with one
``(pp, dp, schedule, stages_per_rank)`` loads into any other.  Learning rate and data position
are functions of the step (the loader seeks to ``step x`` its batch), so nothing else is needed
to continue.

**Loading runs no code.**  DCP's own ``FileSystemReader`` unpickles ``.metadata`` with plain
``pickle`` and would load any non-tensor entry with ``torch.load(weights_only=False)``: a
tampered checkpoint could run code through either.  :class:`SafeReader` closes both: its
``.metadata`` unpickler resolves only DCP's own metadata classes and torch's size and dtype
types (anything else is refused before it is called), and it refuses a checkpoint with any
entry that is not a tensor.  Tensor payloads are read by DCP with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint.metadata import Metadata, TensorStorageMetadata

from dataprep.io.atomic import write_local_atomic

CHECKPOINTS = "checkpoints"
META = "meta.json"
TOKENIZER = "tokenizer.json"

# a DCP .metadata file names only classes defined in these modules, plus these few globals
_METADATA_MODULES = ("torch.distributed.checkpoint.metadata", "torch.distributed.checkpoint.filesystem",
                     "torch.distributed.checkpoint.planner")
_ALLOWED = {("collections", "OrderedDict"), ("torch", "Size"), ("torch.serialization", "_get_layout"),
            ("pathlib", "PosixPath"), ("pathlib", "PurePosixPath")}


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded here; the message says why."""


class _MetadataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module in _METADATA_MODULES and "." not in name:
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and found.__module__ == module:  # a class defined there, not an import
                return found
        raise CheckpointError(f"checkpoint metadata names {module}.{name}, which is not checkpoint metadata; "
                              "refusing to load it (it could run code)")


class SafeReader(FileSystemReader):
    """DCP's file reader with metadata read by an allow-list unpickler and tensor-only entries."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        cached = self.__dict__.get("_checked")
        if cached is not None:  # read and checked once per reader: load() checks before DCP reads
            cached.storage_meta.load_id = self.load_id
            return cached
        path = Path(self.path) / ".metadata"
        try:
            metadata = _MetadataUnpickler(io.BytesIO(path.read_bytes())).load()
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - any unreadable metadata is one error
            raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
        if not isinstance(metadata, Metadata):
            raise CheckpointError(f"{path}: not checkpoint metadata")
        odd = [k for k, v in metadata.state_dict_metadata.items() if not isinstance(v, TensorStorageMetadata)]
        if odd:
            raise CheckpointError(f"{path}: entries {odd[:3]} are not tensors; this trainer writes only tensors")
        from torch.distributed.checkpoint.metadata import StorageMeta

        if getattr(metadata, "storage_meta", None) is None:
            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        self.__dict__["_checked"] = metadata
        return metadata


def adam_state(optimizer: torch.optim.Optimizer, named: dict[str, torch.nn.Parameter]) -> dict[str, Any]:
    """AdamW's state per parameter name; a parameter without state yet gets what AdamW would
    create on its first step (step 0, zero moments), so there is something to load into."""
    out = {}
    for name, p in named.items():
        state = optimizer.state[p]
        if not state:
            state["step"] = torch.tensor(0.0, dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        out[name] = {k: state[k] for k in ("step", "exp_avg", "exp_avg_sq")}
    return out


def training_state(modules: list[torch.nn.Module], optimizer: torch.optim.Optimizer, *,
                   vocab: torch.nn.Module | None = None, mesh: Any = None) -> dict[str, Any]:
    """The DCP state of this rank: its stages' parameters and their AdamW state, by unsplit name.

    ``vocab`` (a :class:`dataprep.train.vocab_parallel.VocabShard`) adds this rank's rows of the
    token embedding and the output projection, as row-sharded DTensors over ``mesh``'s ``pp``
    dimension (or its only one): the checkpoint holds the unsplit matrices, so it loads with or
    without vocabulary parallelism and into any number of ranks."""
    named = {n: p for m in modules for n, p in m.named_parameters()}
    state = {"model": {n: p.detach() for n, p in named.items()}, "optim": adam_state(optimizer, named)}
    if vocab is not None:
        rows = adam_state(optimizer, dict(vocab.named_parameters()))
        for local, full in vocab.full_names.items():
            param = getattr(vocab, local)
            state["model"][full] = vocab.global_view(param.detach(), mesh)
            state["optim"][full] = {"step": rows[local]["step"],
                                    **{k: vocab.global_view(rows[local][k], mesh) for k in ("exp_avg", "exp_avg_sq")}}
    return state


def save(folder: Path, state: dict[str, Any], meta: dict[str, Any], tokenizer: Path | None, rank: int) -> Path:
    """Write a checkpoint collectively (every rank calls it); visible only once complete."""
    tmp = folder.with_name(folder.name + ".tmp")
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    dist.barrier()
    dcp.save(state, checkpoint_id=tmp)
    dist.barrier()
    if rank == 0:
        if tokenizer is not None:
            shutil.copyfile(tokenizer, tmp / TOKENIZER)
        write_local_atomic(tmp / META, json.dumps(meta, indent=2))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    dist.barrier()
    return folder


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META
    if not path.exists():
        raise CheckpointError(f"{folder} is not a checkpoint (no {META})")
    return json.loads(path.read_text())


def load(folder: Path, state: dict[str, Any], *, distributed: bool = True) -> None:
    """Fill ``state``'s tensors in place from ``folder``, whatever layout wrote it (``distributed``:
    collectively, every rank of the process group; else in this process alone)."""
    reader = SafeReader(folder)
    reader.read_metadata()  # refuse a tampered checkpoint here, with its own error, not inside DCP
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*assuming the intent is to load in a single process")
        dcp.load(state, storage_reader=reader, no_dist=not distributed)


def latest(out: Path) -> Path | None:
    """The newest complete checkpoint folder (``.tmp`` folders are incomplete and ignored)."""
    done = sorted(p for p in (out / CHECKPOINTS).glob("step-*") if p.is_dir() and not p.name.endswith(".tmp")
                  and (p / META).exists())
    return done[-1] if done else None
