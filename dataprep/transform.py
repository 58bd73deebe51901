"""The transform API: what a stage is, for built-ins and users alike.

A stage maps a batch of documents (a ``pyarrow.Table`` with the columns of DESIGN §4) to a
:class:`StageOutput`: the documents it keeps, and the ones it removes, each with a reason.
Four ways to write one, from the most general to the simplest:

* :class:`Transform` -- override :meth:`Transform.process` (batch in, kept + removed out).
* :class:`Map` -- override :meth:`Map.map`: same rows out, columns added or rewritten.
* :class:`Filter` -- override :meth:`Filter.score` (typed columns that are stored with every
  document, kept or removed) and :meth:`Filter.keep` (a boolean mask, or a reason per row).
* :func:`document_transform` -- decorate a plain ``fn(doc: dict, **params)`` that returns a
  dict of column updates, ``None`` (unchanged) or :class:`Drop` ``("reason")``.

Parameters are declared as a pydantic model named ``Params`` on the class (unknown keys are
errors); the recipe validates them before any work.  Heavy state (models) is loaded in
:meth:`Transform.setup`, which the executor calls once per worker process, not once per task.

A :class:`GlobalTransform` is a barrier: it sees every shard before it processes any (see
its docstring); the planner splits the fused per-shard work around it.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, create_model

if TYPE_CHECKING:  # the engine hands barriers their summaries; the contract only names the type
    import fsspec

    from dataprep.engine.summaries import Summaries


class Params(BaseModel):
    """Base of every stage's parameters: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class StageOutput:
    """What a stage returns for one batch.

    ``removed`` holds the removed rows with every column they had (scores included) plus a
    string column ``reason``; ``counters`` are extra named counts summed into stats.json.
    """

    kept: pa.Table
    removed: pa.Table | None = None
    counters: dict[str, int] = field(default_factory=dict)
    #: side data for the stage's own :class:`ShardSink` (e.g. token ids), never written to data/
    extra: dict[str, Any] = field(default_factory=dict)


class ShardSink(Protocol):
    """Extra per-shard files a stage writes itself (e.g. token shards).  The executor opens
    one per shard task, feeds it every batch's output, and records the files ``close`` returns
    (relative to the run's folder, with rows, bytes and SHA-256) in the shard's receipt, so
    resume and corruption checks cover them like any other output."""

    def write(self, output: StageOutput) -> None: ...
    def close(self) -> list[Any]: ...
    def abort(self) -> None: ...


class MissingRequirementError(ImportError):
    """A stage needs a Python module that is not installed; the message names the pip extra."""


class AnnotateError(ValueError):
    """A stage's ``annotate`` setting is not a boolean, or the stage cannot annotate."""


class Transform:
    """Base class of every stage: a batch (``pyarrow.Table``) in, a :class:`StageOutput` out.

    Contract for subclasses:

    * ``process`` must accept an empty batch (the executor derives output schemas from it);
    * it must not drop columns it does not own, and every input row ends up either in
      ``kept`` or in ``removed`` with a reason (the run's ledger checks this);
    * it must be deterministic: the same batch gives the same output.
    """

    Params: ClassVar[type[Params]] = Params
    #: the built-in stage name, or None for user transforms (named by ``module:Class``)
    name: ClassVar[str | None] = None
    #: True for stages that need every shard before processing any (see GlobalTransform)
    barrier: ClassVar[bool] = False
    #: modules the stage imports in ``setup`` that a base install may lack, each with the pip
    #: extra that installs it: checked when the stage is configured, before any work
    requires: ClassVar[dict[str, str]] = {}
    #: whether an annotate-only run may turn the stage's removals into annotations
    #: (``would_remove``): true for filters and dedups, false for stages whose removals are
    #: not a judgement of quality (extraction that found no text, tokenization)
    can_annotate: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        annotate = params.pop("annotate", None)
        if annotate is not None and not isinstance(annotate, bool):
            raise AnnotateError(f"must be true or false, got {annotate!r}")
        if annotate and not self.can_annotate:
            raise AnnotateError(f"the {self.stage_name()} stage cannot annotate instead of removing (only filters and "
                             "dedups can); remove 'annotate: true'")
        #: True: removals become annotations (``would_remove``); None: as ``executor.mode`` says
        self.annotate: bool | None = annotate
        self.params = self.Params(**params)
        self._ready = False
        for module, extra in self.requires.items():
            if importlib.util.find_spec(module) is None:
                raise MissingRequirementError(
                    f"the {self.stage_name()} stage needs the Python module {module!r}, which is not installed: "
                    f"pip install 'dataprep[{extra}]'")

    # -- identity ---------------------------------------------------------------------
    @classmethod
    def stage_name(cls) -> str:
        """The name used in recipes, stats and output folders."""
        return cls.name or f"{cls.__module__}:{cls.__qualname__}"

    def spec(self) -> dict[str, Any]:
        """The recipe form of this stage: ``{name: params}`` (used in manifest.json)."""
        params = self.params.model_dump(mode="json")
        if self.annotate is not None:
            params["annotate"] = self.annotate
        return {self.stage_name(): params}

    def cache_key(self) -> str:
        """Identifies a configured stage, for the once-per-worker cache of loaded models."""
        return json.dumps([self.spec(), getattr(self, "run_state", None)], sort_keys=True, default=str)

    def slug(self) -> str:
        """A file-system-safe short name, used for ``removed/<NN-slug>``."""
        short = self.stage_name().split(":")[-1].split(".")[-1]
        return "".join(c if c.isalnum() or c in "-_" else "-" for c in short).lower()

    # -- lifecycle --------------------------------------------------------------------
    def prepare_run(self, workdir: str, storage_options: dict) -> Any:
        """Once per run, on a worker, before any shard of this stage is processed: build what
        every worker then loads in :meth:`setup` (e.g. an index of reference data), as files
        under ``workdir``; return a small picklable description of them, which the stage then
        carries as ``self.run_state`` to every task.  It runs again on resume, so it must be
        deterministic.  Default: nothing to prepare."""
        return None

    def setup(self) -> None:
        """Load models or other heavy state. Called once per worker process before use."""

    def ensure_setup(self) -> Transform:
        """Call :meth:`setup` once; remember which attributes it created."""
        if not self._ready:
            before = set(self.__dict__)
            self.setup()
            self._setup_attrs = set(self.__dict__) - before
            self._ready = True
        return self

    def __getstate__(self) -> dict[str, Any]:
        # Ship configuration, never what setup() loaded: each worker calls setup() itself.
        skip = getattr(self, "_setup_attrs", set()) | {"_setup_attrs"}
        state = {k: v for k, v in self.__dict__.items() if k not in skip}
        state["_ready"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # -- processing -------------------------------------------------------------------
    def process(self, batch: pa.Table) -> StageOutput:
        raise NotImplementedError(f"{type(self).__name__} must implement process()")

    def open_sink(self, fs: fsspec.AbstractFileSystem, root: str, shard: str, state: Any = None) -> ShardSink | None:
        """A sink for extra per-shard files under ``root`` (the run's folder), or None (the
        default: data/ only).  ``state`` is what :meth:`GlobalTransform.shard_state` gave this
        shard (None for a per-shard stage)."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({args})"


class Map(Transform):
    """A transform that keeps every row: override :meth:`map`."""

    def map(self, batch: pa.Table) -> pa.Table:
        raise NotImplementedError

    def process(self, batch: pa.Table) -> StageOutput:
        out = self.map(batch)
        if out.num_rows != batch.num_rows:
            raise ValueError(f"{self.stage_name()}: map() returned {out.num_rows} rows for {batch.num_rows}; "
                             "a Map must keep every row (use a Filter to remove documents)")
        return StageOutput(kept=out)


class Filter(Transform):
    """A transform that scores documents and keeps some.

    :meth:`score` returns typed columns (name -> array, one value per row) that are added to
    (or replace) the batch; they are stored with kept and removed documents alike.
    :meth:`keep` sees the scored batch and returns either a boolean array (True keeps; a
    removal's reason is :attr:`reason`) or a string array (null keeps; the string is the
    removal's reason).
    """

    #: the reason recorded when keep() returns a boolean mask; defaults to the stage name
    reason: ClassVar[str | None] = None
    can_annotate: ClassVar[bool] = True

    def score(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {}

    def keep(self, scored: pa.Table) -> pa.Array:
        raise NotImplementedError

    def process(self, batch: pa.Table) -> StageOutput:
        scored = set_columns(batch, self.score(batch))
        decision = self.keep(scored)
        if isinstance(decision, pa.ChunkedArray):
            decision = decision.combine_chunks()
        if pa.types.is_boolean(decision.type):
            mask = pc.fill_null(decision, False)
            reasons = pc.if_else(mask, pa.scalar(None, pa.string()), pa.scalar(self.reason or self.stage_name()))
        elif pa.types.is_string(decision.type) or pa.types.is_large_string(decision.type):
            reasons = decision.cast(pa.string())
        else:
            raise TypeError(f"{self.stage_name()}: keep() must return a boolean or string array, got {decision.type}")
        return split_by_reason(scored, reasons)


def set_columns(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    """Add or replace columns, keeping the position of the ones replaced."""
    for name, values in columns.items():
        if not isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = pa.array(values)
        if name in table.schema.names:
            i = table.schema.get_field_index(name)
            table = table.set_column(i, pa.field(name, values.type), values)
        else:
            table = table.append_column(pa.field(name, values.type), values)
    return table


def split_by_reason(table: pa.Table, reasons: pa.Array, removed_source: pa.Table | None = None) -> StageOutput:
    """Split ``table`` where ``reasons`` is null (kept) or a string (removed, with that reason).

    ``removed_source``, when given, supplies the rows stored for removed documents (for a
    stage that wants to keep the input as it was, e.g. extraction keeping the raw HTML).
    """
    if len(reasons) != table.num_rows:
        raise ValueError(f"{len(reasons)} decisions for {table.num_rows} rows")
    removed_mask = pc.is_valid(reasons)
    if not pc.any(removed_mask).as_py():
        return StageOutput(kept=table)  # nothing removed: no copy
    kept = table.filter(pc.invert(removed_mask))
    source = table if removed_source is None else removed_source
    removed = source.filter(removed_mask)
    removed = set_columns(removed, {"reason": reasons.filter(removed_mask)})
    return StageOutput(kept=kept, removed=removed)


class GlobalTransform(Transform):
    """A barrier stage: it needs a view of every shard before it processes any.

    The executor runs it in three steps, all on the Dask workers:

    1. :meth:`summarize` on every batch of every shard (fused into the task that produced the
       shard, so there is no extra pass); the summaries are written as Parquet, one file per
       shard, with a ``shard`` column added;
    2. :meth:`combine` once, on a worker, given the :class:`Summaries`; it returns a state,
       small or a reference to files it wrote under ``summaries.workdir``. It may run Dask
       tasks itself (``distributed.worker_client``, e.g. :meth:`Summaries.exchange`) to stay
       scalable;
    3. :meth:`shard_state` once per shard task, then :meth:`apply` on every batch of that
       shard (fused with the per-shard stages that follow).

    The state is recomputed from the summaries when a run resumes; it is never unpickled
    from disk.
    """

    barrier: ClassVar[bool] = True
    #: True for a stage that moves documents between shards: its ``combine`` writes one new
    #: shard per input shard and returns their full paths, in shard order; the stages after
    #: it (and its own ``apply``) then run on those shards
    repartition: ClassVar[bool] = False

    def summarize(self, batch: pa.Table) -> pa.Table:
        raise NotImplementedError

    def reads_documents(self) -> bool:
        """Whether :meth:`combine` reads the documents themselves (``Summaries.inputs``).  A
        first stage that does not lets the run read a cheap input (JSONL, Parquet, text) twice
        instead of writing a copy of it.  Default: True."""
        return True

    def combine(self, summaries: Summaries) -> Any:
        raise NotImplementedError

    def shard_state(self, state: Any, shard: str) -> Any:
        """The part of ``state`` one shard needs (default: all of it)."""
        return state

    def apply(self, batch: pa.Table, state: Any) -> StageOutput:
        raise NotImplementedError

    def process(self, batch: pa.Table) -> StageOutput:  # pragma: no cover - guarded
        raise RuntimeError(f"{self.stage_name()} is a barrier stage; the executor calls apply(batch, state)")


# -- plain functions as transforms --------------------------------------------------------


@dataclass(frozen=True)
class Drop:
    """Returned by a :func:`document_transform` function to remove the document."""

    reason: str


def document_transform(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    columns: dict[str, pa.DataType] | None = None,
) -> Any:
    """Turn ``fn(doc: dict, **params)`` into a :class:`Transform` class.

    ``doc`` is the document as a dict of its columns.  ``fn`` returns a dict of columns to
    set (new columns are added, existing ones replaced), ``None`` to keep it unchanged, or
    ``Drop("reason")`` to remove it.  The keyword parameters of ``fn`` (with their type hints
    and defaults) become the stage's validated ``Params``.  Refer to the decorated function
    from a recipe as ``module:function``.  ``columns`` declares the Arrow types of the
    columns ``fn`` adds, so every shard gets the same schema even when a batch is empty or
    all-null (undeclared new columns are inferred from the values).

    This runs ``fn`` once per document in Python: fine for light logic; write a
    :class:`Map` or :class:`Filter` over whole Arrow columns for hot paths.
    """

    def wrap(func: Callable[..., Any]) -> type[Transform]:
        sig = inspect.signature(func)
        hints = getattr(func, "__annotations__", {})
        fields: dict[str, Any] = {}
        for i, (pname, p) in enumerate(sig.parameters.items()):
            if i == 0:
                continue  # the document
            annotation = hints.get(pname, Any)
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[pname] = (annotation, default)
        model = create_model(f"{func.__name__}_Params", __base__=Params, **fields)

        def process(self: Transform, batch: pa.Table) -> StageOutput:
            kwargs = self.params.model_dump()
            rows = batch.to_pylist()
            updates: dict[str, list[Any]] = {}
            reasons: list[str | None] = []
            for i, row in enumerate(rows):
                result = func(row, **kwargs)
                reasons.append(result.reason if isinstance(result, Drop) else None)
                if isinstance(result, dict):
                    for col, value in result.items():
                        updates.setdefault(col, [None] * len(rows))[i] = value
            declared = dict(columns or {})
            for col in declared:
                updates.setdefault(col, [None] * len(rows))
            new_columns = {}
            for col, values in updates.items():
                if col in batch.schema.names:
                    current = batch.column(col).to_pylist()
                    merged = [v if v is not None else c for v, c in zip(values, current)]
                    new_columns[col] = pa.array(merged, type=batch.schema.field(col).type)
                else:
                    new_columns[col] = pa.array(values, type=declared.get(col))
            out = set_columns(batch, new_columns)
            return split_by_reason(out, pa.array(reasons, type=pa.string()))

        cls = type(func.__name__, (Transform,), {
            "Params": model,
            "process": process,
            "__module__": func.__module__,
            "__qualname__": func.__qualname__,
            "__doc__": func.__doc__,
            "name": name,
            "function": staticmethod(func),
        })
        return cls

    return wrap(fn) if fn is not None else wrap
