"""Token shards: the on-disk form of a tokenized run, made to be memory-mapped.

``OUT/tokens/`` holds, per shard of the run:

* ``part-NNNNN.bin`` -- every document's token ids, end-of-document token included, one after
  the other, as little-endian ``uint16`` (vocabulary up to 65,536) or ``uint32``;
* ``part-NNNNN.idx.npy`` (format ``ours``) -- ``uint64`` offsets (in tokens) of each document's
  start, plus the end: document i is ``ids[idx[i]:idx[i+1]]``;
* ``part-NNNNN.idx`` (format ``megatron``) -- a Megatron-LM indexed dataset index for the same
  ``.bin`` (``MMIDIDX`` header, version 1, the dtype code, sequence and document counts, then
  int32 sequence lengths, int64 byte pointers and int64 document indices: one sequence per
  document), so ``megatron.core.datasets.indexed_dataset.IndexedDataset("tokens/part-NNNNN")``
  reads it; a ``uint32`` shard is declared ``int32`` (Megatron has no unsigned 32-bit code; the
  bytes are the same for ids below 2^31);

and once for the run:

* ``tokens.json`` -- ``{"dtype", "vocab_size", "eos_id", "tokenizer": "tokenizer.json"}``;
* ``tokenizer.json`` -- the Hugging Face tokenizer that made the ids.

A held-out validation split (``tokenize.val_fraction``) is the same layout under
``tokens/val/``.  ``numpy.memmap`` reads the ``.bin`` without copying; ``numpy.load(mmap_mode="r")``
the ``.idx.npy``.  Files are written under temporary names and renamed when complete; a shard
left without documents writes none (an empty ``.bin`` cannot be memory-mapped).
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np

from dataprep.io.atomic import AtomicFile, write_bytes_atomic
from dataprep.io.checksums import HashingFile, WrittenFile

TOKENS = "tokens"
VAL = "val"  # tokens/val/: the held-out validation split
META = "tokens.json"
FORMATS = ("ours", "megatron")
MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_DTYPE_CODES = {np.dtype("<u2"): 8, np.dtype("<u4"): 4}  # uint16; uint32 as int32


def dtype_for(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


class TokenShardWriter:
    """Streams one shard's token ids to ``<folder>/<shard>.bin``; writes its index (or indices,
    one per format in ``formats``) at close.  ``folder`` is ``tokens`` or ``tokens/val``."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, shard: str, vocab_size: int, eos_id: int,
                 tokenizer_json: str, folder: str = TOKENS, formats: tuple[str, ...] = ("ours",)) -> None:
        self.fs, self.root, self.shard, self.folder = fs, root.rstrip("/"), shard, folder
        self.formats = formats
        self.dtype = dtype_for(vocab_size)
        self.meta = {"dtype": self.dtype.str, "vocab_size": vocab_size, "eos_id": eos_id, "tokenizer": "tokenizer.json"}
        self.tokenizer_json = tokenizer_json
        self.bin_rel = f"{folder}/{shard}.bin"
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
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.uint64)
        # run-level files: the same bytes from every shard, so concurrent writes are harmless
        write_bytes_atomic(self.fs, f"{self.root}/{self.folder}/{META}", json.dumps(self.meta, sort_keys=True).encode())
        write_bytes_atomic(self.fs, f"{self.root}/{self.folder}/tokenizer.json", self.tokenizer_json.encode())
        if not len(lengths):  # no documents: no files (an empty .bin cannot be memory-mapped, by Megatron or us)
            self._file.abort()
            return []
        self._file.commit()
        files = [WrittenFile(self.bin_rel, int(lengths.sum()), self._hashing.size, self._hashing.hexdigest())]
        indices = {"ours": (f"{self.folder}/{self.shard}.idx.npy", lambda: _npy_bytes(_offsets(lengths))),
                   "megatron": (f"{self.folder}/{self.shard}.idx", lambda: megatron_index(lengths, self.dtype))}
        for fmt in self.formats:
            rel, make = indices[fmt]
            index = make()
            write_bytes_atomic(self.fs, f"{self.root}/{rel}", index)
            files.append(WrittenFile(rel, len(lengths), len(index), hashlib.sha256(index).hexdigest()))
        return files

    def abort(self) -> None:
        self._file.abort()


def _offsets(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.uint64)


def megatron_index(lengths: np.ndarray, dtype: np.dtype) -> bytes:
    """The bytes of a Megatron-LM ``.idx`` for documents of ``lengths`` tokens (one sequence each)."""
    n = len(lengths)
    pointers = _offsets(lengths)[:-1].astype(np.int64) * dtype.itemsize  # byte offset of each document
    return b"".join([MEGATRON_HEADER, struct.pack("<Q", 1), struct.pack("<B", MEGATRON_DTYPE_CODES[dtype]),
                     struct.pack("<Q", n), struct.pack("<Q", n + 1), lengths.astype(np.int32).tobytes(),
                     pointers.tobytes(), np.arange(n + 1, dtype=np.int64).tobytes()])


def _megatron_offsets(path: Path) -> np.ndarray:
    """Document offsets (in tokens) from a Megatron ``.idx`` (its sequence lengths)."""
    data = path.read_bytes()
    if not data.startswith(MEGATRON_HEADER):
        raise ValueError(f"{path}: not a Megatron index (no MMIDIDX header)")
    count = struct.unpack_from("<Q", data, 18)[0]
    lengths = np.frombuffer(data, dtype=np.int32, count=count, offset=34)
    return _offsets(lengths.astype(np.uint64))


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


def open_run(run: str | Path, split: str = "train") -> tuple[dict, list[TokenShard]]:
    """The metadata and the memory-mapped shards of a tokenized run (a local folder): its
    training shards (``tokens/``), or with ``split="val"`` its held-out ones (``tokens/val/``).
    Each shard's index is its ``.idx.npy``, or else its Megatron ``.idx``."""
    folder = Path(run) / TOKENS / (VAL if split == "val" else "")
    meta_path = folder / META
    if not meta_path.exists():
        what = "a validation split (tokenize.val_fraction)" if split == "val" else "a tokenize stage"
        raise FileNotFoundError(f"{run}: no {meta_path.relative_to(Path(run))}; is this the output of a run with "
                                f"{what}?")
    meta = json.loads(meta_path.read_text())
    dtype = np.dtype(meta["dtype"])
    shards = []
    for bin_path in sorted(folder.glob("part-*.bin")):
        ours, megatron = bin_path.with_suffix(".idx.npy"), bin_path.with_suffix(".idx")
        offsets = np.load(ours, mmap_mode="r", allow_pickle=False) if ours.exists() else _megatron_offsets(megatron)
        size = bin_path.stat().st_size
        ids = np.memmap(bin_path, dtype=dtype, mode="r") if size else np.zeros(0, dtype)
        shards.append(TokenShard(ids, offsets))
    return meta, shards
