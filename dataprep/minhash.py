"""MinHash signatures and LSH band keys, vectorised over a batch of documents.

Shingles are word n-grams (or character n-grams, for scripts written without spaces) of the
document's text after :func:`simplify` (NFC, lower case, punctuation as space).  Each shingle
gets a 32-bit hash: every word is hashed with 64-bit FNV-1a over its UTF-8 bytes (one NumPy
pass per byte position, over all words of the batch at once), the n word hashes of a shingle
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

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
MIX = np.uint64(0x9E3779B97F4A7C15)
EMPTY = np.uint32(0xFFFFFFFF)
CHUNK = 1 << 15  # shingles per block of the signature computation (CHUNK x num_perm x 4 bytes)


def simplify(text: pa.Array) -> pa.Array:
    """NFC, lower case, every character that is not a letter, digit or mark becomes a space."""
    text = pc.utf8_lower(pc.utf8_normalize(text, "NFC"))
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"[^\pL\pN\pM]+", " "))


def _fnv1a(words: pa.Array) -> np.ndarray:
    """64-bit FNV-1a of every string of ``words`` (UTF-8 bytes), vectorised over the array."""
    words = words.cast(pa.large_string()) if not pa.types.is_large_string(words.type) else words
    words = words.combine_chunks() if isinstance(words, pa.ChunkedArray) else words
    n = len(words)
    if n == 0:
        return np.zeros(0, np.uint64)
    offsets = np.frombuffer(words.buffers()[1], dtype=np.int64, count=n + 1, offset=words.offset * 8)
    data = np.frombuffer(words.buffers()[2], dtype=np.uint8) if words.buffers()[2] is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    active = np.nonzero(lengths > 0)[0]
    j = 0
    with np.errstate(over="ignore"):
        while len(active):  # byte j of every word that has one; the active set shrinks as words end
            h[active] = (h[active] ^ data[starts[active] + j].astype(np.uint64)) * FNV_PRIME
            j += 1
            active = active[lengths[active] > j]
    return h


def _fold32(h: np.ndarray) -> np.ndarray:
    return ((h >> np.uint64(32)) ^ (h & np.uint64(0xFFFFFFFF))).astype(np.uint32)


def _combine(word_hashes: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = np.full(len(starts), MIX, dtype=np.uint64)
        for k in range(n):
            h = (h ^ word_hashes[starts + k]) * MIX
            h ^= h >> np.uint64(29)
    return _fold32(h)


def shingle_hashes(text: pa.Array, ngram: int, mode: str = "word") -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every shingle of every document, and the document of each.

    A document shorter than ``ngram`` tokens has one shingle (all its tokens); an empty
    document has none."""
    simple = simplify(text)
    if mode == "char":  # one token per character, spaces dropped
        simple = pc.replace_substring_regex(pc.replace_substring(simple, " ", ""), r"(.)", r"\1 ")
    tokens = pc.utf8_split_whitespace(simple)
    flat = pc.list_flatten(tokens)
    parents = np.asarray(pc.list_parent_indices(tokens))
    nonempty = np.asarray(pc.greater(pc.utf8_length(flat), 0), dtype=bool)  # "" splits into [""]
    flat, parents = flat.filter(pa.array(nonempty)), parents[nonempty]
    word_hashes = _fnv1a(flat)
    n_docs = len(text)
    counts = np.bincount(parents, minlength=n_docs)[:n_docs]
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    shingle_starts, shingle_docs, sizes = [], [], []
    # documents with at least ngram tokens: every window inside the document
    long_docs = np.nonzero(counts >= ngram)[0]
    if len(long_docs):
        per_doc = counts[long_docs] - ngram + 1
        doc_of = np.repeat(long_docs, per_doc)
        offset_in_doc = np.arange(per_doc.sum()) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
        shingle_starts.append(first[doc_of] + offset_in_doc)
        shingle_docs.append(doc_of)
        sizes.append(np.full(len(doc_of), ngram))
    hashes = [_combine(word_hashes, shingle_starts[0], ngram)] if shingle_starts else []
    docs = list(shingle_docs)
    # shorter, non-empty documents: one shingle of all their tokens
    short = np.nonzero((counts > 0) & (counts < ngram))[0]
    for length in np.unique(counts[short]):
        group = short[counts[short] == length]
        hashes.append(_combine(word_hashes, first[group], int(length)))
        docs.append(group)
    if not hashes:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    hv, doc = np.concatenate(hashes), np.concatenate(docs)
    order = np.argsort(doc, kind="stable")
    return hv[order], doc[order]


def shingle_hash(shingle: bytes | str) -> int:
    """The 32-bit hash of one word shingle (its words separated by single spaces): the same
    value :func:`shingle_hashes` gives it inside a document."""
    if isinstance(shingle, bytes):
        shingle = shingle.decode("utf-8")
    words = pa.array(shingle.split(" "), pa.large_string())
    return int(_combine(_fnv1a(words), np.array([0]), len(words))[0])


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a odd, b) for ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


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


def signatures(hv: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int, seed: int) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures; documents without shingles get EMPTY."""
    a, b = permutations(num_perm, seed)
    out = np.full((n_docs, num_perm), EMPTY, dtype=np.uint32)
    mixed = fmix32(hv)
    with np.errstate(over="ignore"):
        for lo in range(0, len(mixed), CHUNK):
            x = mixed[lo:lo + CHUNK]
            d = doc[lo:lo + CHUNK]
            phv = x[:, None] * a[None, :] + b[None, :]
            bounds = np.concatenate([[0], np.nonzero(np.diff(d))[0] + 1])
            mins = np.minimum.reduceat(phv, bounds, axis=0)
            rows = d[bounds]
            out[rows] = np.minimum(out[rows], mins)
    return out


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) uint64 keys: documents share a key in band i iff their signatures agree
    on rows i*rows .. i*rows+rows-1 (up to 64-bit hash collisions, ~2^-64 per pair)."""
    n = sig.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(bands):
            h = np.full(n, np.uint64(i + 1) * MIX, dtype=np.uint64)
            for value in sig[:, i * rows:(i + 1) * rows].T:
                h = (h ^ value.astype(np.uint64)) * MIX
                h ^= h >> np.uint64(31)
            keys[:, i] = h
    return keys


def _integrate(f, a: float, b: float, n: int = 2001) -> float:
    x = np.linspace(a, b, n)
    return float(np.trapezoid(f(x), x)) if hasattr(np, "trapezoid") else float(np.trapz(f(x), x))


def optimal_bands_rows(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) with bands x rows <= num_perm minimising the weighted probability of
    false positives (similarity below ``threshold`` sharing a band) and false negatives,
    the way datasketch's MinHashLSH chooses them."""
    best, choice = float("inf"), (1, num_perm)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _integrate(lambda s: 1 - (1 - s ** r) ** b, 0.0, threshold)
            fn = _integrate(lambda s: (1 - s ** r) ** b, threshold, 1.0)
            error = fp * fp_weight + fn * fn_weight
            if error < best:
                best, choice = error, (b, r)
    return choice


def connected_components(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Component label (the smallest member index) of every node 0..n-1, from edges a-b.

    Vectorised label propagation with pointer jumping: each round takes the minimum label
    across every edge, then lets each node jump to its label's label until nothing moves."""
    labels = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return labels
    while True:
        m = np.minimum(labels[a], labels[b])
        before = labels.copy()
        np.minimum.at(labels, a, m)
        np.minimum.at(labels, b, m)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels, before):
            return labels
