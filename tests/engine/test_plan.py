"""The plan decides, once, where each group reads from and what it writes."""

from __future__ import annotations

from dataprep.engine.plan import Source, barrier_inputs, plan_groups
from dataprep.io.inputs import Piece, Shard
from dataprep.transforms.dedup_exact import DedupExact
from dataprep.transforms.minhash_dedup import MinHashDedup
from dataprep.transforms.shuffle import Shuffle
from tests.helpers.transforms import BelowMedian, MinLength


def _shards(n: int) -> list[Shard]:
    return [Shard(index=i, pieces=(Piece(path=f"/in/{i}", relpath=str(i), size=1),)) for i in range(n)]


def test_groups_cut_before_barriers_and_name_their_sources() -> None:
    groups = plan_groups([MinLength(), BelowMedian(), MinLength(chars=3), Shuffle(), MinLength()], "html")
    assert [(g.first, len(g.stages), g.source) for g in groups] == [
        (0, 1, Source.INPUT), (1, 2, Source.PREVIOUS), (3, 2, Source.REPARTITIONED)]
    assert [g.is_last for g in groups] == [False, False, True]
    assert groups[0].next_barrier is groups[1].stages[0] and groups[0].next_barrier_index == 1
    assert all(g.writes_output for g in groups)
    shards = _shards(2)
    assert groups[0].output_path(shards[1]) == "stages/00-minlength/part-00001.parquet"
    assert groups[2].output_path(shards[1]) == "data/part-00001.parquet"
    assert groups[1].summary_path(shards[0]) == "stages/03-shuffle/summary/part-00000.parquet"
    assert groups[1].state_folder == "stages/01-belowmedian/state"
    assert barrier_inputs(groups, groups[1], shards) == [groups[0].output_path(s) for s in shards]


def test_a_leading_barrier_gets_a_read_group_that_reads_cheap_inputs_twice() -> None:
    for stage, reread in ((DedupExact(), True), (MinHashDedup(), True), (MinHashDedup(verify=True), False),
                          (BelowMedian(), False)):
        for fmt in ("jsonl", "parquet", "text", "html", "warc"):
            read, barrier = plan_groups([stage], fmt)
            again = reread and fmt in ("jsonl", "parquet", "text")
            assert read.stages == [] and read.next_barrier is stage
            assert read.writes_output is not again
            assert barrier.source is (Source.INPUT_AGAIN if again else Source.PREVIOUS)
            expected = [] if again else ["stages/input/part-00000.parquet"]
            assert barrier_inputs([read, barrier], barrier, _shards(1)) == expected


def test_no_stages_is_one_group_that_copies_the_input() -> None:
    only, = plan_groups([], "jsonl")
    assert only.is_last and only.source is Source.INPUT and only.name == "read"
