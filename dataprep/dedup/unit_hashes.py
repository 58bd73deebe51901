"""Two 64-bit hashes of the normal form of every string of a batch (lines, paragraphs), vectorised.

The normal form is NFC, lower case, every run of Unicode white space made one space, trimmed.
In Arrow it is four kernels and a list split-and-join per string, and the split-and-join costs
most of it.  :func:`unit_hashes` takes only lower case and NFC from Arrow
(:func:`dataprep.dedup.byte_words.lower_nfc`, NFC only where it could change a string) and does
the white space with NumPy over the lower-cased bytes
(:func:`normal_form_bytes`): a white-space character (the ten ASCII bytes and the 19 other code
points that Arrow's and Python's splits agree on) that follows another, or starts or ends a
string, is dropped, and the rest become one space.  The result is tested byte for byte against
Arrow's kernels on random mixtures.  Written by hand because no library normalises and hashes the
strings of an Arrow buffer without a Python loop per string.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dataprep.dedup.byte_words import lower_nfc, multibyte_codepoints
from dataprep.text import native
from dataprep.text.hashing import span_hash_pair, utf8_buffers
from dataprep.text.text_units import unit_bounds

#: ASCII white space as Arrow's ``utf8_split_whitespace``/``utf8_trim_whitespace`` and Python's
#: ``str.split`` see it: tab, line feed, vertical tab, form feed, carriage return, the four
#: information separators (0x1C-0x1F) and space
ASCII_SPACE = np.zeros(256, dtype=bool)
ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
#: the other code points both call white space (NEL, no-break space, ogham, the typographic
#: spaces, line and paragraph separators, narrow no-break, medium mathematical, ideographic)
UNICODE_SPACE = np.array([0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
_IS_UNICODE_SPACE = np.zeros(int(UNICODE_SPACE.max()) + 2, dtype=bool)  # by code point; the last: all above
_IS_UNICODE_SPACE[UNICODE_SPACE] = True
_ASCII_LOWER = np.arange(256, dtype=np.uint8)  # byte -> its ASCII lower case
_ASCII_LOWER[65:91] += 32


def normal_form_bytes(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes, starts, ends): the normal forms of lower-cased NFC strings, given as (UTF-8 bytes,
    offsets from 0), as spans of the bytes returned (which may hold dropped spaces between spans)."""
    space = (data - np.uint8(9)) < 5  # 9-13 and 28-32: ASCII_SPACE, in two compares
    space |= (data - np.uint8(28)) < 5
    wide_space = np.zeros(0, dtype=np.int64)
    if len(data) and data.max() >= 0xC2:
        lead, cp, length = multibyte_codepoints(data)
        hit = _IS_UNICODE_SPACE[np.minimum(cp, len(_IS_UNICODE_SPACE) - 1)]
        wide_space = lead[hit]
        for k in range(int(length[hit].max(initial=0))):  # every byte of it is a space, so all but the first drop
            at = (wide_space + k)[k < length[hit]]
            space[at[at < len(data)]] = True  # (invalid UTF-8 may cut the last one short)
    drop = np.zeros(len(data), dtype=bool)
    np.logical_and(space[1:], space[:-1], out=drop[1:])
    begins = offsets[:-1][offsets[:-1] < len(data)]
    drop[begins] |= space[begins]
    dropped = np.flatnonzero(drop)  # the second and later bytes of white-space runs
    mapped = np.maximum(data, space * np.uint8(32))  # white space (all <= 32) to a space
    out = mapped if not len(dropped) else mapped[~drop]
    if len(wide_space):
        kept = wide_space[~drop[wide_space]]
        out[kept - np.searchsorted(dropped, kept)] = 32
    kept_before = offsets - np.searchsorted(dropped, offsets)
    starts, ends = kept_before[:-1], kept_before[1:]
    if len(out):  # a string's one trailing space
        ends = ends - ((ends > starts) & (out[np.maximum(ends - 1, 0)] == 32))
    return out, starts, ends


def span_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent, well-spread 64-bit hashes of every byte span
    (:func:`dataprep.text.hashing.span_hash_pair`): 128 bits, as a corpus of billions of units
    would meet collisions of one."""
    return span_hash_pair(data, starts, ends)


def unit_hashes(texts: pa.Array | pa.ChunkedArray, unit: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(h1, h2, text, index) of every unit (:mod:`dataprep.text.text_units`: ``line`` or
    ``paragraph``) of ``texts`` whose normal form is not empty.  The texts are lower-cased and
    NFC-ed whole (neither changes a line or paragraph break; ASCII lower case is left to the
    loop), then cut at the breaks in place, by the compiled loop where the package has it
    (:mod:`dataprep.text.native`: the same result)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    data, offsets = utf8_buffers(lower_nfc(texts, ascii_lower=False))
    if native.AVAILABLE:
        return native.unit_hashes(data, offsets, unit)
    return unit_hashes_numpy(data, offsets, unit)


def unit_hashes_numpy(data: np.ndarray, offsets: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                  np.ndarray]:
    """:func:`unit_hashes` of the texts given as (bytes, offsets from 0), Unicode lower case and
    NFC already applied, in NumPy: ASCII lower case, then units, normal form and hashes."""
    data = _ASCII_LOWER[data]
    bounds, text, index = unit_bounds(data, offsets, unit)
    out, starts, ends = normal_form_bytes(data, bounds)
    keep = ends > starts
    h1, h2 = span_hashes(out, starts[keep], ends[keep])
    return h1, h2, text[keep], index[keep]
