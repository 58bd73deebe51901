"""The ``dataprep`` command: a thin layer over the Python API.

Exit codes: 0 success; 2 a usage or recipe error (bad key, unreachable scheduler, output
already there), with a message that names the file, the key and the fix; 1 a run failure.
Tracebacks are shown only with ``--debug``.
"""

from __future__ import annotations

import atexit
import gc

# Start-up and shut-down of a short command are mostly the interpreter's: the imports below
# (and Dask's, later) create ~80k GC-tracked objects that live until exit; the cyclic GC
# scanned them ~120 times while importing (45 ms) and its collections at interpreter exit took
# 150 ms more (after atexit, for nothing: the run's files are closed by then).  So: no
# collection while importing, the imported objects frozen out of later collections, and
# everything frozen at exit (registered before the imports, this runs after their handlers).
_GC_WAS_ON = gc.isenabled()
gc.disable()
atexit.register(gc.freeze)

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

from dataprep.config.errors import ConfigError
from dataprep.config.recipe import load_recipe
from dataprep.engine.errors import RunError
from dataprep.engine.executor import ExecutorError
from dataprep.engine.ledger import LedgerError
from dataprep.engine.output_folder import OutputError
from dataprep.engine.pipeline import Pipeline
from dataprep.io.inputs import InputError

gc.freeze()
if _GC_WAS_ON:
    gc.enable()

USAGE_ERRORS = (ConfigError, OutputError, ExecutorError, InputError)


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived: unwind (closing the cluster, releasing the lock) and stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def _in_finalizer(frame: Any) -> bool:
    """Whether ``frame`` runs (inside) a ``__del__`` or a weakref finalizer, where Python ignores
    exceptions (a garbage-collected Dask future releases itself that way)."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or (code.co_name == "__call__" and code.co_filename.endswith("weakref.py")):
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGTERM (what SLURM and Kubernetes send) or SIGINT (Ctrl-C) into
    :class:`Interrupted`, raised in the main thread, so that the cluster we started shuts its
    workers down and the run's lock is released; a later signal while stopping is ignored."""
    def stop(signum: int, frame: object) -> None:
        if _in_finalizer(frame):  # an exception raised there would be printed and ignored: try again shortly
            threading.Timer(0.05, signal.raise_signal, args=(signum,)).start()
            return
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        raise exc
    code = 2 if isinstance(exc, USAGE_ERRORS) else 1
    prefix = "error" if code == 2 else "run failed"
    click.echo(f"{prefix}: {exc}", err=True)
    if code == 1:
        click.echo("(run again with --debug for the traceback)", err=True)
    sys.exit(code)


def _user_modules_importable(recipe: str) -> None:
    # `module:Class` stages of the user's own are looked up beside the recipe and in the current
    # directory.  They go at the *end* of the path, after the installed packages: a folder that
    # holds a source checkout (whose `dataprep/` lacks the mapped `cli` and `transforms`) must not
    # shadow the installed dataprep.  LocalCluster workers inherit this process's sys.path.
    for folder in (os.path.dirname(os.path.abspath(recipe)), os.getcwd()):
        if folder not in sys.path:
            sys.path.append(folder)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dataprep")
def main() -> None:
    """dataprep: raw web data to training-ready token streams, on Dask over Parquet.

    \b
    Examples:
      dataprep validate recipes/quickstart.yaml
      dataprep run recipes/quickstart.yaml --overwrite
      dataprep run recipes/quickstart.yaml --set stages.1.langid.min_score=0.5 --workers 4
      dataprep inspect out/quickstart
      dataprep report out/quickstart
      dataprep run recipes/web_to_tokens.yaml --overwrite && dataprep train recipes/train_tiny.yaml --nproc 2
      dataprep simulate --schedule zb-h1 --stages 4 --microbatches 8 --plot zb-h1.png
    """


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="override a recipe value, e.g. --set stages.1.langid.min_score=0.5 (repeatable)")
@click.option("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
@click.option("--workers", type=click.IntRange(min=1), help="workers of the local cluster (overrides executor.workers)")
@click.option("--resume", is_flag=True, help="continue an interrupted run in the same output folder")
@click.option("--verify", is_flag=True, help="with --resume: hash every finished file (default: only those whose "
              "size or modification time changed)")
@click.option("--overwrite", is_flag=True, help="delete the previous run in the output folder first")
@click.option("--force-unlock", is_flag=True,
              help="take the output folder's lock even if another run holds it (when that run is known to be gone)")
@click.option("--quiet", is_flag=True, help="no progress bar or progress lines")
@click.option("--progress-every", type=click.FloatRange(min=0.1), default=30.0, show_default=True, metavar="SECONDS",
              help="when stderr is not a terminal (nohup, SLURM, Kubernetes): a progress line this often")
@click.option("--debug", is_flag=True, help="show tracebacks")
def run(recipe: str, overrides: tuple[str, ...], scheduler: str | None, workers: int | None,
        resume: bool, verify: bool, overwrite: bool, force_unlock: bool, quiet: bool, progress_every: float,
        debug: bool) -> None:
    """Run RECIPE (YAML) and write its output folder.

    \b
    Examples:
      dataprep run recipes/quickstart.yaml
      dataprep run recipes/quickstart.yaml --resume
      dataprep run recipes/quickstart.yaml --scheduler tcp://127.0.0.1:8786
    """
    from dataprep.engine.progress import default_progress

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    if verify and not resume:
        raise click.UsageError("--verify checks what --resume reuses: give both")
    _user_modules_importable(recipe)
    extra = list(overrides)
    if scheduler:
        extra.append(f"executor.scheduler={scheduler}")
    if workers:
        extra.append(f"executor.workers={workers}")
    progress = None
    try:
        pipeline = Pipeline.from_recipe(load_recipe(recipe, extra))
        progress = default_progress(quiet, progress_every)
        with stop_on_signals():
            result = pipeline.run(resume=resume, overwrite=overwrite, progress=progress, show_worker_logs=debug,
                                  force_unlock=force_unlock, verify=verify)
    except Interrupted as stop:
        if progress is not None:
            progress.stop()
        click.echo(f"interrupted by {stop.name}: the run stopped; continue it with "
                   f"`dataprep run {recipe} --resume`", err=True)
        sys.exit(128 + stop.signum)
    except (*USAGE_ERRORS, RunError, LedgerError, OSError) as exc:
        if progress is not None:
            progress.stop()
        _fail(exc, debug)
        return
    stats = result.stats
    removed = sum(sum(s["removed"].values()) for s in stats["stages"])
    isolated = stats["run"].get("crashing_documents_isolated", 0)
    quarantined = sum(stats["input"]["quarantined"].values()) + isolated
    out = os.path.abspath(result.output) if "://" not in result.output else result.output
    click.echo(f"{pipeline.name}: {stats['input']['inputs']} inputs -> {stats['output']['docs']} documents kept, "
               f"{removed} removed, {quarantined} quarantined"
               + (f" ({isolated} isolated for crashing workers)" if isolated else "")
               + f" in {result.seconds:.1f}s"
               + (f" ({result.skipped_shards} shards resumed)" if result.skipped_shards else ""))
    report = f", report: {out}/report.html" if os.path.exists(os.path.join(out, "report.html")) else ""
    click.echo(f"output: {out}/data  (stats: {out}/stats.json{report})")


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a recipe value (repeatable)")
@click.option("--debug", is_flag=True, help="show tracebacks")
def validate(recipe: str, overrides: tuple[str, ...], debug: bool) -> None:
    """Check RECIPE without running it: keys, types, stage names and parameters, inputs.

    A training config (a file with `steps:` and no `stages:`) is checked as one.

    \b
    Examples:
      dataprep validate recipes/quickstart.yaml --set stages.1.langid.min_score=0.5
      dataprep validate recipes/train_tiny.yaml
    """
    if _is_training_config(recipe):
        from dataprep.cli.train_commands import require_train_extra

        require_train_extra("a training config")
        from dataprep.train.config import load_train_config
        try:
            cfg = load_train_config(recipe, list(overrides))
        except ConfigError as exc:
            _fail(exc, debug)
            return
        pp = cfg.parallel.pp if cfg.parallel.pp is not None else "--nproc/dp"
        click.echo(f"{recipe}: ok -- training config {cfg.name}: {cfg.steps} steps, schedule {cfg.pipeline.schedule}, "
                   f"pp {pp} x dp {cfg.parallel.dp}, {cfg.precision}")
        return
    _user_modules_importable(recipe)
    try:
        parsed = load_recipe(recipe, list(overrides))
    except USAGE_ERRORS as exc:
        _fail(exc, debug)
        return
    names = ", ".join(t.stage_name() for t in parsed.transforms()) or "(no stages)"
    click.echo(f"{recipe}: ok -- {parsed.name}: {parsed.input.format} input, stages: {names}")


def _is_training_config(path: str) -> bool:
    import yaml
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # load_recipe reports it
    return isinstance(data, dict) and "steps" in data and "stages" not in data


def _short(value: Any, width: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


@main.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--samples", default=3, show_default=True, type=click.IntRange(min=0),
              help="sample documents per stage and reason")
@click.option("--max-rows", default=100_000, show_default=True, type=click.IntRange(min=1),
              help="rows read per folder for the distributions")
@click.option("--debug", is_flag=True, help="show tracebacks")
def report(out: str, samples: int, max_rows: int, debug: bool) -> None:
    """Rebuild OUT/report.html for a finished run (every run writes one).

    \b
    A self-contained page: the funnel per stage, removals by reason, time per stage,
    distributions (length, language, perplexity, quality scores), near-duplicate cluster
    sizes and sample documents kept and removed at every stage.

    \b
    Example:
      dataprep report out/quickstart && xdg-open out/quickstart/report.html
    """
    from dataprep.report.html import build_report

    if not os.path.exists(os.path.join(out, "stats.json")):
        click.echo(f"error: {out} has no stats.json: is it the output folder of a finished run?", err=True)
        sys.exit(2)
    try:
        path = build_report(out, samples=samples, max_rows=max_rows)
    except Exception as exc:  # noqa: BLE001 - one line (or --debug's traceback), whatever went wrong
        _fail(exc, debug)
        return
    click.echo(f"report: {path}")


@main.command()
@click.argument("path")
@click.option("--samples", default=3, show_default=True, help="sample documents to show")
@click.option("--debug", is_flag=True, help="show tracebacks")
def inspect(path: str, samples: int, debug: bool) -> None:
    """Show counts, schema and samples of a run folder or a Parquet dataset.

    \b
    Examples:
      dataprep inspect out/quickstart
      dataprep inspect out/quickstart/removed/00-extract
    """
    from rich.console import Console
    from rich.table import Table

    from dataprep.report.inspection import describe_dataset, describe_run

    console = Console()
    try:
        run_info = describe_run(path)
        data = run_info["data"] if run_info else describe_dataset(path, samples)
        if run_info and data:
            data = describe_dataset(f"{path}/data", samples)
    except (OSError, ValueError) as exc:
        _fail(exc, debug)
        return
    if run_info:
        stats = run_info["stats"]
        table = Table(title=f"run {path}")
        for col in ("stage", "docs in", "docs out", "removed (by reason)", "seconds"):
            table.add_column(col)
        inp = stats["input"]
        table.add_row("read", str(inp["inputs"]), str(inp["docs"]),
                      ", ".join(f"{k}: {v}" for k, v in inp["quarantined"].items()) or "-", f"{inp['seconds']:.2f}")
        for s in stats["stages"]:
            table.add_row(f"{s['index']:02d} {s['stage']}", str(s["docs_in"]), str(s["docs_out"]),
                          ", ".join(f"{k}: {v}" for k, v in s["removed"].items()) or "-", f"{s['seconds']:.2f}")
        console.print(table)
        console.print(f"removed rows: {run_info['removed']}   quarantined rows: {run_info['quarantine']}")
    if data is None:
        console.print("no data/ folder")
        return
    console.print(f"[bold]{data['path']}[/bold]: {data['rows']} rows in {data['files']} files")
    if data["schema"] is not None:
        console.print("schema:")
        for field in data["schema"]:
            console.print(f"  {field.name}: {field.type}")
    for i, row in enumerate(data["samples"]):
        console.print(f"[bold]sample {i}[/bold]")
        for k, v in row.items():
            console.print(f"  {k}: {_short(v)}", markup=False)


def _input_texts(paths: tuple[str, ...], fmt: str | None, field: str) -> Iterator[str]:
    """Texts of documents read with dataprep's own readers (any input format)."""
    from dataprep.io.inputs import InputSpec, plan_shards
    from dataprep.io.readers import read_shard

    if fmt is None:
        first = paths[0]
        by_extension = (("parquet", (".parquet",)), ("jsonl", (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz")))
        fmt = next((f for f, exts in by_extension
                    if first.endswith(exts)), "text")
    spec = InputSpec(path=list(paths), format=fmt, text_field=field, unit="line" if fmt == "text" else "file")
    for shard in plan_shards(spec):
        for batch in read_shard(shard, spec):
            yield from batch.docs.column("text").to_pylist()


@main.group()
def lm() -> None:
    """N-gram language models for the perplexity stage."""


@lm.command("train")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="the ARPA file to write")
@click.option("--order", default=3, show_default=True, type=click.IntRange(1, 6), help="n-gram order")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl", "parquet"]),
              help="input format (default: from the extension)")
@click.option("--text-field", default="text", show_default=True, help="jsonl/parquet: field holding the text")
@click.option("--debug", is_flag=True, help="show tracebacks")
def lm_train(inputs: tuple[str, ...], output: str, order: int, fmt: str | None, text_field: str, debug: bool) -> None:
    """Train a KenLM-compatible ARPA model (modified Kneser-Ney) from reference text.

    \b
    Examples:
      dataprep lm train wiki_en.txt -o models/en.arpa --order 5
      dataprep lm train out/clean/data --format parquet -o models/en.arpa
    """
    from dataprep.text.lm import write_model

    try:
        path = write_model(_input_texts(inputs, fmt, text_field), output, order=order)
    except (InputError, ValueError, OSError) as exc:
        _fail(InputError(str(exc)) if not isinstance(exc, InputError) else exc, debug)
        return
    click.echo(f"wrote {path} (order {order}) and {path}.json")


@main.group()
def classifier() -> None:
    """fastText quality classifiers for the classifier stage."""


@classifier.command("train")
@click.option("--positive", multiple=True, required=True, help="files of good text (label hq); repeatable")
@click.option("--negative", multiple=True, required=True, help="files of other text (label lq); repeatable")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="the model file to write")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl", "parquet"]),
              help="input format (default: from the extension)")
@click.option("--text-field", default="text", show_default=True, help="jsonl/parquet: field holding the text")
@click.option("--epoch", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--seed", default=0, show_default=True, help="seed of the shuffle and of fastText")
@click.option("--dim", default=64, show_default=True, type=click.IntRange(2, 1000), help="vector size")
@click.option("--bucket", default=2_000_000, show_default=True, type=click.IntRange(1000),
              help="hashed n-gram buckets (model size ~ bucket x dim x 4 bytes)")
@click.option("--debug", is_flag=True, help="show tracebacks")
def classifier_train(positive: tuple[str, ...], negative: tuple[str, ...], output: str, fmt: str | None,
                     text_field: str, epoch: int, seed: int, dim: int, bucket: int, debug: bool) -> None:
    """Train a fastText quality classifier: POSITIVE text against NEGATIVE text.

    \b
    Example:
      dataprep classifier train --positive wiki.txt --negative out/web/data --format parquet -o hq.bin
    """
    from dataprep.transforms.classifier import train_classifier

    try:
        path = train_classifier(_input_texts(positive, fmt, text_field), _input_texts(negative, fmt, text_field),
                                output, epoch=epoch, seed=seed, dim=dim, bucket=bucket)
    except (InputError, ValueError, OSError) as exc:
        _fail(InputError(str(exc)) if not isinstance(exc, InputError) else exc, debug)
        return
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()


from dataprep.cli.train_commands import simulate, train  # noqa: E402 - the trainer's commands

main.add_command(train)
main.add_command(simulate)
