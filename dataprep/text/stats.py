"""Vectorised text statistics over a batch of documents (Arrow string column in, NumPy out).

Documents are split into words, lines and paragraphs with Arrow compute kernels (RE2 regular
expressions in C++), flattened into one long array with the index of the document each piece
belongs to, and reduced per document with ``numpy.bincount``.  No Python loop runs per
character, word or line; a Python loop runs per *document* only where a rule is sequential by
definition (Gopher's duplicated n-gram scan), and only for documents that have a repeated
n-gram at all.

**Words** are the tokens of NLTK's ``word_tokenize`` (the Treebank rules FineWeb and Gopher
reimplementations split English with), translated to RE2 passes over the whole document: brackets,
quotes, dashes, ``;@#$%&?!*``, backtick runs and ellipses stand alone; commas and colons unless
before a digit; opening quotes unless they start a contraction; contractions (``'s``, ``n't``,
``cannot``, ``gonna``, ...) are cut off.  NLTK splits a period off only at the end of a sentence
found by punkt, a trained model; here a period ends a sentence where it is followed by white
space, the end or ``)"';:]`` and the like, except after a common abbreviation (``Mr.``, ``Dr.``,
``vs.``, ``U.S.``, ...), after an initial or a number that a lower-case word follows, after an
initial that a capitalised word precedes (``Guido P. Smith``) or that a CamelCase or upper-case
word follows (``C. PyObject``), and before a closing bracket or quote that another period ends.
So ``os.path``, ``3.14`` and ``e.g.,`` keep their periods, while ``e.g. this`` loses it, as in
punkt.  On the 529 extracted pages of ``benchmarks/quality_vs_datatrove.py`` 389 documents give
exactly NLTK's token list (with the trained English punkt) and none lands on the other side of
Gopher's alpha-word threshold.  A word is a *symbol* if it has no letter, digit or mark.

Chinese and Japanese are written without spaces: each Han ideograph, hiragana or katakana
character counts as one word (character-level words, as in CCNet and multilingual Gopher
adaptations).  Korean uses spaces and needs nothing special; Thai, Lao, Khmer and Burmese are
not segmented (a phrase counts as one word).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.sorted_unique import sorted_unique
from dataprep.text.hashing import MIX
from dataprep.text.patterns import LINE_BREAK

CJK = r"([\p{Han}\p{Hiragana}\p{Katakana}])"
#: abbreviations whose period never ends a sentence (lower-cased; matched case-insensitively)
ABBREVIATIONS = ("mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "inc", "ltd", "co", "corp", "bros",
                 "messrs", "gen", "col", "lt", "maj", "adm", "sen", "rep", "reps", "gov", "jan", "feb", "aug",
                 "sept", "oct", "nov", "dec", "u.s", "u.k", "u.s.a", "u.n", "a.m", "p.m", "ph.d")
# Unicode noncharacters (reserved for internal use) mark a period or apostrophe that a later
# pass must leave alone; RE2 has no look-around, so exceptions are marked first, then undone.
_KEEP_PERIOD, _KEEP_QUOTE = "\ufdd0", "\ufdd1"
_ABBREV = "|".join(a.replace(".", r"\.") for a in ABBREVIATIONS)
#: (pattern, replacement) passes that mark the periods which do not end a sentence
NOT_SENTENCE_ENDS = [
    (r"(?i)(^|[^\pL\pN_.])(" + _ABBREV + r")\.", r"\1\2" + _KEEP_PERIOD),
    (r"(^|[^\pL\pN_.])(\pL|-?\pN[\pN.,-]*)\.(\s+\p{Ll})", r"\1\2" + _KEEP_PERIOD + r"\3"),
    (r"(^|[^\pL])(\p{Lu}\pL*[ \t]+\pL)\.([ \t])", r"\1\2" + _KEEP_PERIOD + r"\3"),
    (r"(^|[^\pL\pN_.])(\pL)\.(\s+\p{Lu}(?:\p{Ll}*\p{Lu}|[^\pL]))", r"\1\2" + _KEEP_PERIOD + r"\3"),
    (r"\.([)\]}\"'»”’]+[.?!])", _KEEP_PERIOD + r"\1"),
]
#: in text marked by NOT_SENTENCE_ENDS: a sentence end that more text follows (an ellipsis ends
#: one only before a capital, as punkt's orthographic rule mostly decides)
SENTENCE_END = r"(?:[^.\s]\.|[?!])[)\]}\"'»”’]*\s+\S|\.\.+[)\]}\"'»”’]*\s+\p{Lu}"
_MAYBE_SENTENCE_END = r"[.?!][)\]}\"'»”’]*\s+\S"
# (pattern, replacement) applied in order, each over the whole text
WORD_SPLITS = [
    (CJK, r" \1 "),
    # -- periods that end a sentence stand alone; first mark those that do not
    *NOT_SENTENCE_ENDS,
    (r"([^.\s])\.(\s|$|[?!)\";}\]*:@'({\[])", r"\1 . \2"),
    (_KEEP_PERIOD, "."),
    # -- characters that always stand alone; a run of backticks or periods, or '', is one token
    (r"`+|\.\.+|''|--|[«“‘„»”’\";@#$%&?!*\[\](){}<>\x{2012}-\x{2015}]", r" \0 "),
    (r"([:,])([^\p{Nd}])", r" \1 \2"),
    (r"([:,])$", r" \1 "),
    # -- an opening quote before a word, unless it starts a contraction
    (r"(?i)(^|[^\pL\pN_])'(re|ve|ll|m|t|s|d|n)([^\pL\pN_]|$)", r"\1" + _KEEP_QUOTE + r"\2\3"),
    (r"(^|[^\pL\pN_])'([\pL\pN_])", r"\1' \2"),
    (_KEEP_QUOTE, "'"),
    # -- closing quotes and contractions
    (r"([^'])'(\s|$)", r"\1 '\2"),
    (r"([^'\s])('[sS]|'[mM]|'[dD]|'ll|'LL|'re|'RE|'ve|'VE|n't|N'T)(\s|$)", r"\1 \2\3"),
    (r"(?i)\b(?:(can)(not)|(gim|lem)(me)|(gon|wan)(na)|(got)(ta))\b", r" \1\3\5\7 \2\4\6\8 "),
]
_LITERAL = {_KEEP_PERIOD, _KEEP_QUOTE}


def _rewrite(text: pa.Array, passes: list[tuple[str, str]]) -> pa.Array:
    """``text`` after each ``(pattern, replacement)`` pass in order (RE2; the marks are undone as literals)."""
    for pattern, replacement in passes:
        if pattern in _LITERAL:
            text = pc.replace_substring(text, pattern, replacement)
        else:
            text = pc.replace_substring_regex(text, pattern, replacement)
    return text


def _flat(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The values of a list array and, for each, the index of its list."""
    return pc.list_flatten(lists), np.asarray(pc.list_parent_indices(lists))


def sentence_ends(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """For each string, how many sentence ends it holds that more text follows (a one-sentence
    string has 0): periods as the word split ends sentences, and ``?`` or ``!``."""
    text = _as_array(text)
    counts = np.zeros(len(text), dtype=np.int64)
    # only a string with an end mark before white space and more text can hold one: mark those alone
    maybe = np.flatnonzero(np.asarray(pc.match_substring_regex(text, _MAYBE_SENTENCE_END), dtype=bool))
    if len(maybe):
        marked = _rewrite(text.take(pa.array(maybe)), NOT_SENTENCE_ENDS)
        counts[maybe] = np.asarray(pc.count_substring_regex(marked, SENTENCE_END), dtype=np.int64)
    return counts


def _as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


class TextStats:
    """Lazily computed per-document statistics of a text column (one value per document)."""

    def __init__(self, text: pa.Array | pa.ChunkedArray) -> None:
        self.text = _as_array(text).cast(pa.large_string())
        self.n = len(self.text)

    # -- helpers ------------------------------------------------------------------------
    def per_doc(self, parents: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(parents, weights=weights, minlength=self.n)[: self.n]

    @cached_property
    def chars(self) -> np.ndarray:
        return np.asarray(pc.utf8_length(self.text), dtype=np.int64)

    def count(self, pattern: str) -> np.ndarray:
        return np.asarray(pc.count_substring(self.text, pattern), dtype=np.int64)

    # -- words ---------------------------------------------------------------------------
    @cached_property
    def _words(self) -> tuple[pa.Array, np.ndarray]:
        spaced = _rewrite(self.text, WORD_SPLITS)
        words, parents = _flat(pc.utf8_split_whitespace(pc.utf8_trim_whitespace(spaced)))
        nonempty = np.asarray(pc.greater(pc.utf8_length(words), 0), dtype=bool)  # "" splits into [""]
        return words.filter(pa.array(nonempty)), parents[nonempty]

    @property
    def words(self) -> pa.Array:
        return self._words[0]

    @property
    def word_doc(self) -> np.ndarray:
        return self._words[1]

    @cached_property
    def word_len(self) -> np.ndarray:
        return np.asarray(pc.utf8_length(self.words), dtype=np.int64)

    @cached_property
    def n_words(self) -> np.ndarray:
        return self.per_doc(self.word_doc).astype(np.int64)

    @cached_property
    def word_is_symbol(self) -> np.ndarray:
        """True for words without a letter, digit or mark (punctuation and symbols only)."""
        return ~np.asarray(pc.match_substring_regex(self.words, r"[\pL\pN\pM]"), dtype=bool)

    @cached_property
    def n_non_symbol_words(self) -> np.ndarray:
        return self.per_doc(self.word_doc, (~self.word_is_symbol).astype(np.float64)).astype(np.int64)

    @cached_property
    def mean_word_length(self) -> np.ndarray:
        keep = ~self.word_is_symbol
        total = self.per_doc(self.word_doc, np.where(keep, self.word_len, 0).astype(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / self.n_non_symbol_words

    @cached_property
    def n_alpha_words(self) -> np.ndarray:
        alpha = np.asarray(pc.match_substring_regex(self.words, r"\pL"), dtype=np.float64)
        return self.per_doc(self.word_doc, alpha)

    def distinct_words_in(self, vocabulary: list[str]) -> np.ndarray:
        """How many distinct words of ``vocabulary`` each document contains (case-sensitive)."""
        codes = np.asarray(pc.index_in(self.words, value_set=pa.array(vocabulary, self.words.type)).fill_null(-1))
        hit = codes >= 0
        pairs = sorted_unique(self.word_doc[hit].astype(np.int64) * len(vocabulary) + codes[hit])
        return self.per_doc(pairs // len(vocabulary)).astype(np.int64)

    @cached_property
    def word_codes(self) -> np.ndarray:
        """An integer per word, equal for equal words (within this batch)."""
        return np.asarray(pc.dictionary_encode(self.words).indices, dtype=np.int64)

    # -- lines and paragraphs --------------------------------------------------------------
    @cached_property
    def _lines(self) -> tuple[pa.Array, np.ndarray]:
        # like str.splitlines(): no empty last line after a final line break, none for ""
        trimmed = pc.replace_substring_regex(self.text, f"(?:{LINE_BREAK})$", "")
        split = pc.split_pattern_regex(trimmed, LINE_BREAK)
        values, parents = _flat(split)
        empty_doc = self.chars[parents] == 0
        return values.filter(pa.array(~empty_doc)), parents[~empty_doc]

    @property
    def lines(self) -> pa.Array:
        return self._lines[0]

    @property
    def line_doc(self) -> np.ndarray:
        return self._lines[1]

    @cached_property
    def n_lines(self) -> np.ndarray:
        return self.per_doc(self.line_doc).astype(np.int64)

    def lines_matching(self, pattern: str) -> np.ndarray:
        hit = np.asarray(pc.match_substring_regex(self.lines, pattern), dtype=np.float64)
        return self.per_doc(self.line_doc, hit)


def duplicates(pieces: pa.Array, parents: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """Per document: how many pieces repeat an earlier piece of the same document, and their
    total characters (a piece's first occurrence is not a duplicate)."""
    if len(pieces) == 0:
        return np.zeros(n_docs, np.int64), np.zeros(n_docs, np.int64)
    codes = np.asarray(pc.dictionary_encode(pieces).indices, dtype=np.int64)
    keys = parents.astype(np.int64) * (int(codes.max()) + 1) + codes
    _, first = np.unique(keys, return_index=True)
    is_dup = np.ones(len(keys), dtype=bool)
    is_dup[first] = False
    lengths = np.asarray(pc.utf8_length(pieces), dtype=np.float64)
    count = np.bincount(parents, weights=is_dup.astype(np.float64), minlength=n_docs)[:n_docs]
    chars = np.bincount(parents, weights=np.where(is_dup, lengths, 0.0), minlength=n_docs)[:n_docs]
    return count.astype(np.int64), chars.astype(np.int64)


def ngram_ids(codes: np.ndarray, parents: np.ndarray, n: int,
              starts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids of the word n-grams that lie within one document: (ids, start positions, docs).

    Equal n-grams of the same document get the same id.  N-grams are hashed to 64 bits
    (multiply-xor over the word codes and the document), so two different n-grams share an id
    only with probability ~2^-64 per pair; ids are then made dense with one 1-D sort.
    ``starts``: only the n-grams starting there (ascending word positions), e.g. those whose
    shorter prefix repeats -- an n-gram can repeat only where its (n-1)-word prefix does."""
    if len(codes) < n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.arange(len(codes) - n + 1) if starts is None else starts[starts <= len(codes) - n]
    starts = starts[parents[starts] == parents[starts + n - 1]]
    with np.errstate(over="ignore"):
        h = parents[starts].astype(np.uint64) * MIX
        for k in range(n):
            h = (h ^ codes[starts + k].astype(np.uint64)) * MIX
            h ^= h >> np.uint64(29)
    _, ids = np.unique(h, return_inverse=True)
    return ids.reshape(-1).astype(np.int64), starts, parents[starts]
