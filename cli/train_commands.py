"""``dataprep train`` and ``dataprep simulate``: the pipeline-parallel trainer and its simulator."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from dataprep.config.errors import ConfigError

TRAIN_MODULES = ("torch", "matplotlib")


def _refuse(message: str) -> NoReturn:
    """Exit 2 with ``error: message`` on stderr: the input was refused, no traceback."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def require_train_extra(command: str) -> None:
    """Exit with a usage error naming the extra when the trainer's libraries are not installed."""
    import importlib.util

    missing = [m for m in TRAIN_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        _refuse(f"{command} needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
                "installed: pip install 'dataprep[train]'")


class _TrainGroup(click.Group):
    """``dataprep train CONFIG ...`` trains; ``dataprep train export ...`` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["fit", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_TrainGroup)
def train() -> None:
    """Train a GPT-style model on tokenized runs (data x pipeline parallel), or export one.

    \b
      dataprep train CONFIG [--nproc N] [--set KEY=VALUE] [--resume]   train (see `dataprep train fit --help`)
      dataprep train export CHECKPOINT -o DIR                         a Hugging Face transformers folder
    """


@train.command("fit")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--nproc", default=2, show_default=True, type=click.IntRange(min=1),
              help="processes to start locally: pipeline ranks x data-parallel replicas (ignored under torchrun)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a config value (repeatable)")
@click.option("--resume", is_flag=True, help="continue from the newest complete checkpoint in output.path")
@click.option("--debug", is_flag=True, help="show tracebacks")
def fit(config: str, nproc: int, overrides: tuple[str, ...], resume: bool, debug: bool) -> None:
    """Train a GPT-style model on tokenized runs with data x pipeline parallelism.

    \b
    Starts NPROC = pp x dp processes (gloo on CPU, NCCL on CUDA): dp replicas of a pipeline
    of pp ranks, each stage FSDP2-sharded over the replicas. The model is split into
    balanced stages, the configured schedule runs, and metrics.jsonl, checkpoints/ (DCP,
    loadable into any other layout), summary.json and loss/throughput/timeline PNGs go to
    output.path.

    \b
    Examples:
      dataprep train recipes/train_tiny.yaml --nproc 2
      dataprep train recipes/train_dp_pp.yaml --nproc 4
      dataprep train recipes/train_tiny.yaml --set pipeline.schedule=zb-v --set steps=100
      dataprep train recipes/train_tiny.yaml --resume
      torchrun --nproc-per-node 2 -m dataprep.train.launch recipes/train_tiny.yaml
    """
    require_train_extra("dataprep train")
    from dataprep.train.config import load_train_config
    from dataprep.train.launch import run_in_process, run_this_rank, spawn, under_torchrun
    from dataprep.train.preflight import check_training

    world = int(os.environ["WORLD_SIZE"]) if under_torchrun() else nproc
    try:
        cfg = load_train_config(config, list(overrides))
        if cfg.pipeline.schedule == "auto":
            from dataprep.train.schedule_search import resolve_auto

            chosen, why = resolve_auto(cfg, world, config)
            click.echo(why, err=True)
            overrides = (*overrides, *chosen)
            cfg = load_train_config(config, list(overrides))
        check_training(cfg, world, config)
    except ConfigError as exc:
        if debug:
            raise
        _refuse(str(exc))
    if under_torchrun():
        run_this_rank(cfg, resume)
        return
    code = run_in_process(cfg, resume, debug) if nproc == 1 else spawn(config, nproc, list(overrides), resume, debug)
    if code:
        click.echo("train failed", err=True)
        sys.exit(1)
    click.echo(f"output: {cfg.output.path} (metrics.jsonl, summary.json, loss.png, throughput.png, timeline.png)")


@train.command("export")
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="folder to write (created; files in it are replaced)")
@click.option("--debug", is_flag=True, help="show tracebacks")
def export(checkpoint: str, output: str, debug: bool) -> None:
    """Write a checkpoint as a Hugging Face transformers folder (GPT2LMHeadModel, safetensors,
    config.json and the run's tokenizer as a fast tokenizer).

    \b
    CHECKPOINT is a folder out/NAME/checkpoints/step-NNNNNN, from any layout or schedule.
    The result loads without dataprep:
      AutoModelForCausalLM.from_pretrained(DIR); AutoTokenizer.from_pretrained(DIR)

    \b
    Example:
      dataprep train export out/train-tiny/checkpoints/step-000030 -o out/train-tiny/hf
    """
    require_train_extra("dataprep train export")
    from dataprep.train.checkpoint import CheckpointError
    from dataprep.train.export import export_hf

    try:
        out = export_hf(checkpoint, output)
    except (CheckpointError, FileNotFoundError) as exc:
        if debug:
            raise
        _refuse(str(exc))
    click.echo(f"exported: {out} (model.safetensors, config.json, tokenizer.json)")


@click.command()
@click.option("--schedule", "name", metavar="NAME",
              help="gpipe, 1f1b, interleaved-1f1b, looped-bfs, zb-h1, zb-h2, zb-auto, zb-v, v-half, v-min, dualpipe-v")
@click.option("--stages", "ranks", type=click.IntRange(min=1), help="pipeline ranks P")
@click.option("--microbatches", type=click.IntRange(min=1),
              help="microbatches M per step (--search: only this many; default: every divisor of the batch)")
@click.option("--stages-per-rank", type=click.IntRange(min=1), help="model chunks per rank (default: the schedule's)")
@click.option("--f", "tf", default=1.0, show_default=True, help="forward time of one microbatch on one rank")
@click.option("--b", "tb", default=1.0, show_default=True, help="input-gradient backward time")
@click.option("--w", "tw", default=1.0, show_default=True, help="weight-gradient backward time")
@click.option("--comm", type=float, help="time to send one activation or gradient between ranks "
              "(default 0; with --measured: the transfer time measured in that run)")
@click.option("--no-sync", is_flag=True,
              help="no optimizer barrier between steps (ZB's post-validation): steady-state period")
@click.option("--measured", type=click.Path(exists=True), help="a training output folder or timeline.json: "
              "simulate with its measured op costs and draw it beside the measured timeline")
@click.option("--optimizer", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="the optimizer step's time, added to each synchronised step")
@click.option("--limit", type=click.FloatRange(min=0, min_open=True),
              help="zb-auto: activations a rank may hold, in microbatches (default 2 x stages)")
@click.option("--m-w", "m_w", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="share of a microbatch's activations kept from I until W")
@click.option("--search", is_flag=True, help="rank every schedule x stages per rank x microbatches for --config "
              "that fits --memory, by predicted step time")
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="a training config (model, batch, precision, pp and dp): per-stage costs from FLOPs and bytes "
                   "per rank from the model, for --schedule or --search")
@click.option("--memory", type=click.FloatRange(min=0, min_open=True), help="GiB per device (with --config)")
@click.option("--vocab", type=click.IntRange(min=2), help="with --config: vocabulary size (default: the runs')")
@click.option("--vocab-parallel", is_flag=True, help="with --config --schedule: the vocabulary layers split over "
              "every rank (pipeline.vocab_parallel)")
@click.option("--measure", is_flag=True, help="--search: op costs measured per piece on this CPU, not from FLOPs")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, help="--search: rows shown")
@click.option("--plot", type=click.Path(dir_okay=False), help="write the Gantt chart to this PNG")
def simulate(name: str | None, ranks: int | None, microbatches: int | None, stages_per_rank: int | None, tf: float,
             tb: float, tw: float, comm: float | None, no_sync: bool, measured: str | None, optimizer: float,
             limit: float | None,
             m_w: float, search: bool, config: str | None, memory: float | None, vocab: int | None,
             vocab_parallel: bool, measure: bool, top: int, plot: str | None) -> None:
    """Predict step time, bubble and peak activations of a pipeline schedule; draw it.

    \b
    Costs are per microbatch for one rank's share of the model; with v stages per rank
    each chunk costs 1/v of them. Bubble = each rank's idle share of the step.

    \b
    Examples:
      dataprep simulate --schedule 1f1b --stages 4 --microbatches 8
      dataprep simulate --schedule zb-h2 --stages 4 --microbatches 8 --no-sync --plot zb-h2.png
      dataprep simulate --schedule zb-h1 --stages 4 --microbatches 8 --f 1 --b 1.5 --w 0.7
      dataprep simulate --measured out/train-tiny --plot timeline.png
      dataprep simulate --schedule zb-auto --stages 4 --microbatches 8 --w 0.5 --m-w 0.4 --limit 8
      dataprep simulate --search --config recipes/train_tiny.yaml --memory 0.05 --vocab 32000
      dataprep simulate --schedule 1f1b --config recipes/train_tiny.yaml --vocab 65536 --vocab-parallel
    """
    require_train_extra("dataprep simulate")
    if search:
        _search(config, ranks, microbatches, memory, vocab, measure, comm or 0.0, top)
        return
    from dataprep.train.gantt import draw_gantt
    from dataprep.train.schedules import ScheduleError, get_schedule, rank_actions
    from dataprep.train.simulate import OpCosts
    from dataprep.train.simulate import simulate as run_simulation
    from dataprep.train.timeline import draw_timeline, load_timeline, measured_spans, predict, predict_with_spread

    if measured:
        doc = load_timeline(measured)
        sim = predict(doc, comm)
        spans = measured_spans(doc)
        busy = [sum(s.end - s.start for s in spans if s.rank == r) for r in range(doc["ranks"])]
        step = max(s.end for s in spans)
        click.echo(f"{doc['schedule']}: {doc['ranks']} ranks, {doc['microbatches']} microbatches (measured op costs, "
                   f"transfer {1e3 * (doc.get('comm_s', 0.0) if comm is None else comm):.3f} ms)")
        click.echo(f"  simulated: step {1e3 * sim.step_time:.2f} ms, bubble {100 * sim.mean_bubble:.1f}% "
                   "(mean op times)")
        spread = predict_with_spread(doc, comm)
        click.echo(f"  simulated: step {1e3 * spread.step_time:.2f} ms, bubble {100 * spread.mean_bubble:.1f}% "
                   f"+- {100 * spread.bubble_sd:.1f} (op times spread as measured, {spread.trials} trials)")
        bubble = 1 - sum(busy) / (step * len(busy))
        click.echo(f"  measured:  step {1e3 * step:.2f} ms, bubble {100 * bubble:.1f}% (one step)")
        if plot:
            click.echo(f"plot: {draw_timeline(doc, plot)}")
        return
    if config:
        _simulate_config(config, name, ranks, microbatches, stages_per_rank, memory, vocab, comm or 0.0, plot,
                         vocab_parallel)
        return
    if not (name and ranks and microbatches):
        raise click.UsageError("give --schedule, --stages and --microbatches (or --measured OUT, or --config)")
    from dataprep.train.memory_schedules import ScheduleInfeasible

    comm = comm or 0.0
    try:
        spec = get_schedule(name)
        v = stages_per_rank or spec.default_stages_per_rank
        costs = OpCosts(tf / v, tb / v, tw / v, comm, m_b=1 / v, m_w=m_w / v,  # memory in microbatches per rank
                        optimizer=optimizer)
        actions = rank_actions(name, ranks, microbatches, v, costs=costs, limit=limit)
    except (ScheduleError, ScheduleInfeasible) as exc:
        _refuse(str(exc))
    sim = run_simulation(actions, spec.stage_to_rank(ranks), ranks * v, costs, sync=not no_sync)
    click.echo(f"{name}: {ranks} ranks x {v} stage{'s' if v > 1 else ''}, {microbatches} microbatches, "
               f"F={tf} B={tb} W={tw} comm={comm}{' (no optimizer barrier)' if no_sync else ''}")
    click.echo(f"  step time {sim.step_time:.3f}   ideal {microbatches * (tf + tb + tw):.3f}   "
               f"bubble {100 * sim.mean_bubble:.1f}%")
    click.echo(f"  bubble rate as the Zero Bubble paper counts it (largest rank span): {100 * sim.span_bubble:.1f}%")
    click.echo("  rank  idle     bubble  peak in flight  peak activations (microbatches)")
    for r in range(ranks):
        click.echo(f"  {r:4d}  {sim.idle[r]:7.3f}  {100 * sim.bubble[r]:5.1f}%  {sim.peak_inflight[r]:14d}  "
                   f"{sim.peak_microbatches[r]:.2f}")
    if plot:
        title = f"{name}  P={ranks} M={microbatches}  bubble {100 * sim.mean_bubble:.1f}%"
        labels = [f"rank {r}\npeak {sim.peak_microbatches[r]:.1f} mb" for r in range(ranks)]
        click.echo(f"plot: {draw_gantt(plot, sim.spans, ranks, title, row_labels=labels)}")


def _load_for_model(config: str, ranks: int | None, vocab: int | None):  # noqa: ANN202 - (TrainConfig, GPTConfig, pp)
    from dataprep.train.config import load_train_config
    from dataprep.train.preflight import gpt_config, run_vocabulary

    try:
        cfg = load_train_config(config)
        pp = ranks or cfg.parallel.pp
        if not pp:
            raise click.UsageError("give --stages P (or parallel.pp in the config)")
        return cfg, gpt_config(cfg, vocab or run_vocabulary(cfg, config)), pp
    except ConfigError as exc:
        _refuse(str(exc))


def _simulate_config(config: str, name: str | None, ranks: int | None, microbatches: int | None,
                     stages_per_rank: int | None, memory: float | None, vocab: int | None, comm: float,
                     plot: str | None, vocab_parallel: bool = False) -> None:
    """``dataprep simulate --schedule NAME --config CFG``: the config's model, its split and bytes per rank,
    then the same schedule with the naive split, ``balance: cost`` and vocabulary parallelism side by side."""
    from dataprep.train.gantt import draw_gantt
    from dataprep.train.memory_model import gib
    from dataprep.train.partition import PartitionError
    from dataprep.train.schedule_search import evaluate
    from dataprep.train.schedules import ScheduleError, get_schedule

    if not name:
        raise click.UsageError("give --schedule NAME (or --search) with --config")
    cfg, gpt, pp = _load_for_model(config, ranks, vocab)
    v = stages_per_rank or cfg.pipeline.stages_per_rank or get_schedule(name).default_stages_per_rank
    m = microbatches or cfg.data.microbatches
    batch = cfg.data.batch_size // cfg.parallel.dp
    budget = (memory or 1e6) * 2 ** 30
    try:
        row, sim = evaluate(gpt, name, pp, v, m, batch, budget, precision=cfg.precision, dp=cfg.parallel.dp, comm=comm,
                            vocab_parallel=vocab_parallel)
    except (ScheduleError, PartitionError) as exc:
        _refuse(str(exc))
    if sim is None:
        _refuse(str(row.note))
    click.echo(f"{name}: {pp} ranks x {v} stage(s), {m} microbatches of {batch // m} sequences, {gpt.layers} layers, "
               f"d_model {gpt.d_model}, vocab {gpt.vocab_size}"
               f"{' (vocabulary parallel)' if vocab_parallel else ''}, {cfg.precision}, dp {cfg.parallel.dp}; "
               f"costs from FLOPs at 1 TFLOP/s")
    click.echo(f"  step time {sim.step_time:.4g} s   bubble {100 * sim.mean_bubble:.1f}%   "
               f"(largest rank span: {100 * sim.span_bubble:.1f}%)")
    click.echo("  rank  bubble  model state  peak activations  (microbatches)  peak total")
    for r in range(pp):
        click.echo(f"  {r:4d}  {100 * sim.bubble[r]:5.1f}%  {gib(row.state_bytes[r]):>11}  "
                   f"{gib(sim.peak_memory[r]):>16}  {sim.peak_microbatches[r]:14.2f}  {gib(row.peak_bytes[r]):>10}")
    if memory:
        click.echo(f"  {'fits' if row.fits else 'does not fit'} in {memory:g} GiB per rank")
    click.echo(f"  the vocabulary layers ({gpt.vocab_size} tokens) three ways:")
    click.echo(f"    {'split':<28}{'step s':>11}{'bubble':>8}{'busy max/min':>14}{'peak/rank':>12}")
    for label, balance, split in [("naive (balance: uniform)", "uniform", False), ("balance: cost", "cost", False),
                                  ("vocabulary parallel", "cost", True)]:
        try:
            other, _ = evaluate(gpt, name, pp, v, m, batch, budget, precision=cfg.precision, dp=cfg.parallel.dp,
                                comm=comm, vocab_parallel=split, balance=balance)
        except (ScheduleError, PartitionError) as exc:
            click.echo(f"    {label:<28}  cannot: {exc}")
            continue
        click.echo(f"    {label:<28}{other.step_time:11.4g}{100 * other.bubble:7.1f}%{other.busy_spread:13.2f}x"
                   f"{gib(other.peak):>12}")
    if plot:
        labels = [f"rank {r}\npeak {gib(row.peak_bytes[r])}" for r in range(pp)]
        title = f"{name}: {gpt.layers} layers on {pp} ranks"
        click.echo(f"plot: {draw_gantt(plot, sim.spans, pp, title, unit='s', row_labels=labels)}")


def _search(config: str | None, ranks: int | None, microbatches: int | None, memory: float | None,
            vocab: int | None, measure: bool, comm: float, top: int) -> None:
    """``dataprep simulate --search``: the table, best first; exit 2 naming the need when nothing fits."""
    from dataprep.train.schedule_search import NothingFits, best, format_table, measure_piece_costs
    from dataprep.train.schedule_search import search as run_search

    if not config or not memory:
        raise click.UsageError("--search needs --config CONFIG and --memory GIB")
    cfg, gpt, pp = _load_for_model(config, ranks, vocab)
    dp = cfg.parallel.dp
    batch = cfg.data.batch_size // dp
    costs = None
    if measure:
        micro = max(1, batch // cfg.data.microbatches)
        costs = measure_piece_costs(gpt, micro)
        click.echo(f"measured per piece on this CPU (microbatch of {micro}): " + ", ".join(
            f"{1e3 * f:.2f}/{1e3 * b:.2f} ms" for f, b in costs))
    rows = run_search(gpt, pp, batch, memory * 2 ** 30, precision=cfg.precision, dp=dp, comm=comm,
                      measured=costs, microbatch_options=[microbatches] if microbatches else
                      [cfg.data.microbatches] if measure else None)
    unit = "s (measured)" if measure else "s at 1 TFLOP/s"
    click.echo(f"{gpt.layers} layers, d_model {gpt.d_model}, vocab {gpt.vocab_size}, {pp} ranks x dp {dp}, "
               f"batch {batch} per replica, {cfg.precision}, {memory:g} GiB per rank; step in {unit}")
    click.echo(format_table(rows, top))
    try:
        win = best(rows, memory * 2 ** 30)
    except NothingFits as exc:
        _refuse(str(exc))
    vocab = ", vocabulary parallel" if win.vocab_parallel else ""
    click.echo(f"best: {win.schedule} with {win.stages_per_rank} stage(s) per rank and {win.microbatches} "
               f"microbatches{vocab} (pipeline.schedule: {win.schedule}, pipeline.stages_per_rank: "
               f"{win.stages_per_rank}, pipeline.vocab_parallel: {str(win.vocab_parallel).lower()}, "
               f"data.microbatches: {win.microbatches})")
