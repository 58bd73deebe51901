"""MinHash signatures and LSH band keys, vectorised over a batch of documents.

Shingles are word n-grams (or character n-grams, for scripts written without spaces) of the
document's text after :func:`simplify` (NFC, lower case, punctuation as space), found as byte
spans by :mod:`dataprep.dedup.byte_words`.  Each shingle gets a 32-bit hash: every word is hashed
over its UTF-8 bytes, 8 bytes at a time (:func:`word_hashes`, one NumPy pass per 8-byte chunk
position over all words of the batch at once), the n word hashes of a shingle
are combined with a multiply-xor mix, and the result is folded to 32 bits
(:func:`shingle_hashes`; :func:`shingle_hash` is the same function for one shingle, which lets
a test give datasketch the very same hash function).

Signatures follow datasketch 2's default ``affine32`` permutation scheme: the shingle hash is
pre-mixed with the MurmurHash3 32-bit finalizer, then permutation k maps it to
``a_k * h + b_k mod 2^32`` with ``a_k`` odd and ``(a, b)`` drawn from
``numpy.random.RandomState(seed)`` exactly as datasketch draws them, so signatures are equal
value for value to ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.dedup.byte_words import byte_words
from dataprep.text.hashing import MIX, fmix32, word_hashes

EMPTY = np.uint32(0xFFFFFFFF)


def simplify(text: pa.Array) -> pa.Array:
    """NFC, lower case, every character that is not a letter, digit or mark becomes a space:
    the reference definition of the words (split on spaces) that :func:`shingle_hashes` finds
    faster with :func:`dataprep.dedup.byte_words.byte_words`."""
    text = pc.utf8_lower(pc.utf8_normalize(text, "NFC"))
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"[^\pL\pN\pM]+", " "))


def _fold32(h: np.ndarray) -> np.ndarray:
    return ((h >> np.uint64(32)) ^ (h & np.uint64(0xFFFFFFFF))).astype(np.uint32)


def _mix(h: np.ndarray, word: np.ndarray) -> None:
    """One combining round, in place: ``h = (h ^ word) * MIX; h ^= h >> 29``."""
    h ^= word
    h *= MIX
    h ^= h >> np.uint64(29)


def shingle_hashes(text: pa.Array, ngram: int, mode: str = "word") -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every shingle of every document, and the document of each (in
    document order).

    A shingle is ``ngram`` consecutive words (:mod:`dataprep.dedup.byte_words`); a document shorter
    than ``ngram`` words has one shingle (all its words); an empty document has none."""
    words = byte_words(text, mode)
    hashes = word_hashes(words.data, words.starts, words.ends)
    n_docs, n_words = len(text), len(words)
    counts = np.bincount(words.docs, minlength=n_docs)[:n_docs]
    windows = max(n_words - ngram + 1, 0)  # every run of ngram words, kept where it stays in one document
    h = np.full(windows, MIX, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(ngram):
            _mix(h, hashes[k:k + windows])
        doc = words.docs[:windows]
        inside = doc == words.docs[ngram - 1:ngram - 1 + windows]  # a document's words are contiguous
        h, doc = h[inside], doc[inside]
        short = np.flatnonzero((counts > 0) & (counts < ngram))  # one shingle of all their words
        if len(short):
            first = np.concatenate([[0], np.cumsum(counts)[:-1]])
            hs = np.full(len(short), MIX, dtype=np.uint64)
            for k in range(int(counts[short].max())):
                longer = counts[short] > k
                part = hs[longer]
                _mix(part, hashes[first[short[longer]] + k])
                hs[longer] = part
            at = np.searchsorted(doc, short)
            h, doc = np.insert(h, at, hs), np.insert(doc, at, short)
    return _fold32(h), doc


def shingle_hash(shingle: bytes | str) -> int:
    """The 32-bit hash of one word shingle (its words separated by single spaces): the same
    value :func:`shingle_hashes` gives it inside a document."""
    data = shingle.encode("utf-8") if isinstance(shingle, str) else shingle
    words = data.split(b" ")
    ends = np.cumsum([len(w) + 1 for w in words]) - 1
    starts = ends - np.array([len(w) for w in words])
    h = np.full(1, MIX, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for wh in word_hashes(np.frombuffer(data, dtype=np.uint8), starts, ends):
            _mix(h, wh)
    return int(_fold32(h)[0])


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a odd, b) for ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(hv: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int, seed: int) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures (a transposed view of a permutation-major
    array); ``doc`` must be non-decreasing; documents without shingles get EMPTY.

    One permutation at a time over all shingles, reduced per document with a 1-D
    ``minimum.reduceat``: about 6x faster than reducing a (shingles, num_perm) block."""
    a, b = permutations(num_perm, seed)
    out = np.full((num_perm, n_docs), EMPTY, dtype=np.uint32)
    if len(hv) == 0:
        return out.T
    mixed = fmix32(hv)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(doc)) + 1])
    rows = doc[bounds]
    every_doc = len(rows) == n_docs  # then each permutation's minima go straight into its row
    permuted = np.empty_like(mixed)
    with np.errstate(over="ignore"):
        for k in range(num_perm):
            np.multiply(mixed, a[k], out=permuted)
            np.add(permuted, b[k], out=permuted)
            if every_doc:
                np.minimum.reduceat(permuted, bounds, out=out[k])
            else:
                out[k, rows] = np.minimum.reduceat(permuted, bounds)
    return out.T


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) uint64 keys: documents share a key in band i iff their signatures agree
    on rows i*rows .. i*rows+rows-1 (up to 64-bit hash collisions, ~2^-64 per pair)."""
    n = sig.shape[0]
    by_band = sig[:, : bands * rows].T.reshape(bands, rows, n)  # (band, row, document)
    keys = np.repeat((np.arange(1, bands + 1, dtype=np.uint64) * MIX)[:, None], n, axis=1)
    with np.errstate(over="ignore"):
        for r in range(rows):
            keys ^= by_band[:, r, :].astype(np.uint64)
            keys *= MIX
            keys ^= keys >> np.uint64(31)
    return keys.T


def _integrate(f, a: float, b: float, n: int = 2001) -> float:
    x = np.linspace(a, b, n)
    return float(np.trapezoid(f(x), x)) if hasattr(np, "trapezoid") else float(np.trapz(f(x), x))


def optimal_bands_rows(threshold: float, num_perm: int, fp_weight: float = 0.5,
                       fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) with bands x rows <= num_perm minimising the weighted probability of
    false positives (similarity below ``threshold`` sharing a band) and false negatives,
    the way datasketch's MinHashLSH chooses them."""
    best, choice = float("inf"), (1, num_perm)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _integrate(lambda s, r=r, b=b: 1 - (1 - s ** r) ** b, 0.0, threshold)
            fn = _integrate(lambda s, r=r, b=b: (1 - s ** r) ** b, threshold, 1.0)
            error = fp * fp_weight + fn * fn_weight
            if error < best:
                best, choice = error, (b, r)
    return choice
