"""64-bit hashes of word n-grams, vectorised over a batch (the words of
:mod:`dataprep.dedup.byte_words`: letters, digits and marks of the NFC, lower-cased text).

The n-gram of words ``w_k .. w_{k+n-1}`` hashes to the polynomial ``sum_j h(w_{k+j}) P^(n-1-j)``
modulo 2^64, with the word hashes of :func:`dataprep.text.hashing.word_hashes`, then through one
xor-shift-multiply round.  The polynomial is computed for every window at once from one prefix sum
(each word hash scaled by ``P^-i``; ``P`` is odd, so it has an inverse modulo 2^64): a dozen NumPy
passes whatever ``n`` is, where combining word by word takes four per word of the n-gram.  Used by
``decontaminate`` for the documents and for the evaluation sets alike, so both sides hash the
same text the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dataprep.dedup.byte_words import ByteWords, byte_words
from dataprep.text.hashing import MIX, word_hashes

P = MIX  # odd
P_INVERSE = pow(int(MIX), -1, 1 << 64)
FINAL = np.uint64(0xBF58476D1CE4E5B9)


def _powers(base: int, count: int) -> np.ndarray:
    """base^0 .. base^(count-1) modulo 2^64."""
    out = np.full(count, base, dtype=np.uint64)
    if count:
        out[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(out, dtype=np.uint64)


def window_hashes(words: np.ndarray, n: int) -> np.ndarray:
    """The hash of every run of ``n`` consecutive values of ``words`` (uint64 word hashes)."""
    windows = len(words) - n + 1
    if windows <= 0:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        scaled = np.concatenate([np.zeros(1, np.uint64), np.cumsum(words * _powers(P_INVERSE, len(words)),
                                                                    dtype=np.uint64)])
        h = (scaled[n:] - scaled[:windows]) * _powers(int(P), len(words))[n - 1:]
        h ^= h >> np.uint64(31)
        h *= FINAL
        h ^= h >> np.uint64(29)
    return h


@dataclass
class NGrams:
    hashes: np.ndarray  # uint64, one per n-gram, in document then text order
    docs: np.ndarray  # int64: the document of each n-gram
    first_word: np.ndarray  # int64: index (into words) of its first word
    words: ByteWords


def word_ngrams(text: pa.Array | pa.ChunkedArray, n: int) -> NGrams:
    """Every run of ``n`` consecutive words inside one document, hashed."""
    words = byte_words(text)
    h = window_hashes(word_hashes(words.data, words.starts, words.ends), n)
    windows = len(h)
    first = np.arange(windows, dtype=np.int64)
    inside = words.docs[:windows] == words.docs[n - 1:n - 1 + windows]  # a document's words are contiguous
    return NGrams(h[inside], words.docs[:windows][inside], first[inside], words)


class NGramSet:
    """A sorted array of n-gram hashes with a one-hash bit filter in front of it.

    Membership is exact (a binary search in ``sorted``), but most n-grams of a document are in
    no evaluation set, and a binary search over millions of hashes misses the CPU caches at every
    step; so a hash is first looked up in a bitmap of its top bits, ~32 bits per reference
    n-gram (4 MB for 1M, about 3% of absent n-grams get through), and only those that pass are
    searched for.
    """

    BITS_PER_NGRAM = 32
    MAX_BITS = 1 << 33  # 1 GB of filter at most (~270M reference n-grams); fuller above that

    def __init__(self, hashes: np.ndarray) -> None:
        self.sorted = hashes  # uint64, sorted, unique (may be memory-mapped)
        wanted = max(len(hashes) * self.BITS_PER_NGRAM, 1 << 16)
        bits = min(1 << int(np.ceil(np.log2(wanted))), self.MAX_BITS)
        self.shift = np.uint64(64 - int(np.log2(bits)))
        self.filter = np.zeros(bits // 8, dtype=np.uint8)
        slots = np.asarray(hashes, dtype=np.uint64) >> self.shift
        np.bitwise_or.at(self.filter, slots >> np.uint64(3), np.left_shift(1, slots & np.uint64(7)).astype(np.uint8))

    def __len__(self) -> int:
        return len(self.sorted)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Which of ``hashes`` are in the set."""
        found = np.zeros(len(hashes), dtype=bool)
        if not len(self.sorted) or not len(hashes):
            return found
        slots = hashes >> self.shift
        passed = np.flatnonzero((self.filter[slots >> np.uint64(3)] >> (slots & np.uint64(7)).astype(np.uint8)) & 1)
        if len(passed):
            candidates = hashes[passed]
            at = np.minimum(np.searchsorted(self.sorted, candidates), len(self.sorted) - 1)
            found[passed] = self.sorted[at] == candidates
        return found
