"""Token shards: the on-disk form of a tokenized run, made to be memory-mapped.

``OUT/tokens/`` holds, per shard of the run:

* ``part-NNNNN.bin`` -- every document's token ids, end-of-document token included, one after
  the other, as little-endian ``uint16`` (vocabulary up to 65,536) or ``uint32``;
* ``part-NNNNN.idx.npy`` -- ``uint64`` offsets (in tokens) of each document's start, plus the
  end: document i is ``ids[idx[i]:idx[i+1]]``;

and once for the run:

* ``tokens.json`` -- ``{"dtype", "vocab_size", "eos_id", "tokenizer": "tokenizer.json"}``;
* ``tokenizer.json`` -- the Hugging Face tokenizer that made the ids.

``numpy.memmap`` reads the ``.bin`` without copying; ``numpy.load(mmap_mode="r")`` the index.
Files are written under temporary names and renamed when complete.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np

from dataprep.io.atomic import AtomicFile, write_bytes_atomic
from dataprep.io.checksums import HashingFile, WrittenFile

TOKENS = "tokens"
META = "tokens.json"


def dtype_for(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


class TokenShardWriter:
    """Streams one shard's token ids to ``tokens/<shard>.bin``; writes the index at close."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, shard: str, vocab_size: int, eos_id: int,
                 tokenizer_json: str) -> None:
        self.fs, self.root, self.shard = fs, root.rstrip("/"), shard
        self.dtype = dtype_for(vocab_size)
        self.meta = {"dtype": self.dtype.str, "vocab_size": vocab_size, "eos_id": eos_id, "tokenizer": "tokenizer.json"}
        self.tokenizer_json = tokenizer_json
        self.bin_rel = f"{TOKENS}/{shard}.bin"
        self._file = AtomicFile(fs, f"{self.root}/{self.bin_rel}")
        self._hashing = HashingFile(self._file.file)
        self.lengths: list[np.ndarray] = []

    def write_documents(self, ids: np.ndarray, lengths: np.ndarray) -> None:
        """``ids``: the batch's token ids back to back; ``lengths``: tokens per document."""
        if ids.size and int(ids.max()) >= self.meta["vocab_size"]:
            raise ValueError(f"token id {int(ids.max())} outside the vocabulary of {self.meta['vocab_size']}")
        self._hashing.write(ids.astype(self.dtype, copy=False).tobytes())
        self.lengths.append(lengths.astype(np.uint64))

    def close(self) -> list[WrittenFile]:
        self._file.commit()
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.uint64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.uint64)
        index = _npy_bytes(offsets)
        idx_rel = f"{TOKENS}/{self.shard}.idx.npy"
        write_bytes_atomic(self.fs, f"{self.root}/{idx_rel}", index)
        # run-level files: the same bytes from every shard, so concurrent writes are harmless
        write_bytes_atomic(self.fs, f"{self.root}/{TOKENS}/{META}", json.dumps(self.meta, sort_keys=True).encode())
        write_bytes_atomic(self.fs, f"{self.root}/{TOKENS}/tokenizer.json", self.tokenizer_json.encode())
        return [WrittenFile(self.bin_rel, int(offsets[-1]), self._hashing.size, self._hashing.hexdigest()),
                WrittenFile(idx_rel, len(lengths), len(index), hashlib.sha256(index).hexdigest())]

    def abort(self) -> None:
        self._file.abort()


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


@dataclass
class TokenShard:
    """One shard of a tokenized run, memory-mapped."""

    ids: np.ndarray  # memmap of all token ids
    offsets: np.ndarray  # document boundaries, len = documents + 1

    def document(self, i: int) -> np.ndarray:
        return self.ids[int(self.offsets[i]):int(self.offsets[i + 1])]

    def __len__(self) -> int:
        return len(self.offsets) - 1


def open_run(run: str | Path) -> tuple[dict, list[TokenShard]]:
    """The metadata and the memory-mapped shards of a tokenized run (a local folder)."""
    folder = Path(run) / TOKENS
    meta_path = folder / META
    if not meta_path.exists():
        raise FileNotFoundError(f"{run}: no {TOKENS}/{META}; is this the output of a run with a tokenize stage?")
    meta = json.loads(meta_path.read_text())
    shards = []
    for idx in sorted(folder.glob("part-*.idx.npy")):
        offsets = np.load(idx, mmap_mode="r", allow_pickle=False)
        bin_path = idx.with_name(idx.name.replace(".idx.npy", ".bin"))
        size = bin_path.stat().st_size
        dtype = np.dtype(meta["dtype"])
        ids = np.memmap(bin_path, dtype=dtype, mode="r") if size else np.zeros(0, dtype)
        shards.append(TokenShard(ids, offsets))
    return meta, shards
