"""Words of a batch of documents as byte spans of one UTF-8 buffer, found with NumPy.

The words are those of :func:`dataprep.dedup.minhash.simplify` followed by a whitespace split: runs
of letters, digits and marks (Unicode ``L``, ``N``, ``M``) of the NFC, lower-cased text.  The
same split in Arrow (a ``[^\\pL\\pN\\pM]+`` regular-expression replace, then a split) spends
about 0.3 s per 10 MB in RE2; here every byte is classified with one table look-up (ASCII) or
by decoding its code point (the rest), and word starts and ends are where the class changes,
about 20x faster.  Written by hand because no library splits on Unicode categories over an
Arrow buffer without a Python loop; the result is tested against the Arrow reference.

NFC (Arrow's, about 20 MB/s) is computed only for documents that it could change: those with
a code point that NFC changes by itself (a singleton or excluded composite), of non-zero
combining class, that can be the second part of a composition, or unknown to Python's Unicode
database.  Every other code point starts a segment that NFC leaves alone (Unicode's NFC
quick-check "Yes" with combining class 0: UAX #15), so for a document of only those NFC is the
identity; precomposed letters such as "é" need no NFC.  Which code points are word characters
is asked of RE2 itself (Arrow's regex kernel), once per process for each 128-code-point page
met, so the two definitions cannot drift apart.  Likewise which code points Arrow's Unicode
lower case changes: the other texts take the ASCII lower case, a byte look-up.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.sorted_unique import sorted_unique
from dataprep.text.hashing import utf8_buffers

WORD_CHAR = r"^[\pL\pN\pM]$"
_ASCII_WORD = np.zeros(256, dtype=bool)  # lower-case ASCII letters and digits (bytes >= 0x80: decoded)
_ASCII_WORD[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)] = True
_WORD = np.full(0x110000, -1, dtype=np.int8)  # per code point: -1 not asked yet, 0 no, 1 word character
_NFC_INERT = np.full(0x110000, -1, dtype=np.int8)  # per code point: -1 not asked yet, 0 no, 1 NFC never changes it
_LOWER_FIXED = np.full(0x110000, -1, dtype=np.int8)  # per code point: -1 not asked yet, 0 no, 1 lower case keeps it
_LOCK = threading.Lock()
# surrogates: never in valid UTF-8, never asked
_WORD[0xD800:0xE000] = _NFC_INERT[0xD800:0xE000] = _LOWER_FIXED[0xD800:0xE000] = 0


@dataclass
class ByteWords:
    """Words as spans ``data[starts[i]:ends[i]]`` of ``data`` (lower-cased NFC UTF-8), with the
    document of each; the words of a document are contiguous and in text order."""

    data: np.ndarray  # uint8
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    docs: np.ndarray  # int64, non-decreasing

    def __len__(self) -> int:
        return len(self.starts)


def _utf8_of(codepoints: np.ndarray) -> pa.Array:
    """A string array holding one code point per string."""
    cps = codepoints.astype(np.int64)
    lengths = np.where(cps < 0x80, 1, np.where(cps < 0x800, 2, np.where(cps < 0x10000, 3, 4)))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    data = "".join(map(chr, cps.tolist())).encode("utf-8")
    return pa.StringArray.from_buffers(len(cps), pa.py_buffer(offsets), pa.py_buffer(data))


def _ask(table: np.ndarray, codepoints: np.ndarray, answer) -> np.ndarray:
    """``table[codepoints] == 1``, filling unknown entries with ``answer(code points)``, asked for
    the whole 128-code-point pages of the unknown ones (a call costs ~1 ms, so a page asked once
    spares the later batches that meet its neighbours)."""
    pages = sorted_unique(codepoints[table[codepoints] < 0] >> 7)
    if len(pages):
        unknown = ((pages << 7)[:, None] + np.arange(128)).reshape(-1)
        values = np.asarray(answer(unknown), dtype=np.int8)
        with _LOCK:
            table[unknown] = values
    return table[codepoints] == 1


def is_word_char(codepoints: np.ndarray) -> np.ndarray:
    """Whether each code point is a letter, digit or mark, as RE2's ``[\\pL\\pN\\pM]`` says."""
    return _ask(_WORD, codepoints, lambda cps: pc.match_substring_regex(_utf8_of(cps), WORD_CHAR))


def is_lower_fixed(codepoints: np.ndarray) -> np.ndarray:
    """Whether Arrow's ``utf8_lower`` leaves each code point as it is (it maps code point by code point)."""
    def answer(cps: np.ndarray) -> np.ndarray:
        chars = _utf8_of(cps)
        return np.asarray(pc.equal(pc.utf8_lower(chars), chars))
    return _ask(_LOWER_FIXED, codepoints, answer)


# Code points NFC may compose with the character before them: the second parts of canonical
# decompositions, and Hangul vowel and trailing jamo.  A constant (the scan takes 0.2 s per
# process); tests/test_byte_words.py checks it against this Python's Unicode database.
COMPOSITION_SECONDS = frozenset([
    0x300, 0x301, 0x302, 0x303, 0x304, 0x306, 0x307, 0x308, 0x309, 0x30A, 0x30B, 0x30C, 0x30F,
    0x311, 0x313, 0x314, 0x31B, 0x323, 0x324, 0x325, 0x326, 0x327, 0x328, 0x32D, 0x32E, 0x330,
    0x331, 0x338, 0x342, 0x345, 0x5B4, 0x5B7, 0x5B8, 0x5B9, 0x5BC, 0x5BF, 0x5C1, 0x5C2, 0x653,
    0x654, 0x655, 0x93C, 0x9BC, 0x9BE, 0x9D7, 0xA3C, 0xB3C, 0xB3E, 0xB56, 0xB57, 0xBBE, 0xBD7,
    0xC56, 0xCC2, 0xCD5, 0xCD6, 0xD3E, 0xD57, 0xDCA, 0xDCF, 0xDDF, 0xF72, 0xF74, 0xF80, 0xFB5,
    0xFB7, 0x102E, 0x1B35, 0x3099, 0x309A, 0x110BA, 0x11127, 0x1133E, 0x11357, 0x114B0, 0x114BA,
    0x114BD, 0x115AF, 0x11930, 0x1D165, 0x1D16E, 0x1D16F, 0x1D170, 0x1D171, 0x1D172,
    *range(0x1161, 0x1176), *range(0x11A8, 0x11C3),
])


def composition_seconds_from_unicodedata() -> frozenset[int]:
    """:data:`COMPOSITION_SECONDS` as this Python's Unicode database gives it (slow)."""
    seconds = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for cp in range(0x2FA1E):  # no canonical decomposition lies above
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            seconds.update(int(part, 16) for part in decomposition.split()[1:])
    return frozenset(seconds)


def _nfc_inert(cp: int) -> bool:
    ch = chr(cp)
    return (unicodedata.category(ch) != "Cn" and unicodedata.combining(ch) == 0
            and unicodedata.is_normalized("NFC", ch) and cp not in COMPOSITION_SECONDS)


def is_nfc_inert(codepoints: np.ndarray) -> np.ndarray:
    """Whether NFC leaves each code point alone whatever surrounds it."""
    return _ask(_NFC_INERT, codepoints, lambda cps: [_nfc_inert(cp) for cp in cps.tolist()])


def multibyte_codepoints(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, code points, byte lengths) of the multi-byte characters of UTF-8 ``data``."""
    lead = np.flatnonzero(data >= 0xC0)
    b0 = data[lead].astype(np.int64)
    last = len(data) - 1  # continuation bytes past the end (truncated text) read as 0
    b1, b2, b3 = (np.where(lead + k <= last, data[np.minimum(lead + k, last)], 0).astype(np.int64) & 0x3F
                  for k in (1, 2, 3))
    length = np.where(b0 < 0xE0, 2, np.where(b0 < 0xF0, 3, 4))
    cp = np.where(length == 2, ((b0 & 0x1F) << 6) | b1,
                  np.where(length == 3, ((b0 & 0x0F) << 12) | (b1 << 6) | b2,
                           ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3))
    return lead, cp, length


def lower_nfc(text: pa.Array, ascii_lower: bool = True) -> pa.Array:
    """Lower-cased NFC text; Unicode lower case computed only for the texts with a non-ASCII
    character that it changes (ASCII lower case for the rest), NFC only for the texts it could change.
    ``ascii_lower=False`` leaves the ASCII lower case of the rest to the caller (whose byte loop
    does it anyway): applied afterwards, it gives the same text."""
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    text = pc.fill_null(text.cast(pa.large_string()), "")
    data, offsets = utf8_buffers(text)
    lead, cp, _ = multibyte_codepoints(data)
    lowered = pc.ascii_lower(text) if ascii_lower else text  # exact for the texts that are all ASCII
    if len(lead) == 0:
        return lowered
    cased = lead[~is_lower_fixed(cp)]
    if len(cased):
        mask = _texts_holding(offsets, cased)
        lowered = pc.replace_with_mask(lowered, mask, pc.utf8_lower(text.filter(mask)))
    odd = lead[~is_nfc_inert(cp)]
    if len(odd) == 0:
        return lowered
    mask = _texts_holding(offsets, odd)
    return pc.replace_with_mask(lowered, mask, pc.utf8_lower(pc.utf8_normalize(text.filter(mask), "NFC")))


def _texts_holding(offsets: np.ndarray, positions: np.ndarray) -> pa.Array:
    """Per text (``offsets`` into the bytes, from 0): whether it holds a byte at one of ``positions``."""
    holds = np.zeros(len(offsets) - 1, dtype=bool)
    holds[np.searchsorted(offsets, positions, side="right") - 1] = True
    return pa.array(holds)


def _word_bytes(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per byte: part of a word character; and the byte length of the character it starts
    (0 for continuation bytes)."""
    is_word = _ASCII_WORD[data]
    char_len = (data < 0x80).astype(np.int8)
    lead, cp, length = multibyte_codepoints(data)
    if len(lead):
        word = is_word_char(cp)
        char_len[lead] = length
        for k in range(4):
            inside = length > k
            is_word[lead[inside] + k] = word[inside]
    return is_word, char_len


def byte_words(text: pa.Array | pa.ChunkedArray, mode: str = "word") -> ByteWords:
    """The words of every document (``mode="char"``: every word character alone, for scripts
    written without spaces)."""
    data, offsets = utf8_buffers(lower_nfc(text))
    is_word, char_len = _word_bytes(data)
    if mode == "char":
        starts = np.flatnonzero(is_word & (char_len > 0))
        ends = starts + char_len[starts]
    else:
        # class changes, with a non-word byte imagined before and after: starts and ends alternate
        change = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1
        if len(data) and is_word[0]:
            change = np.concatenate([[0], change])
        if len(data) and is_word[-1]:
            change = np.concatenate([change, [len(data)]])
        starts, ends = change[0::2], change[1::2]
        bounds = offsets[1:-1]
        inner = sorted_unique(bounds[(bounds > 0) & (bounds < len(data))])  # empty documents repeat one
        cross = inner[is_word[inner - 1] & is_word[inner]]  # a document boundary ends and starts words
        if len(cross):
            starts = np.insert(starts, np.searchsorted(starts, cross), cross)
            ends = np.insert(ends, np.searchsorted(ends, cross), cross)
    docs = np.repeat(np.arange(len(offsets) - 1), np.diff(np.searchsorted(starts, offsets)))
    return ByteWords(data, starts, ends, docs)
