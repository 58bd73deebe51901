"""The training loader over real token shards: packing, exact epoch partition across ranks,
exact resume, mixing proportions, prefetched tensor batches."""

from __future__ import annotations

from pathlib import Path

import fsspec
import numpy as np
import pytest
import torch

from dataprep.io.tokens import TokenShardWriter, open_run
from dataprep.train.loader import PackedRun, TokenLoader


def write_run(folder: Path, docs_per_shard: list[list[np.ndarray]], vocab_size: int = 1000, eos: int = 0) -> Path:
    fs = fsspec.filesystem("file")
    for s, docs in enumerate(docs_per_shard):
        writer = TokenShardWriter(fs, str(folder), f"part-{s:05d}", vocab_size, eos, '{"model": "stub"}')
        ids = np.concatenate([np.append(d, eos) for d in docs]) if docs else np.zeros(0, np.uint32)
        writer.write_documents(ids.astype(np.uint32), np.array([len(d) + 1 for d in docs]))
        writer.close()
    return folder


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    shards = [[rng.integers(1, 1000, rng.integers(0, 300)) for _ in range(40)] for _ in range(3)]
    shards[1].append(rng.integers(1, 1000, 5000))  # a document longer than many sequences
    return write_run(tmp_path / "run", shards)


def stream(run: Path) -> np.ndarray:
    _, shards = open_run(run)
    return np.concatenate([np.asarray(s.ids) for s in shards]).astype(np.int64)


def test_token_shards_are_memory_mapped_with_document_offsets(run):
    meta, shards = open_run(run)
    assert meta["dtype"] == "<u2" and isinstance(shards[0].ids, np.memmap)
    doc = shards[1].document(len(shards[1]) - 1)
    assert len(doc) == 5001 and doc[-1] == meta["eos_id"]


def test_packing_windows_cross_documents_and_shards(run):
    packed = PackedRun(run, seq_len=64)
    tokens = stream(run)
    assert packed.samples == (len(tokens) - 1) // 64
    for i in (0, 1, packed.samples // 2, packed.samples - 1):
        assert np.array_equal(packed.window(i), tokens[i * 64:i * 64 + 65])
    every = np.arange(packed.samples)
    assert np.array_equal(packed.windows(every), np.stack([tokens[i * 64:i * 64 + 65] for i in every]))
    starts = packed.document_starts(3)
    window = packed.window(3)
    assert all(window[p - 1] == 0 for p in starts)


@pytest.mark.parametrize("world", [1, 2, 3])
def test_ranks_partition_each_epoch_exactly(run, world):
    seen = []
    for rank in range(world):
        loader = TokenLoader(run, seq_len=32, batch_size=4, seed=5, rank=rank, world_size=world)
        seen += [i for _, i in loader.samples_at(0, loader.per_rank())]
    n = PackedRun(run, 32).samples
    assert sorted(seen) == list(range(n))
    loader = TokenLoader(run, seq_len=32, batch_size=4, seed=5)
    first, second = loader.samples_at(0, n), loader.samples_at(n, n)
    assert sorted(first) == sorted(second) and first != second  # a new permutation each epoch
    assert TokenLoader(run, seq_len=32, batch_size=4, seed=6).samples_at(0, n) != first


@pytest.mark.parametrize("read_threads", [1, 4])
def test_batches_are_shifted_tensors(run, read_threads):
    loader = TokenLoader(run, seq_len=16, batch_size=8, seed=1, read_threads=read_threads)
    batch = next(iter(loader))
    assert batch["input_ids"].shape == batch["labels"].shape == (8, 16)
    assert batch["input_ids"].dtype == torch.int64
    assert torch.equal(batch["input_ids"][:, 1:], batch["labels"][:, :-1])
    expected = [PackedRun(run, 16).window(i) for _, i in TokenLoader(run, 16, 8, seed=1).samples_at(0, 8)]
    windows = torch.cat([batch["input_ids"], batch["labels"][:, -1:]], dim=1)
    assert torch.equal(windows, torch.tensor(np.stack(expected)))


def test_resume_mid_epoch_equals_an_uninterrupted_pass(run):
    def take(loader: TokenLoader, n: int) -> list[torch.Tensor]:
        out = []
        for batch in loader:
            out.append(batch["input_ids"])
            if len(out) == n:
                return out
        return out

    full = take(TokenLoader(run, seq_len=32, batch_size=8, seed=3, rank=1, world_size=2), 30)
    first = TokenLoader(run, seq_len=32, batch_size=8, seed=3, rank=1, world_size=2)
    head = take(first, 12)
    resumed = TokenLoader(run, seq_len=32, batch_size=8, seed=3, rank=1, world_size=2)
    resumed.load_state_dict(first.state_dict())
    tail = take(resumed, 18)
    assert all(torch.equal(a, b) for a, b in zip(full, head + tail))
    with pytest.raises(ValueError, match="seed"):
        TokenLoader(run, seq_len=32, batch_size=8, seed=4, rank=1, world_size=2).load_state_dict(first.state_dict())


def test_mixing_proportions_follow_weights(tmp_path: Path, run):
    rng = np.random.default_rng(1)
    other = write_run(tmp_path / "other", [[rng.integers(1, 1000, 200) for _ in range(30)]])
    loader = TokenLoader({run: 0.7, other: 0.3}, seq_len=32, batch_size=100, seed=9)
    picks = loader.samples_at(0, 10_000)
    share = sum(1 for k, _ in picks if k == 0) / len(picks)
    assert abs(share - 0.7) < 0.01
    for _ in zip(range(5), loader):
        pass
    assert abs(loader.proportions()[str(run)] - 0.7) < 0.1
    assert picks == TokenLoader({run: 0.7, other: 0.3}, seq_len=32, batch_size=100, seed=9).samples_at(0, 10_000)


def test_errors_explain_themselves(tmp_path: Path, run):
    with pytest.raises(ValueError, match="make no sequence"):
        TokenLoader(write_run(tmp_path / "tiny", [[np.array([1, 2])]]), seq_len=64, batch_size=2)
    with pytest.raises(ValueError, match="rank 2 is not in 0..1"):
        TokenLoader(run, seq_len=8, batch_size=2, rank=2, world_size=2)
    with pytest.raises(FileNotFoundError, match="tokenize stage"):
        TokenLoader(tmp_path, seq_len=8, batch_size=2)


def test_is_a_torch_iterable_dataset(run):
    from torch.utils.data import DataLoader, IterableDataset

    loader = TokenLoader(run, seq_len=16, batch_size=4, seed=2)
    assert isinstance(loader, IterableDataset)
    batch = next(iter(DataLoader(loader, batch_size=None)))
    assert batch["input_ids"].shape == (4, 16)
