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

Each shard then loads only its own cut list and rebuilds the texts it touches.  Both passes are
vectorised over a batch: units are found in the texts' buffer and hashed
(:mod:`dataprep.dedup.unit_hashes`), and a text is rebuilt from the slices of its own buffer that
stay (:mod:`dataprep.text.text_units`), each in one compiled pass where the package has its C
module (:mod:`dataprep.text.native`), in NumPy otherwise, with the same result.  Documents gain
``para_kept_frac`` (characters kept / characters before, 1.0 when nothing was cut); a document
left with fewer than ``min_chars`` characters is removed (``dedup_paragraphs:too_short``).

Memory: a summary row (~40 bytes) per unit; the grouping is spread over ``partitions`` tasks
(by default one per 4M units); a shard task holds only its own cuts, and a batch's NumPy
temporaries are a few times its text.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.dedup import removals
from dataprep.dedup.hash_groups import repeated_hash_groups
from dataprep.dedup.unit_hashes import unit_hashes
from dataprep.engine.exchange import key_partition
from dataprep.engine.summaries import Summaries
from dataprep.io.state_files import reset_folder
from dataprep.schema import ID, TEXT
from dataprep.text.text_units import cut_units
from dataprep.transform import GlobalTransform, Params, StageOutput, set_columns, split_by_reason


class DedupParagraphsParams(Params):
    unit: Literal["paragraph", "line"] = Field("paragraph", description="what is deduplicated: paragraphs or lines")
    max_count: int | None = Field(None, ge=1, description="cut every occurrence of a unit seen more than this many "
                                  "times (boilerplate), instead of every occurrence after the first")
    min_chars: int = Field(1, ge=0, description="a document left with fewer characters is removed")
    partitions: int | None = Field(None, ge=1, description="partitions for grouping unit hashes (default: one per "
                                   "4M units)")


def _cuts(table: pa.Table, partition: int, max_count: int | None) -> pa.Table:
    """Within one partition of the hash exchange: the (id, unit) occurrences to cut."""
    if not table.num_rows:
        return pa.table({ID: pa.array([], pa.string()), "unit": pa.array([], pa.int64()),
                         "shard": pa.array([], pa.string())})
    groups = repeated_hash_groups(table, [ID, "unit"])
    cut = ~groups.first if max_count is None else groups.sizes() > max_count
    return groups.rows.filter(pa.array(cut)).select([ID, "unit", "shard"])


class DedupParagraphs(GlobalTransform):
    """Cut paragraphs or lines repeated across the run (first occurrence kept, or boilerplate cut)."""

    name = "dedup_paragraphs"
    can_annotate = True
    Params = DedupParagraphsParams

    def summarize(self, batch: pa.Table) -> pa.Table:
        # 128 bits: two 64-bit hashes, as a corpus of billions of lines would meet collisions of one
        h1, h2, docs, index = unit_hashes(batch.column(TEXT), self.params.unit)
        return pa.table({"h1": pa.array(h1, pa.uint64()), "h2": pa.array(h2, pa.uint64()),
                         ID: batch.column(ID).take(pa.array(docs)), "unit": pa.array(index, pa.int64())})

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

    def shard_state(self, state: Any, shard: str) -> pa.Table:
        return removals.load(state, shard, ["unit"])

    def apply(self, batch: pa.Table, state: pa.Table) -> StageOutput:
        texts = batch.column(TEXT).combine_chunks().cast(pa.large_string())
        chars = np.array(pc.utf8_length(texts), dtype=np.int64)  # a copy: touched rows change
        frac = np.ones(batch.num_rows, dtype=np.float32)
        text = texts
        at = pc.index_in(state.column(ID), value_set=batch.column(ID))  # each cut's row in this batch
        mine = np.asarray(pc.is_valid(at), dtype=bool)
        if mine.any():
            rows = np.asarray(at.filter(pa.array(mine)), dtype=np.int64)
            units = np.asarray(state.column("unit").filter(pa.array(mine)), dtype=np.int64)
            touched, rank = np.unique(rows, return_inverse=True)
            after = cut_units(texts.take(pa.array(touched)), rank, units, self.params.unit)
            before, left = chars[touched], np.asarray(pc.utf8_length(after), dtype=np.int64)
            frac[touched] = np.divide(left, before, out=np.ones(len(touched)), where=before > 0)
            chars[touched] = left
            changed = np.zeros(batch.num_rows, dtype=bool)
            changed[touched] = True
            text = pc.replace_with_mask(texts, pa.array(changed), after)
        out = set_columns(batch, {TEXT: text, "para_kept_frac": pa.array(frac)})
        short = chars < self.params.min_chars
        reasons = pc.if_else(pa.array(short), pa.scalar("dedup_paragraphs:too_short"), pa.scalar(None, pa.string()))
        return split_by_reason(out, reasons, removed_source=set_columns(batch, {"para_kept_frac": pa.array(frac)}))
