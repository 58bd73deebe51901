"""Which members of a group of duplicates go: the ``keep`` and ``against`` settings of the dedups.

A group (identical texts, a near-duplicate cluster) has a representative, its smallest id.

* ``keep: one`` (default): the representative stays, every other member is removed with
  ``duplicate_of`` the representative;
* ``keep: none``: every member of a group of two or more is removed (e.g. templated pages, of
  which no copy is wanted); ``duplicate_of`` is the representative, itself for the representative;
* ``against: PATH``: a reference dataset takes part in the grouping (:mod:`dataprep.dedup.reference`)
  but is never removed from; its ids sort first, so a group with a reference member has one as its
  representative, and every member of the run is removed with reason ``<stage>:in_reference`` and
  ``duplicate_of`` the reference document's id.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.dedup.reference import is_reference, strip
from dataprep.engine.summaries import Summaries
from dataprep.io.inputs import InputSpec
from dataprep.transform import Params

Keep = Literal["one", "none"]


class DedupPolicyParams(Params):
    keep: Keep = Field("one", description="one: keep the smallest id of each group of duplicates; none: remove "
                       "every member of a group")
    against: str | InputSpec | None = Field(
        None, description="a reference dataset (a dataprep output folder, Parquet files of id and text, or an input "
        "spec): documents duplicating it are removed as in_reference, and nothing is removed from it")


def decide(ids: pa.Array, reps: pa.Array, multi: np.ndarray, keep: Keep, duplicate: str,
           in_reference: str) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """For members ``ids`` of groups of representatives ``reps`` (``multi``: whether the group has
    two members or more): ``duplicate_of`` and ``reason`` (null for those that stay) of each, and
    which rows are the run's own (not the reference's)."""
    own = ~np.asarray(is_reference(ids), dtype=bool)
    is_rep = np.asarray(pc.equal(ids, reps), dtype=bool)
    remove = (~is_rep if keep == "one" else multi) & own
    rep_is_reference = np.asarray(is_reference(reps), dtype=bool)
    reasons = np.where(remove, np.where(rep_is_reference, in_reference, duplicate), None)
    duplicate_of = pc.if_else(pa.array(remove), strip(reps), pa.scalar(None, pa.string()))
    return duplicate_of, pa.array(reasons.tolist(), pa.string()), own


def with_reference(summaries: Summaries, run_state: dict[str, Any] | None) -> Summaries:
    """The summaries of the run, and of the reference when the stage has one."""
    if not run_state or not run_state.get("reference"):
        return summaries
    return replace(summaries, paths=[*summaries.paths, *run_state["reference"]])
