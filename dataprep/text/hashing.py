"""Hashing helpers shared by the stages and the engine: one definition of each, the same in
every process (never Python's salted ``hash``).

* :data:`MIX` -- the 64-bit multiply-xor constant (2^64 / golden ratio) of every vectorised
  combining hash here (word spans, shingles, band keys, n-gram ids);
* :func:`word_hashes` -- 64-bit hashes of byte spans of one UTF-8 buffer, vectorised (short spans: words);
* :func:`span_hash_pair` -- two independent well-spread 64-bit hashes of byte spans of any length (lines);
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


def _eight_bytes_at(data: np.ndarray) -> np.ndarray:
    """``view[i]``: the little-endian 8 bytes from ``data[i]`` (zeros past the end), for every i
    up to ``len(data)``; over a zero-padded copy."""
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[: len(data)] = data
    return np.ndarray(shape=(len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))


def word_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, seed: int = 0) -> np.ndarray:
    """64-bit hash of every byte span ``data[starts[i]:ends[i]]``, vectorised over the spans.

    The span is read as little-endian 8-byte chunks (the last one zero-padded); starting from
    ``length * MIX`` (xor ``seed``: another seed walks to an unrelated hash), each chunk is
    xor-ed in, multiplied by ``MIX`` and xor-shifted.  One NumPy
    step per chunk position, over the spans still that long (found among the previous step's,
    so long lines cost their own length, not the batch's size times the longest)."""
    chunks = _eight_bytes_at(data)
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


#: the two independent rounds of :func:`span_hash_pair`: (position key, first and second multiplier)
_SPAN_ROUNDS = ((MIX, np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)),
                (np.uint64(0xD6E8FEB86659FD93), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)))


def span_hash_pair(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent, well-spread 64-bit hashes of every byte span ``data[starts[i]:ends[i]]``.

    Every span is read as little-endian 8-byte chunks (the last one zero-padded), all chunks of
    all spans in one flat array, so the cost is a few NumPy passes over the bytes whatever the
    spans' lengths (a walk per chunk position, as :func:`word_hashes` does, pays a dozen NumPy
    calls per 8 bytes of the longest span).  Each round xors chunk ``j`` with ``j`` times its
    position key, mixes it (multiply, xor-shift, multiply, xor-shift: every bit of the result
    depends on every bit below it and on the high half), sums a span's mixed chunks, adds the
    span's length times the key and finalizes with :func:`fmix64`.  The two rounds use unrelated
    constants; a hash depends only on the span's bytes, not on where they lie in ``data``."""
    n = len(starts)
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    lengths = np.asarray(ends, dtype=np.int64) - starts
    chunks_per_span = np.maximum((lengths + 7) >> 3, 1)  # an empty span: one chunk, masked to 0
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(chunks_per_span, out=first[1:])
    total = int(first[-1])
    chunks = _eight_bytes_at(data)
    # chunk j of its span, and where it starts, as running sums that restart at each span
    step = np.ones(total, dtype=np.int64)
    step[0] = 0
    step[first[1:-1]] = 1 - chunks_per_span[:-1]
    np.cumsum(step, out=step)
    at = np.full(total, 8, dtype=np.int64)
    at[first[:-1]] = starts - np.concatenate([[0], starts[:-1] + 8 * (chunks_per_span[:-1] - 1)])
    np.cumsum(at, out=at)
    chunk = chunks[at]
    chunk[first[1:] - 1] &= _LOW_BYTES[lengths - 8 * (chunks_per_span - 1)]
    mixed = np.empty(total, dtype=np.uint64)
    out = []
    with np.errstate(over="ignore"):
        for key, m1, m2 in _SPAN_ROUNDS:
            np.multiply(step.view(np.uint64), key, out=mixed)
            mixed ^= chunk
            mixed *= m1
            mixed ^= mixed >> np.uint64(32)
            mixed *= m2
            mixed ^= mixed >> np.uint64(29)
            h = np.add.reduceat(mixed, first[:-1])
            h += lengths.astype(np.uint64) * key
            out.append(fmix64(h))
    return out[0], out[1]


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
