"""Annotate-only stages: what a stage would remove is marked on the document, which stays.

A stage runs as it always does; when it annotates (``annotate: true``, or ``executor.mode:
annotate`` for the stages that can), its removed rows -- with every score it computed, and
``duplicate_of`` for the dedups -- go back among the kept ones, in the order the batch came in,
and gain:

* ``would_remove``: the reason of the first annotating stage that would have removed the
  document (null when none would have), as a normal run's ``removed/`` would show it;
* ``would_remove_all``: every annotating stage's reason, in stage order.

The next barrier summarises only documents with a null ``would_remove`` (what a normal run would
still have), so a dedup never removes a document for duplicating one an earlier filter would have
removed, and ``would_remove`` of an annotate run equals the reasons of a normal run.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.transform import StageOutput, set_columns

WOULD_REMOVE = "would_remove"
WOULD_REMOVE_ALL = "would_remove_all"
_ROW = "__dataprep_row__"  # the batch order, while an annotating stage runs


def prepare(docs: pa.Table) -> pa.Table:
    """``docs`` with the annotation columns (empty for documents that have none yet) and the row order."""
    columns: dict[str, pa.Array] = {_ROW: pa.array(np.arange(docs.num_rows, dtype=np.int64))}
    if WOULD_REMOVE not in docs.schema.names:
        columns[WOULD_REMOVE] = pa.nulls(docs.num_rows, pa.string())
    if WOULD_REMOVE_ALL not in docs.schema.names:
        columns[WOULD_REMOVE_ALL] = pa.array([[]] * docs.num_rows, pa.list_(pa.string()))
    return set_columns(docs, columns)


def _appended(lists: pa.Array, values: pa.Array) -> pa.ListArray:
    """Each list of ``lists`` with the value of its row of ``values`` appended."""
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    flat = lists.flatten()
    new_offsets = np.concatenate([[0], np.cumsum(lengths + 1)])
    source = np.empty(int(new_offsets[-1]), dtype=np.int64)
    last = new_offsets[1:] - 1
    source[last] = len(flat) + np.arange(len(values))
    others = np.ones(len(source), dtype=bool)
    others[last] = False
    source[others] = np.arange(len(flat))
    items = pa.concat_arrays([flat.cast(pa.string()), values.cast(pa.string())]).take(pa.array(source))
    return pa.ListArray.from_arrays(pa.array(new_offsets.astype(np.int32)), items)


def fold(out: StageOutput, stage: str) -> tuple[StageOutput, pa.Array | None, pa.Array | None]:
    """The stage's output with its removals folded back into ``kept`` (annotated, in batch
    order, without the row column); also the reasons of the removals, and of those that are a
    document's first."""
    removed = out.removed
    if removed is None or not removed.num_rows:
        return StageOutput(kept=out.kept.drop_columns([_ROW]), counters=out.counters, extra=out.extra), None, None
    missing = [c for c in (_ROW, WOULD_REMOVE, WOULD_REMOVE_ALL) if c not in removed.schema.names]
    if missing:
        raise ValueError(f"{stage}: its removed rows lack the columns {missing} (a stage must keep the columns "
                         "it does not own, also in removed_source)")
    reasons = removed.column("reason").combine_chunks()
    before = removed.column(WOULD_REMOVE).combine_chunks()
    lists = removed.column(WOULD_REMOVE_ALL).combine_chunks()
    removed = set_columns(removed.drop_columns(["reason"]), {
        WOULD_REMOVE: pc.if_else(pc.is_null(before), reasons, before),
        WOULD_REMOVE_ALL: _appended(lists, reasons),
    })
    kept = out.kept
    merged = pa.concat_tables([kept, removed], promote_options="permissive")
    merged = merged.take(pc.sort_indices(merged.column(_ROW))).drop_columns([_ROW])
    return StageOutput(kept=merged, counters=out.counters, extra=out.extra), reasons, reasons.filter(pc.is_null(before))


def alive(docs: pa.Table) -> pa.Table:
    """The documents no annotating stage would have removed (all of them, in a normal run)."""
    if WOULD_REMOVE not in docs.schema.names:
        return docs
    return docs.filter(pc.is_null(docs.column(WOULD_REMOVE)))
