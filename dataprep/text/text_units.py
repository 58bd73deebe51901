"""Lines and paragraphs of a batch of texts: found, and cut out, over Arrow buffers.

A text is a sequence of *units* separated by *breaks*: for ``line``, a break is one ``\\n``; for
``paragraph``, a break is a run of line breaks with nothing but blanks (space, tab, CR, FF, VT)
between them, :data:`PARAGRAPH_BREAK` (the units are those of a regex split on it; tested
against Arrow's); :func:`cut_units` rebuilds texts without some of them, each kept unit keeping the
break that followed it but the last one kept.

The breaks are found with NumPy over the texts' bytes (a paragraph break is a chain of line
feeds whose gaps hold only blanks), so a text is cut by slicing its own buffer into units and
breaks and joining the ones kept (Arrow's ``binary_join``): no Python string per document.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.text import native
from dataprep.text.hashing import utf8_buffers

#: a paragraph break: a line break, then one or more lines of only blanks (the same in RE2 and Python's re)
PARAGRAPH_BREAK = r"\n(?:[ \t\r\f\v]*\n)+"
_NOT_BLANK = np.ones(256, dtype=bool)
_NOT_BLANK[[9, 11, 12, 13, 32]] = False  # tab, VT, FF, CR, space (a line feed counts as not blank)


def breaks(data: np.ndarray, offsets: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, text) of every break of the texts given as (bytes, offsets from 0), in order."""
    newline = np.flatnonzero(data == 10)
    row = np.searchsorted(offsets, newline, side="right") - 1
    if unit == "line" or len(newline) < 2:
        if unit != "line":
            newline = newline[:0]
        return newline, newline + 1, row[: len(newline)]
    # consecutive line feeds of one text are linked when only blanks lie between them; a
    # paragraph break runs from the first to the last line feed of a chain of links
    gap = np.add.reduceat(_NOT_BLANK[data], newline, dtype=np.int64)[:-1]  # counts the first line feed itself
    link = (gap == 1) & (row[1:] == row[:-1])
    into = np.concatenate([[False], link])
    out_of = np.concatenate([link, [False]])
    first, last = np.flatnonzero(out_of & ~into), np.flatnonzero(into & ~out_of)
    return newline[first], newline[last] + 1, row[first]


def unit_bounds(data: np.ndarray, offsets: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bounds, text, index): every unit of the texts given as (bytes, offsets from 0) as
    ``data[bounds[i]:bounds[i + 1]]`` *with the break before it* (white space only, for
    measures that trim it), the text (row) of each and its index in it, without copying them out."""
    start, _, row = breaks(data, offsets, unit)
    n = len(offsets) - 1
    per_text = np.bincount(row, minlength=n) + 1
    bounds = np.sort(np.concatenate([offsets, start]), kind="stable")
    text = np.repeat(np.arange(n), per_text)
    first = np.cumsum(per_text) - per_text
    return bounds, text, np.arange(len(text)) - first[text]


def cut_units(texts: pa.Array, rows: np.ndarray, units: np.ndarray, unit: str) -> pa.Array:
    """``texts`` (large_string) without unit ``units[i]`` of text ``rows[i]``, for every i; by the
    compiled loop where the package has it (:mod:`dataprep.text.native`: the same texts)."""
    if native.AVAILABLE and not texts.null_count:
        return native.cut_units(*utf8_buffers(texts), rows, units, unit)
    return cut_units_numpy(texts, rows, units, unit)


def cut_units_numpy(texts: pa.Array, rows: np.ndarray, units: np.ndarray, unit: str) -> pa.Array:
    """:func:`cut_units` in NumPy and Arrow."""
    data, offsets = utf8_buffers(texts)
    n = len(texts)
    start, end, row = breaks(data, offsets, unit)
    per_text = 2 * np.bincount(row, minlength=n) + 1  # unit, break, unit, ..., unit
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per_text, out=first[1:])
    bounds = np.sort(np.concatenate([offsets, start, end]), kind="stable")
    pieces = pa.LargeStringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), pa.py_buffer(data))
    text_of = np.repeat(np.arange(n), per_text)
    position = np.arange(len(pieces)) - first[text_of]
    keep = np.ones(len(pieces), dtype=bool)
    if len(rows):
        if (units < 0).any() or (2 * units >= per_text[rows]).any():
            raise ValueError("a unit index beyond its text's units")
        keep[first[rows] + 2 * units] = False
    is_unit = position % 2 == 0
    kept_units = np.flatnonzero(is_unit & keep)  # ascending, so grouped by text
    last = kept_units[np.diff(text_of[kept_units], append=n) != 0]  # each text's last kept unit
    last_kept = np.full(n, -1, dtype=np.int64)
    last_kept[text_of[last]] = last
    breaks_at = np.flatnonzero(~is_unit)  # a break stays after a kept unit that a kept unit follows
    keep[breaks_at] = keep[breaks_at - 1] & (breaks_at < last_kept[text_of[breaks_at]])
    lists = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(text_of[keep], minlength=n), out=lists[1:])
    joined = pa.LargeListArray.from_arrays(pa.array(lists), pieces.filter(pa.array(keep)))
    return pc.binary_join(joined, pa.scalar("", pa.large_string()))
