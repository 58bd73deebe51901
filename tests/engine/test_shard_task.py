"""One shard through one group, run in this process (no Dask): what it writes, what its receipt
says, and what happens when a stage fails or loses documents."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataprep import Map, StageError
from dataprep.engine.plan import Source, plan_groups
from dataprep.engine.receipt import Receipt
from dataprep.engine.shard_task import ShardTask, run_shard
from dataprep.io.inputs import InputSpec, plan_shards
from tests.helpers.transforms import BelowMedian, Fail, MinLength, shout


class LoseOne(Map):
    """Broken on purpose: drops a row without reporting it."""

    def process(self, batch: pa.Table):  # noqa: ANN201 - the contract's StageOutput
        from dataprep import StageOutput

        return StageOutput(kept=batch.slice(1))


def _input(tmp_path: Path) -> InputSpec:
    folder = tmp_path / "in"
    folder.mkdir()
    lines = [json.dumps({"text": "x" * n, "title": "t" if n % 2 else ""}) for n in range(1, 13)]
    lines.insert(5, "{not json")
    (folder / "docs.jsonl").write_text("\n".join(lines) + "\n")
    return InputSpec(path=str(folder), format="jsonl", keep_fields=["title"], batch_size=4)


def _task(tmp_path: Path, stages: list, index: int = 0) -> ShardTask:
    spec = _input(tmp_path)
    shard, = plan_shards(spec)
    group = plan_groups(stages, spec.format)[index]
    return ShardTask(group, shard, spec, str(tmp_path / "out"), {})


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_a_shard_writes_kept_removed_quarantined_and_a_receipt_that_says_so(tmp_path: Path) -> None:
    task = _task(tmp_path, [MinLength(chars=5), shout()])
    receipt = run_shard(task)
    out = tmp_path / "out"
    assert receipt.reader is not None and task.group.source is Source.INPUT
    assert (receipt.reader.inputs, receipt.reader.docs, receipt.reader.quarantined) == (13, 12, {"invalid_json": 1})
    first, second = receipt.stages[0], receipt.stages[1]
    assert (first.docs_in, first.docs_out, first.removed) == (12, 8, {"min_length:too_short": 4})
    assert (second.docs_in, second.docs_out, second.removed) == (8, 4, {"shout:no_title": 4})
    kept = _rows(out / "data" / f"{task.shard.name}.parquet")
    assert [len(r["text"]) for r in kept] == [5, 7, 9, 11] and all(r["title"] == "T!" for r in kept)
    removed = _rows(out / "removed" / "00-minlength" / f"{task.shard.name}.parquet")
    assert {r["stage"] for r in removed} == {"tests.helpers.transforms:MinLength"} and len(removed) == 4
    assert [r["reason"] for r in _rows(out / "quarantine" / f"{task.shard.name}.parquet")] == ["invalid_json"]
    files = {f.path: f for f in receipt.outputs}
    assert files[f"data/{task.shard.name}.parquet"].rows == 4
    assert sum(receipt.lengths.kept.values()) == 4 and sum(receipt.lengths.removed.values()) == 8
    # the receipt on disk is the returned one, and it is valid until a file it names changes
    fs = fsspec.filesystem("file")
    on_disk = Receipt.load_valid(fs, str(out), task.group.receipt_path(task.shard))
    assert on_disk == receipt
    with open(out / "data" / f"{task.shard.name}.parquet", "ab") as f:
        f.write(b"corrupt")
    assert Receipt.load_valid(fs, str(out), task.group.receipt_path(task.shard)) is None


def test_the_group_before_a_barrier_writes_its_summary(tmp_path: Path) -> None:
    task = _task(tmp_path, [MinLength(chars=3), BelowMedian()])
    run_shard(task)
    summary = _rows(tmp_path / "out" / task.group.summary_path(task.shard))
    assert [r["n"] for r in summary] == list(range(3, 13)) and {r["shard"] for r in summary} == {task.shard.name}


def test_a_failing_stage_is_named_and_leaves_no_file(tmp_path: Path) -> None:
    task = _task(tmp_path, [MinLength(chars=2), Fail(when_source_contains="docs.jsonl")])
    with pytest.raises(StageError, match=rf"stage 01 tests.helpers.transforms:Fail failed on shard {task.shard.name}: "
                                         "ValueError: boom from a user stage"):
        run_shard(task)
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_a_stage_that_loses_documents_is_caught_in_its_shard(tmp_path: Path) -> None:
    task = _task(tmp_path, [LoseOne()])
    with pytest.raises(StageError, match=r"stage 00 .*LoseOne lost documents in shard part-00000: "
                                         r"4 in, 3 kept, 0 removed"):
        run_shard(task)


def test_reading_the_input_again_counts_nothing_twice(tmp_path: Path) -> None:
    from tests.helpers.transforms import BelowMedian as Barrier

    class SummaryOnly(Barrier):
        def reads_documents(self) -> bool:
            return False

    groups = plan_groups([SummaryOnly()], "jsonl")
    assert [g.source for g in groups] == [Source.INPUT, Source.INPUT_AGAIN] and not groups[0].writes_output
    task = _task(tmp_path, [SummaryOnly()], index=0)
    first = run_shard(task)
    assert first.reader is not None and first.reader.quarantined == {"invalid_json": 1}
    assert [f.path.split("/")[0] for f in first.outputs] == ["quarantine", "stages"]  # no copy of the input
