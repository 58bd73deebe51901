"""``dedup_paragraphs``: cut paragraphs (or lines) that repeat across the whole run.

A barrier stage on Dask, after CCNet's line deduplication and DCLM's paragraph deduplication.
Each shard task splits its documents into units -- paragraphs (runs of text between blank
lines) or lines (``unit: line``) -- normalises each (NFC, lower case, Unicode white space runs made
one space, trimmed; units empty after that are never cut), hashes it, and writes
``(128-bit hash, id, unit index, shard)`` as its summary.  ``combine`` regroups the hashes across Dask
tasks (:mod:`dataprep.engine.exchange`, ``partitions`` of them) and decides, per hash:

* by default every occurrence but the first is cut -- the first being the one of the smallest
  ``(id, unit index)``, a rule that does not depend on sharding or workers;
* with ``max_count: N``, every occurrence of a unit seen more than N times is cut (boilerplate:
  navigation lines, cookie notices), and the rest are left alone.

Each shard then loads only its own cut list and rebuilds the texts it touches.  Documents gain
``para_kept_frac`` (characters kept / characters before, 1.0 when nothing was cut); a document
left with fewer than ``min_chars`` characters is removed (``dedup_paragraphs:too_short``).

Memory: a summary row (~40 bytes) per unit; the grouping is spread over ``partitions`` tasks
(by default one per 4M units); a shard task holds only its own cuts.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.dedup import removals
from dataprep.dedup.hash_groups import hash_groups
from dataprep.engine.exchange import key_partition
from dataprep.engine.summaries import Summaries
from dataprep.io.state_files import reset_folder
from dataprep.schema import ID, TEXT
from dataprep.text.hashing import string_hashes
from dataprep.transform import GlobalTransform, Params, StageOutput, set_columns, split_by_reason

#: a paragraph break: a line break, then one or more lines of only blanks (the same in RE2 and Python's re)
PARAGRAPH_BREAK = r"\n(?:[ \t\r\f\v]*\n)+"


class DedupParagraphsParams(Params):
    unit: Literal["paragraph", "line"] = Field("paragraph", description="what is deduplicated: paragraphs or lines")
    max_count: int | None = Field(None, ge=1, description="cut every occurrence of a unit seen more than this many "
                                  "times (boilerplate), instead of every occurrence after the first")
    min_chars: int = Field(1, ge=0, description="a document left with fewer characters is removed")
    partitions: int | None = Field(None, ge=1, description="partitions for grouping unit hashes (default: one per "
                                   "4M units)")


def _units(text: pa.Array | pa.ChunkedArray, unit: str) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Every unit of every document (the values), the document of each, and its index in it."""
    if unit == "line":
        split = pc.split_pattern(text, "\n")
    else:
        split = pc.split_pattern_regex(text, PARAGRAPH_BREAK)
    if isinstance(split, pa.ChunkedArray):
        split = split.combine_chunks()
    values = pc.list_flatten(split)
    docs = np.asarray(pc.list_parent_indices(split), dtype=np.int64)
    starts = np.asarray(split.offsets, dtype=np.int64)[:-1] - split.offsets[0].as_py()
    index = np.arange(len(values), dtype=np.int64) - np.repeat(starts, np.diff(np.asarray(split.offsets)))
    return values, docs, index


def _normalise(units: pa.Array) -> pa.Array:
    """NFC, lower case, Unicode white space runs made one space, trimmed (splitting on white
    space and joining is twice as fast as a regex replace, and knows Unicode's spaces)."""
    units = pc.utf8_trim_whitespace(pc.utf8_lower(pc.utf8_normalize(units, "NFC")))
    return pc.binary_join(pc.utf8_split_whitespace(units), pa.scalar(" ", units.type))


def _cuts(table: pa.Table, partition: int, max_count: int | None) -> pa.Table:
    """Within one partition of the hash exchange: the (id, unit) occurrences to cut."""
    if not table.num_rows:
        return pa.table({ID: pa.array([], pa.string()), "unit": pa.array([], pa.int64()),
                         "shard": pa.array([], pa.string())})
    groups = hash_groups(table, [ID, "unit"])
    cut = ~groups.first if max_count is None else groups.sizes() > max_count
    return groups.rows.filter(pa.array(cut)).select([ID, "unit", "shard"])


def rebuild(text: str, cut: set[int], unit: str) -> str:
    """``text`` without the units of index in ``cut``; each kept unit keeps the break that
    followed it, but the last kept one."""
    if unit == "line":
        return "\n".join(line for i, line in enumerate(text.split("\n")) if i not in cut)
    parts = re.split(f"({PARAGRAPH_BREAK})", text)  # paragraphs at even positions, their breaks between
    kept = [i for i in range((len(parts) + 1) // 2) if i not in cut]
    return "".join(parts[2 * i] + (parts[2 * i + 1] if j < len(kept) - 1 else "") for j, i in enumerate(kept))


class DedupParagraphs(GlobalTransform):
    """Cut paragraphs or lines repeated across the run (first occurrence kept, or boilerplate cut)."""

    name = "dedup_paragraphs"
    can_annotate = True
    Params = DedupParagraphsParams

    def summarize(self, batch: pa.Table) -> pa.Table:
        values, docs, index = _units(batch.column(TEXT), self.params.unit)
        normal = _normalise(values)
        keep = np.asarray(pc.greater(pc.utf8_length(normal), 0), dtype=bool)
        normal = normal.filter(pa.array(keep))
        # 128 bits: two 64-bit hashes (the second of the unit with a NUL after it), as a corpus of
        # billions of lines would meet collisions of one
        if len(normal):
            nul, empty = pa.scalar("\x00", normal.type), pa.scalar("", normal.type)
            h1, h2 = string_hashes(normal), string_hashes(pc.binary_join_element_wise(normal, nul, empty))
        else:
            h1 = h2 = np.zeros(0, np.uint64)
        return pa.table({"h1": pa.array(h1, pa.uint64()), "h2": pa.array(h2, pa.uint64()),
                         ID: batch.column(ID).take(pa.array(docs[keep])), "unit": pa.array(index[keep], pa.int64())})

    def reads_documents(self) -> bool:
        return False

    def combine(self, summaries: Summaries) -> Any:
        from functools import partial

        from distributed import worker_client

        out = f"{summaries.workdir}/cuts"
        reset_folder(out, summaries.storage_options)
        parts = self.params.partitions or summaries.partitions()
        with worker_client() as client:
            found = summaries.exchange(client, parts, key_partition("h1", parts),
                                       partial(_cuts, max_count=self.params.max_count),
                                       columns=["h1", "h2", ID, "unit", "shard"])
        removals.write(pa.concat_tables(found), out, summaries.storage_options)
        return out

    def shard_state(self, state: Any, shard: str) -> dict[str, set[int]]:
        found = removals.load(state, shard, ["unit"])
        cuts: dict[str, set[int]] = {}
        for doc, unit in zip(found.column(ID).to_pylist(), found.column("unit").to_pylist()):
            cuts.setdefault(doc, set()).add(int(unit))
        return cuts

    def apply(self, batch: pa.Table, state: dict[str, set[int]]) -> StageOutput:
        ids = batch.column(ID).to_pylist()
        texts = batch.column(TEXT)
        frac = np.ones(batch.num_rows, dtype=np.float32)
        touched = [i for i, doc in enumerate(ids) if doc in state]
        new = texts.to_pylist() if touched else None
        for i in touched:
            before = len(new[i])
            new[i] = rebuild(new[i], state[ids[i]], self.params.unit)
            frac[i] = len(new[i]) / before if before else 1.0
        columns: dict[str, Any] = {"para_kept_frac": pa.array(frac)}
        if new is not None:
            columns[TEXT] = pa.array(new, pa.large_string())
        out = set_columns(batch, columns)
        short = np.asarray(pc.less(pc.utf8_length(out.column(TEXT)), self.params.min_chars), dtype=bool)
        reasons = pa.array(np.where(short, "dedup_paragraphs:too_short", None).tolist(), pa.string())
        return split_by_reason(out, reasons, removed_source=set_columns(batch, {"para_kept_frac": pa.array(frac)}))
