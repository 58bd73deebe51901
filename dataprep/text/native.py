"""The compiled twins of the unit loops, when the package was built with them.

``dedup_paragraphs`` spends most of its time finding lines or paragraphs, normalising their white
space, hashing them, and later rebuilding texts without some of them.  In NumPy
(:func:`dataprep.text.text_units.unit_bounds`, :func:`dataprep.dedup.unit_hashes.normal_form_bytes`,
:func:`dataprep.text.hashing.span_hash_pair`, :func:`dataprep.text.text_units.cut_units`) that is a
dozen passes over the bytes and their int64 positions; the C module ``_unit_kernel``
(``_unit_kernel.c``, built by ``setup.py`` when a C compiler is there) does each in one pass: the
loops about 3x faster, the whole stage 1.6x (5.8x the plain Python loop in process, against 3.5x).
It is written by hand because no library does it: Arrow's kernels split and join every string
(several times slower), polars was 4x slower than the NumPy code, and numba costs 0.3 s of import
and a compile in every worker.

The module is optional: without it (no compiler at install, or ``DATAPREP_NATIVE=0``) the NumPy
code runs, and it gives the same units, hashes and texts bit for bit, so workers of one cluster may
mix both (``tests/text/test_native.py``).
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

try:
    from dataprep.text import _unit_kernel
except ImportError:  # built without a C compiler: the NumPy code runs
    _unit_kernel = None

#: whether the compiled loops are used (``DATAPREP_NATIVE=0`` turns them off)
AVAILABLE = _unit_kernel is not None and os.environ.get("DATAPREP_NATIVE", "1") != "0"
UNITS = ("line", "paragraph")


def _check_unit(unit: str) -> bool:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    return unit == "paragraph"


def unit_hashes(data: np.ndarray, offsets: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                            np.ndarray]:
    """(h1, h2, text, index) of every unit of the texts given as (bytes, int64 offsets from 0)
    whose normal form is not empty: what ``unit_bounds`` + ``normal_form_bytes`` + ``span_hashes``
    give.  Needs :data:`AVAILABLE`."""
    paragraph = _check_unit(unit)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    capacity = _unit_kernel.count_byte(data, 10) + len(offsets) - 1  # units <= line feeds + texts
    h1, h2 = np.empty(capacity, np.uint64), np.empty(capacity, np.uint64)
    text, index = np.empty(capacity, np.int64), np.empty(capacity, np.int64)
    n = _unit_kernel.unit_hashes(data, offsets, paragraph, h1, h2, text, index)
    return h1[:n], h2[:n], text[:n], index[:n]


def cut_units(data: np.ndarray, offsets: np.ndarray, rows: np.ndarray, units: np.ndarray,
              unit: str) -> pa.LargeStringArray:
    """The texts given as (bytes, int64 offsets from 0) without unit ``units[i]`` of text
    ``rows[i]``, for every i: what :func:`dataprep.text.text_units.cut_units` gives.  Needs
    :data:`AVAILABLE`; raises ``ValueError`` for a unit index beyond its text's units."""
    paragraph = _check_unit(unit)
    n = len(offsets) - 1
    rows, units = np.asarray(rows, dtype=np.int64), np.asarray(units, dtype=np.int64)
    if len(units) and (units.min() < 0 or rows.min() < 0 or rows.max() >= n):
        raise ValueError("a unit index beyond its text's units")
    order = np.lexsort((units, rows))
    units = np.ascontiguousarray(units[order])
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=first[1:])
    out = np.empty(len(data), dtype=np.uint8)
    out_offsets = np.empty(n + 1, dtype=np.int64)
    size = _unit_kernel.cut_units(np.ascontiguousarray(data, dtype=np.uint8),
                                  np.ascontiguousarray(offsets, dtype=np.int64), first, units, paragraph, out,
                                  out_offsets)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(out[:size]))
