"""The training loader: fixed-length sequences from tokenized runs, memory-mapped, shuffled,
split across data-parallel ranks, mixed by weights, prefetched, and exactly resumable.

**Packing.** A run's token shards, concatenated in shard order, form one stream in which every
document ends with its end-of-document token.  Sample i is the window
``stream[i * seq_len : i * seq_len + seq_len + 1]`` (inputs are its first ``seq_len`` tokens,
labels the last ``seq_len``), so windows cross document boundaries; ``document_starts``
gives the boundaries inside a window for attention masking.  No tokens are copied until a
window is read.

**Order.** Epoch e of a source visits its samples in the order of a permutation drawn from
``(seed, source, e)``; rank r of w takes positions r, r + w, r + 2w, ... of it, so across ranks
every sample is seen exactly once per epoch.

**Mixing.** With several sources and weights, position t of every rank's stream draws its
source from a seeded generator (blocks of 4,096 draws from ``(seed, block)``), and takes that
source's next sample for the rank; ``proportions()`` reports what was realised.

**Resume.** The state is one number: the position of the next sample of this rank's stream
(plus the settings, checked on load).  Every sample at position t is a pure function of the
settings and t, so ``load_state_dict`` continues exactly where a checkpoint left off.

**Prefetch.** A background thread assembles the next batches, ``prefetch`` at a time.  With
``read_threads > 1`` the windows of a batch are read by a thread pool in any order and each
lands in its own row, so slow random reads (network file systems, cold disks) overlap and
never stall the trainer -- the idea of RINAS: order within a batch does not matter, so a batch
can be built from whichever reads finish first.  For local files in the page cache a pool
costs more than it saves, hence the default of 1 (reads in the prefetch thread).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from dataprep.io.tokens import open_run

MIX_BLOCK = 4096


@contextlib.contextmanager
def _no_pool() -> Iterator[None]:
    yield None


class PackedRun:
    """Fixed-length windows over the token stream of one tokenized run."""

    def __init__(self, run: str | Path, seq_len: int, split: str = "train") -> None:
        self.meta, self.shards = open_run(run, split=split)
        self.seq_len = seq_len
        # plain ndarray views of the memory maps: the same pages, without np.memmap's per-slice overhead
        self.arrays = [np.asarray(s.ids) for s in self.shards]
        sizes = np.array([len(a) for a in self.arrays], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(sizes)])
        self.tokens = int(self.starts[-1])
        self.samples = max(0, (self.tokens - 1) // seq_len)
        if self.samples == 0:
            where = f"{run} ({split} split)" if split != "train" else str(run)
            raise ValueError(f"{where}: {self.tokens} tokens make no sequence of {seq_len + 1} tokens")

    def window(self, i: int) -> np.ndarray:
        """Tokens ``[i * seq_len, i * seq_len + seq_len + 1)`` of the stream (int64)."""
        lo, hi = i * self.seq_len, i * self.seq_len + self.seq_len + 1
        parts = []
        k = int(np.searchsorted(self.starts, lo, side="right")) - 1
        while lo < hi:
            shard_lo = lo - int(self.starts[k])
            take = min(hi - lo, len(self.arrays[k]) - shard_lo)
            parts.append(self.arrays[k][shard_lo:shard_lo + take])
            lo += take
            k += 1
        return np.concatenate(parts).astype(np.int64) if len(parts) > 1 else parts[0].astype(np.int64)

    def windows(self, indices: np.ndarray) -> np.ndarray:
        """Windows ``indices`` as one (n, seq_len + 1) int64 array (one slice per window inside
        a shard -- the common case -- and :meth:`window` for the rare ones across shards)."""
        lo = np.asarray(indices, dtype=np.int64) * self.seq_len
        first = np.searchsorted(self.starts, lo, side="right") - 1
        span = self.seq_len + 1
        parts = []
        for start, k in zip(lo.tolist(), first.tolist()):
            local = start - int(self.starts[k])
            if local + span <= len(self.arrays[k]):
                parts.append(self.arrays[k][local:local + span])
            else:
                parts.append(self.window(start // self.seq_len))
        return np.stack(parts).astype(np.int64) if parts else np.empty((0, span), np.int64)

    def document_starts(self, i: int) -> np.ndarray:
        """Positions inside window i where a new document begins (after an end-of-document)."""
        return np.nonzero(self.window(i)[:-1] == self.meta["eos_id"])[0] + 1


class TokenLoader(IterableDataset):
    """Batches ``{"input_ids", "labels"}`` (``torch.int64``, shape ``(batch_size, seq_len)``).

    ``runs`` is a run folder, a list of them (equal weights), or ``{run: weight}``.
    Iterating goes on across epochs; stop after the number of steps you train for.  It is a
    ``torch.utils.data.IterableDataset`` of whole batches: use it directly, or wrap it in
    ``DataLoader(loader, batch_size=None)``.  ``split="val"`` reads the runs' held-out
    ``tokens/val`` split instead of their training shards.
    """

    def __init__(self, runs: str | Path | Sequence[str | Path] | Mapping[str | Path, float], seq_len: int,
                 batch_size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1, prefetch: int = 8,
                 read_threads: int = 1, split: str = "train") -> None:
        if isinstance(runs, (str, Path)):
            runs = {runs: 1.0}
        elif not isinstance(runs, Mapping):
            runs = dict.fromkeys(runs, 1.0)
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1} (world_size {world_size})")
        weights = np.array(list(runs.values()), dtype=np.float64)
        if (weights <= 0).any():
            raise ValueError("mixing weights must be positive")
        self.names = [str(r) for r in runs]
        self.weights = weights / weights.sum()
        self.sources = [PackedRun(r, seq_len, split) for r in runs]
        self.eos_id = int(self.sources[0].meta["eos_id"])
        vocab = {s.meta["vocab_size"] for s in self.sources}
        if len(vocab) != 1:
            raise ValueError(f"the runs were tokenized with different vocabularies ({sorted(vocab)})")
        self.vocab_size = vocab.pop()
        self.seq_len, self.batch_size = seq_len, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.prefetch, self.read_threads = prefetch, read_threads
        self.position = 0
        self._perms: dict[tuple[int, int], np.ndarray] = {}
        self._blocks: dict[int, np.ndarray] = {}
        self._taken = np.zeros(len(self.sources), dtype=np.int64)
        self._prefix = [np.zeros(len(self.sources), dtype=np.int64)]

    # -- the deterministic stream ------------------------------------------------------------
    def per_rank(self, source: int = 0) -> int:
        """Samples of ``source`` this rank sees per epoch of that source."""
        n = self.sources[source].samples
        return len(range(self.rank, n, self.world_size))

    def _perm(self, source: int, epoch: int) -> np.ndarray:
        key = (source, epoch)
        if key not in self._perms:
            if len(self._perms) > 8:
                self._perms.pop(next(iter(self._perms)))
            rng = np.random.default_rng([self.seed, source, epoch])
            self._perms[key] = rng.permutation(self.sources[source].samples)
        return self._perms[key]

    def _choices(self, block: int) -> np.ndarray:
        if len(self.sources) == 1:
            return np.zeros(MIX_BLOCK, dtype=np.int64)
        if block not in self._blocks:
            if len(self._blocks) > 64:
                self._blocks.pop(next(iter(self._blocks)))
            rng = np.random.default_rng([self.seed, 7919, block])
            self._blocks[block] = rng.choice(len(self.sources), size=MIX_BLOCK, p=self.weights)
        return self._blocks[block]

    def samples_at(self, start: int, count: int) -> list[tuple[int, int]]:
        """(source, sample index) of this rank's stream positions ``start .. start+count-1``."""
        sources, indices = self._picks(start, count)
        return list(zip(sources.tolist(), indices.tolist()))

    def _picks(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`samples_at`: arrays of sources and sample indices."""
        if len(self.sources) == 1:  # fast path: one source, no mixing draws
            m = self.per_rank(0)
            j = np.arange(start, start + count)
            epochs, offsets = np.divmod(j, m)
            indices = np.empty(count, dtype=np.int64)
            for epoch in np.unique(epochs).tolist():
                sel = epochs == epoch
                indices[sel] = self._perm(0, epoch)[self.rank + offsets[sel] * self.world_size]
            return np.zeros(count, dtype=np.int64), indices
        full, rest = divmod(start, MIX_BLOCK)
        while len(self._prefix) <= full:  # per-source counts before each block (cached prefix sums)
            block = len(self._prefix) - 1
            self._prefix.append(self._prefix[-1] + np.bincount(self._choices(block), minlength=len(self.sources)))
        before = self._prefix[full] + np.bincount(self._choices(full)[:rest], minlength=len(self.sources))
        last = (start + count - 1) // MIX_BLOCK
        choices = np.concatenate([self._choices(b) for b in range(full, last + 1)])[rest:rest + count]
        indices = np.empty(count, dtype=np.int64)
        for k in np.unique(choices).tolist():
            where = np.nonzero(choices == k)[0]
            j = before[k] + np.arange(len(where))  # the k-th source's next samples for this rank
            m = self.per_rank(k)
            epochs, offsets = np.divmod(j, m)
            for epoch in np.unique(epochs).tolist():
                sel = epochs == epoch
                indices[where[sel]] = self._perm(k, epoch)[self.rank + offsets[sel] * self.world_size]
        return choices.astype(np.int64), indices

    def proportions(self) -> dict[str, float]:
        """Share of each source among the samples delivered so far."""
        total = max(int(self._taken.sum()), 1)
        return {name: int(n) / total for name, n in zip(self.names, self._taken)}

    # -- batches ------------------------------------------------------------------------------
    def _read_rows(self, rows: np.ndarray, positions: range, sources: np.ndarray, indices: np.ndarray) -> None:
        for row in positions:
            rows[row] = self.sources[sources[row]].window(int(indices[row]))

    def _batch(self, start: int, pool: ThreadPoolExecutor | None) -> tuple[np.ndarray, np.ndarray]:
        sources, indices = self._picks(start, self.batch_size)
        if pool is None and len(self.sources) == 1:
            return self.sources[0].windows(indices), np.array([len(indices)])
        rows = np.empty((self.batch_size, self.seq_len + 1), dtype=np.int64)
        if pool is None:  # local memory-mapped files: reading in this thread is fastest
            for k in np.unique(sources).tolist():
                where = np.nonzero(sources == k)[0]
                rows[where] = self.sources[k].windows(indices[where])
            return rows, np.bincount(sources, minlength=len(self.sources))
        step = -(-self.batch_size // self.read_threads)  # rows per reader: a few reads per task
        futures = [pool.submit(self._read_rows, rows, range(lo, min(lo + step, self.batch_size)), sources, indices)
                   for lo in range(0, self.batch_size, step)]
        for future in as_completed(futures):  # any order; every window lands in its own row
            future.result()
        return rows, np.bincount(sources, minlength=len(self.sources))

    def batch_at(self, position: int) -> dict[str, torch.Tensor]:
        """The batch starting at stream position ``position``, read now (no thread, no state change)."""
        rows, _ = self._batch(position, None)
        tokens = torch.from_numpy(rows)
        return {"input_ids": tokens[:, :-1], "labels": tokens[:, 1:]}

    def seek(self, position: int) -> None:
        """Continue from stream position ``position`` (what :meth:`load_state_dict` restores, for a
        checkpoint written with another data-parallel layout: ``step x batch_size`` of this rank)."""
        self.position = int(position)
        if len(self.sources) == 1:
            self._taken = np.array([self.position], dtype=np.int64)
            return
        taken = np.zeros(len(self.sources), dtype=np.int64)
        for lo in range(0, self.position, 1 << 20):  # the mixing draws so far, a block of them at a time
            sources, _ = self._picks(lo, min(1 << 20, self.position - lo))
            taken += np.bincount(sources, minlength=len(self.sources))
        self._taken = taken

    def __iter__(self) -> Iterator[dict[str, Any]]:
        # batches travel in chunks of `prefetch`, so the cost of a hand-off between threads is
        # paid once per chunk rather than once per batch; at most two chunks are in flight
        chunk = max(1, self.prefetch)
        q: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        start = self.position

        def produce() -> None:
            with ThreadPoolExecutor(self.read_threads) if self.read_threads > 1 else _no_pool() as pool:
                position = start
                while not stop.is_set():
                    try:
                        item = [self._batch(position + i * self.batch_size, pool) for i in range(chunk)]
                    except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                        q.put(exc)
                        return
                    position += chunk * self.batch_size
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue

        thread = threading.Thread(target=produce, daemon=True, name="dataprep-loader")
        thread.start()
        try:
            while True:
                item = q.get()
                if isinstance(item, BaseException):
                    raise item
                for rows, counts in item:
                    self.position += self.batch_size
                    self._taken += counts
                    tokens = torch.from_numpy(rows)
                    yield {"input_ids": tokens[:, :-1], "labels": tokens[:, 1:]}
        finally:
            stop.set()
            thread.join(timeout=5)

    # -- checkpointing ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "taken": self._taken.tolist(), "seed": self.seed, "rank": self.rank,
                "world_size": self.world_size, "seq_len": self.seq_len, "batch_size": self.batch_size,
                "sources": self.names, "weights": self.weights.tolist()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key in ("seed", "rank", "world_size", "seq_len", "sources"):
            if state[key] != self.state_dict()[key]:
                raise ValueError(f"loader state is for {key}={state[key]!r}, "
                                 f"this loader has {self.state_dict()[key]!r}")
        if not np.allclose(state["weights"], self.weights):
            raise ValueError("loader state is for other mixing weights")
        self.position = int(state["position"])
        self._taken = np.array(state["taken"], dtype=np.int64)
