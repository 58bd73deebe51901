"""Hashing helpers shared by the stages and the engine: one definition of each, the same in
every process (never Python's salted ``hash``).

* :data:`MIX` -- the 64-bit multiply-xor constant (2^64 / golden ratio) of every vectorised
  combining hash here (word spans, shingles, band keys, n-gram ids);
* :func:`word_hashes` -- 64-bit hashes of byte spans of one UTF-8 buffer, vectorised;
* :func:`fmix32`, :func:`fmix64` -- MurmurHash3's finalizers (MinHash's pre-mix, partitions);
* :func:`string_hashes` -- a well-spread hash of every string of an Arrow array (exchange partitions);
* :func:`seeded_keys` -- a seeded 64-bit key per document id (shuffle order, tokenizer sample).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa

MIX = np.uint64(0x9E3779B97F4A7C15)
_LOW_BYTES = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)  # mask of i bytes


def utf8_buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, int64 offsets of each string into them, from 0) of a large_string array;
    the bytes are not copied.  A slice's bytes are only its own (a cast of a sliced array keeps
    the whole buffer and offsets into it)."""
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64, count=n + 1, offset=text.offset * 8)
    raw = text.buffers()[2]
    data = np.frombuffer(raw, dtype=np.uint8) if raw is not None else np.zeros(0, np.uint8)
    return data[offsets[0]: offsets[-1]], offsets - offsets[0]


def word_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, seed: int = 0) -> np.ndarray:
    """64-bit hash of every byte span ``data[starts[i]:ends[i]]``, vectorised over the spans.

    The span is read as little-endian 8-byte chunks (the last one zero-padded); starting from
    ``length * MIX`` (xor ``seed``: another seed walks to an unrelated hash), each chunk is
    xor-ed in, multiplied by ``MIX`` and xor-shifted.  One NumPy
    step per chunk position, over the spans still that long (found among the previous step's,
    so long lines cost their own length, not the batch's size times the longest)."""
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[: len(data)] = data
    chunks = np.ndarray(shape=(len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes at any offset
    lengths = ends - starts
    h = lengths.astype(np.uint64)
    with np.errstate(over="ignore"):
        h *= MIX
        h ^= np.uint64(seed)
        chunk = chunks[starts]  # first chunk: every span (most words fit in it)
        chunk &= _LOW_BYTES[np.minimum(lengths, 8)]
        h ^= chunk
        h *= MIX
        h ^= h >> np.uint64(32)
        k = 8
        todo = np.flatnonzero(lengths > k)
        while len(todo):  # each step filters the spans still that long, not all of them
            chunk = chunks[starts[todo] + k] & _LOW_BYTES[np.minimum(lengths[todo] - k, 8)]
            part = (h[todo] ^ chunk) * MIX
            part ^= part >> np.uint64(32)
            h[todo] = part
            k += 8
            todo = todo[lengths[todo] > k]
    return h


def word_hash_pair(data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`word_hashes` of the spans with seed 0 and with ``seed``, in one walk: the spans are
    put in order of length once, so each 8-byte step works on a prefix of them (contiguous
    arrays, no gathers but the bytes) and loads each chunk once for both hashes -- about 3x
    faster than two :func:`word_hashes` calls for spans of lines' length."""
    lengths = ends - starts
    order = np.argsort(-lengths, kind="stable")
    lengths, starts = lengths[order], starts[order]
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[: len(data)] = data
    chunks = np.ndarray(shape=(len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    longest = int(lengths[0]) if len(lengths) else 0
    # the spans each step works on: all for the first chunk, then those longer than 8, 16, ...
    still = [len(lengths), *np.searchsorted(-lengths, -np.arange(8, longest, 8), side="left")]
    with np.errstate(over="ignore"):
        h = lengths.astype(np.uint64) * MIX
        g = h ^ np.uint64(seed)
        for step, m in enumerate(still):
            k = 8 * step
            chunk = chunks[starts[:m] + k] & _LOW_BYTES[np.minimum(lengths[:m] - k, 8)]
            for acc in (h, g):
                part = (acc[:m] ^ chunk) * MIX
                part ^= part >> np.uint64(32)
                acc[:m] = part
    first, second = np.empty_like(h), np.empty_like(g)
    first[order], second[order] = h, g
    return first, second


def fmix32(h: np.ndarray) -> np.ndarray:
    """The MurmurHash3 32-bit finalizer (a bijection), element-wise."""
    h = h.astype(np.uint32)
    with np.errstate(over="ignore"):
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer (a bijection), element-wise: every output bit depends on
    every input bit, so any bits of the result (e.g. ``h % parts``) are well spread
    (:func:`word_hashes`' own last round mixes only the upper half into the lower)."""
    h = h.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return h


def string_hashes(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A well-spread 64-bit hash of every string's UTF-8 bytes: :func:`word_hashes`, then
    :func:`fmix64` (uint64, one per string)."""
    if len(strings) == 0:
        return np.zeros(0, np.uint64)
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    data, offsets = utf8_buffers(strings.cast(pa.large_string()))
    return fmix64(word_hashes(data, offsets[:-1], offsets[1:]))


def seeded_keys(ids: Sequence[str], seed: int, *, sep: str = ":",
                byteorder: Literal["little", "big"] = "little") -> np.ndarray:
    """A 64-bit key per id: the BLAKE2b-64 digest of ``f"{seed}{sep}{id}"`` read with ``byteorder``.

    The keys depend on the seed and the id only, so orders and samples drawn from them do not
    depend on sharding or workers.  ``sep`` and ``byteorder`` are part of each stage's published
    output (``tokenize`` samples with ``:``/little, ``shuffle`` orders with ``/``/big): they are
    parameters so that outputs stay byte-identical with earlier runs."""
    return np.array([int.from_bytes(hashlib.blake2b(f"{seed}{sep}{i}".encode(), digest_size=8).digest(), byteorder)
                     for i in ids], dtype=np.uint64)
