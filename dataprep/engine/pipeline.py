"""The Python API: a :class:`Pipeline` is a recipe in code, and :meth:`Pipeline.run` is what
``dataprep run`` calls.

A run: check the output folder (:mod:`~dataprep.engine.output_folder`); plan shards from the
input (on the client, from file listings only) and fuse stages into groups
(:mod:`~dataprep.engine.plan`); run the groups' task waves on Dask
(:mod:`~dataprep.engine.run_groups`), which gather only receipts; then, once, sum the receipts
into stats.json, check the ledger (:mod:`~dataprep.engine.ledger`), and write manifest.json
and report.html.  Workers read and write the data.

Resume: ``_run.json`` records the resolved recipe and the shard plan.  A shard is done when
its receipt exists and every file the receipt names is present with the recorded SHA-256;
anything else is recomputed (tasks are deterministic, so the output is byte-identical).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.config.errors import RecipeError
from dataprep.config.recipe import ExecutorSpec, OutputSpec, Recipe, load_recipe, validate_data
from dataprep.engine.errors import RunError
from dataprep.engine.executor import dask_client
from dataprep.engine.ledger import LedgerError, check_ledger
from dataprep.engine.manifest import build_manifest, hash_inputs
from dataprep.engine.output_folder import OutputError, OutputExistsError, OutputFolder, fingerprint
from dataprep.engine.plan import plan_groups
from dataprep.engine.progress import Progress, QuietProgress
from dataprep.engine.receipt import Receipt
from dataprep.engine.run_groups import RunPlan, run_groups
from dataprep.engine.run_lock import OutputLockedError, RunLock
from dataprep.engine.stats import aggregate, output_columns
from dataprep.io.inputs import InputSpec, input_reads_output, plan_shards
from dataprep.io.layout import DATA, MANIFEST_FILE, STATS_FILE
from dataprep.transform import Transform


@dataclass
class RunResult:
    output: str
    stats: dict[str, Any]
    skipped_shards: int
    seconds: float

    @property
    def data_path(self) -> str:
        return f"{self.output}/data"


def _coerce_stage(stage: Transform | dict | str) -> Transform:
    if isinstance(stage, Transform):
        return stage
    data = validate_data({"name": "x", "input": {"path": ".", "format": "text"}, "output": {"path": "."},
                          "stages": [stage]}, "<Pipeline stages>", check_inputs=False)
    return data.stages[0]


def _in_mode(stage: Transform, mode: str) -> Transform:
    """``stage`` as ``executor.mode`` runs it: in annotate mode, a copy that annotates, for a
    stage that can and whose own ``annotate`` does not say otherwise."""
    if mode != "annotate" or stage.annotate is not None or not stage.can_annotate:
        return stage
    annotating = copy.copy(stage)
    annotating.annotate = True
    return annotating


def _gather_hashes(client: Any, futures: list, owned: list[list[str]], storage_options: dict) -> list[list]:
    """The input hashes; a hashing task that was queued on a worker a crashing document killed
    (Dask counts it among that worker's victims) is hashed again -- hashing kills no worker."""
    from distributed import KilledWorker

    out = []
    for future, paths in zip(futures, owned):
        try:
            out.append(future.result())
        except KilledWorker:
            out.append(client.submit(hash_inputs, paths, storage_options=storage_options, pure=False).result())
    return out


class Pipeline:
    """Stages applied to an input, written to an output: the recipe, in code.

    ``stages`` mixes Transform instances (built-in or your own) and recipe-form entries
    (``{"langid": {"keep": ["en"]}}``).  Example::

        Pipeline(input={"path": "pages/*.html", "format": "html"}, output="out/run",
                 stages=[Extract(), LangId(keep=["en"]), MyTransform(k=3)]).run(overwrite=True)
    """

    def __init__(self, input: InputSpec | dict, output: str | OutputSpec | dict,
                 stages: Sequence[Transform | dict | str] = (), *, name: str = "pipeline", seed: int = 0,
                 executor: ExecutorSpec | dict | None = None) -> None:
        self.input = input if isinstance(input, InputSpec) else InputSpec(**input)
        if isinstance(output, str):
            output = OutputSpec(path=output)
        self.output = output if isinstance(output, OutputSpec) else OutputSpec(**output)
        self.name = name
        self.seed = seed
        self.executor = executor if isinstance(executor, ExecutorSpec) else ExecutorSpec(**(executor or {}))
        self.stages = [_in_mode(_coerce_stage(s), self.executor.mode) for s in stages]

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> Pipeline:
        return cls(recipe.input, recipe.output, recipe.transforms(), name=recipe.name, seed=recipe.seed,
                   executor=recipe.executor)

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> Pipeline:
        """Load and validate a YAML recipe (with ``--set``-style overrides)."""
        return cls.from_recipe(load_recipe(path, overrides))

    def resolved(self) -> dict[str, Any]:
        return {
            "name": self.name, "seed": self.seed,
            "input": self.input.model_dump(mode="json"), "output": self.output.model_dump(mode="json"),
            "executor": self.executor.model_dump(mode="json"),
            "stages": [s.spec() for s in self.stages],
        }

    # -- running --------------------------------------------------------------------------
    def run(self, *, resume: bool = False, overwrite: bool = False, client: Any = None,
            workers: int | None = None, scheduler: str | None = None, progress: Progress | None = None,
            show_worker_logs: bool = False, force_unlock: bool = False, verify: bool = False) -> RunResult:
        """Run on ``client`` if given, else on the executor of the recipe (a LocalCluster by
        default; ``workers``/``scheduler`` override it).  Raises OutputExistsError,
        OutputLockedError, ExecutorError, RunError or LedgerError.  The run holds the output
        folder's lock from start to end (``force_unlock`` takes one that another run holds).  The
        LocalCluster's workers log to the terminal only with ``show_worker_logs``; a failed run
        saves their logs under ``logs/``.  On ``resume``, a finished file whose size and mtime are
        unchanged is trusted; ``verify`` hashes every one instead."""
        if resume and overwrite:
            raise ValueError("resume and overwrite exclude each other")
        given = {"workers": workers, "scheduler": scheduler}
        executor = self.executor.model_copy(update={k: v for k, v in given.items() if v is not None})
        progress = progress or QuietProgress()
        folder = OutputFolder.at(self.output.path, self.output.storage_options)
        folder.check_is_folder()
        reads_itself = input_reads_output(self.input, self.output.path, self.output.storage_options)
        if reads_itself:
            raise OutputError(f"{reads_itself}: the run would read its own output; choose an output.path outside "
                              "the input")
        existed = folder.fs.exists(folder.root)
        lock = RunLock(folder.fs, folder.root, folder.url)
        try:
            for warning in lock.acquire(force_unlock):
                print(f"warning: {warning}", file=sys.stderr)
        except OSError as exc:
            raise OutputError(f"output.path {self.output.path} is not writable ({exc}): choose another output.path") \
                from exc
        try:
            folder.check(resume, overwrite)
            shards = plan_shards(self.input)
            t0 = time.perf_counter()
            if client is not None:
                stats, skipped = self._execute(client, folder, shards, resume, overwrite, progress, verify)
            else:
                with dask_client(executor, show_worker_logs) as own_client:  # connect (or fail) before any work
                    self._note_dashboard(own_client, executor, progress)
                    stats, skipped = self._execute(own_client, folder, shards, resume, overwrite, progress, verify)
        finally:
            lock.release()
            if not existed:
                folder.remove_if_empty()
        return RunResult(output=self.output.path, stats=stats, skipped_shards=skipped, seconds=time.perf_counter() - t0)

    @staticmethod
    def _note_dashboard(client: Any, executor: ExecutorSpec, progress: Progress) -> None:
        """Print the Dask dashboard address: always for a remote scheduler, for a LocalCluster
        when ``executor.dashboard`` asks for it (it needs bokeh, which is optional)."""
        import importlib.util

        if executor.scheduler == "local" and not executor.dashboard:
            return
        if executor.scheduler == "local" and importlib.util.find_spec("bokeh") is None:
            progress.note("Dask dashboard: not available; install it with `pip install 'bokeh>=3.1'`")
        elif client.dashboard_link:
            progress.note(f"Dask dashboard: {client.dashboard_link}")

    def _execute(self, client: Any, folder: OutputFolder, shards: list, resume: bool, overwrite: bool,
                 progress: Progress, verify: bool = False) -> tuple[dict[str, Any], int]:
        folder.prepare(overwrite)
        folder.claim(fingerprint(self.resolved(), shards), resume)
        # one hashing task per shard, for the input files that start in it (for manifest.json)
        owned = [paths for s in shards if (paths := [p.path for p in s.pieces if p.is_first])]
        hashes = client.map(hash_inputs, owned, storage_options=self.input.storage_options, pure=False, priority=-1)
        plan = RunPlan(plan_groups(self.stages, self.input.format), shards, self.input, folder.fs, folder.root,
                       self.output.storage_options)
        receipts, skipped, walls = run_groups(client, plan, resume, progress, verify)
        inputs = [x for part in _gather_hashes(client, hashes, owned, self.input.storage_options) for x in part]
        return self._write_outcome(folder, receipts, inputs, len(shards), skipped, walls), skipped

    def _write_outcome(self, folder: OutputFolder, receipts: list[Receipt], inputs: list[tuple[str, int, str]],
                       shards: int, skipped: int, walls: list[dict[str, Any]]) -> dict[str, Any]:
        """stats.json (after the ledger check), manifest.json and report.html."""
        stats = aggregate(sorted(receipts, key=lambda r: (r.group, r.shard)), self.stages)
        errors = check_ledger(stats)
        if errors:
            raise LedgerError("the run's counts do not add up:\n  " + "\n  ".join(errors))
        files = stats.pop("_files")
        stats["output"]["columns"] = output_columns(folder.fs, folder.root, sorted(p for p in files
                                                                                   if p.startswith(f"{DATA}/")))
        isolated = sum(sum(s["quarantined"].values()) for s in stats["stages"])
        stats["run"] = {"name": self.name, "shards": shards, "resumed_shards": skipped,
                        "crashing_documents_isolated": isolated}
        stats["groups"] = walls
        stats["timing"] = ("stages[].seconds: the stage's time summed over every shard task (on one-thread workers, "
                           "its CPU time, extraction's child process included); stages[].seconds_per_mb: that per "
                           "MB of text the stage read; groups[].wall_seconds: wall time of each barrier-separated "
                           "group of stages, from its resume check to its last task")
        folder.write_json(STATS_FILE, stats)
        folder.write_json(MANIFEST_FILE, build_manifest(self.resolved(), inputs, receipts, shards))
        if folder.local:
            _write_report(folder.root)
        return stats


def _write_report(root: str) -> None:
    """``report.html`` for outputs on a local file system (``dataprep report`` rebuilds it).

    The report reads what the run wrote; a failure to draw it is reported, never a failed run."""
    from dataprep.report.html import build_report
    try:
        build_report(root)
    except Exception as exc:  # noqa: BLE001 - the data is complete; say what went wrong and go on
        print(f"warning: report.html not written: {type(exc).__name__}: {exc} (try `dataprep report {root}`)",
              file=sys.stderr)


def run_recipe(path: str | Path, overrides: list[str] | None = None, **kwargs: Any) -> RunResult:
    """Load, validate and run a YAML recipe: the Python twin of ``dataprep run``."""
    return Pipeline.load(path, overrides).run(**kwargs)


__all__ = ["Pipeline", "RunResult", "run_recipe", "OutputError", "OutputExistsError", "OutputLockedError", "RunError",
           "LedgerError", "RecipeError"]
