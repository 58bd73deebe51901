"""The transform API on real Arrow batches, in process."""

from __future__ import annotations

import pickle
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError

from dataprep import Drop, Filter, Map, Params, Transform
from dataprep.config.registry import StageLookupError, resolve_stage
from dataprep.engine.plan import plan_groups
from dataprep.schema import DOCUMENT_SCHEMA
from tests.helpers.transforms import BelowMedian, CountSetup, MinLength, shout


def docs(texts: list[str], **extra) -> pa.Table:
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.large_string()),
                      "source": [f"s{i}" for i in range(len(texts))]}, schema=DOCUMENT_SCHEMA)
    for k, v in extra.items():
        table = table.append_column(k, pa.array(v))
    return table


def test_filter_stores_scores_on_kept_and_removed_and_records_reason():
    out = MinLength(chars=4).process(docs(["abc", "abcd", "", "hello"]))
    assert out.kept.column("text").to_pylist() == ["abcd", "hello"]
    assert out.kept.column("n_chars").to_pylist() == [4, 5]
    assert out.removed.column("text").to_pylist() == ["abc", ""]
    assert out.removed.column("n_chars").to_pylist() == [3, 0]
    assert set(out.removed.column("reason").to_pylist()) == {"min_length:too_short"}
    assert out.kept.schema.names[:3] == ["id", "text", "source"]


def test_filter_with_string_reasons_and_empty_batch():
    class ByReason(Filter):
        def keep(self, scored):
            return pa.array([None if t else "empty" for t in scored.column("text").to_pylist()], pa.string())

    out = ByReason().process(docs(["a", "", "b"]))
    assert out.kept.num_rows == 2 and out.removed.column("reason").to_pylist() == ["empty"]
    empty = MinLength(chars=2).process(docs([]))
    assert empty.kept.num_rows == 0 and "n_chars" in empty.kept.schema.names


def test_map_must_keep_rows():
    class Bad(Map):
        def map(self, batch):
            return batch.slice(0, 1)

    with pytest.raises(ValueError, match="must keep every row"):
        Bad().process(docs(["a", "b"]))


def test_document_transform_updates_adds_and_drops():
    out = shout(marks=2).process(docs(["x", "y", "z"], title=["a", None, "c"]))
    assert out.kept.column("title").to_pylist() == ["A!!", "C!!"]
    assert out.kept.column("shouted").to_pylist() == [True, True]
    assert out.removed.column("reason").to_pylist() == ["shout:no_title"]
    assert out.removed.column("title").to_pylist() == [None]
    # declared columns keep their type on empty batches
    assert shout().process(docs([], title=pa.array([], pa.string()))).kept.schema.field("shouted").type == pa.bool_()


def test_document_transform_params_are_validated_from_the_signature():
    with pytest.raises(ValidationError):
        shout(marks="many")
    with pytest.raises(ValidationError):
        shout(volume=3)


def test_params_reject_unknown_keys():
    with pytest.raises(ValidationError, match="extra"):
        MinLength(char=3)


def test_pickling_ships_configuration_not_loaded_state(tmp_path):
    t = CountSetup(log_dir=str(tmp_path)).ensure_setup()
    assert hasattr(t, "token")
    clone = pickle.loads(pickle.dumps(t))
    assert not hasattr(clone, "token") and clone.params == t.params and not clone._ready


def test_registry_resolves_builtins_and_import_paths():
    assert resolve_stage("langid").name == "langid"
    assert resolve_stage("tests.helpers.transforms:MinLength") is MinLength
    with pytest.raises(StageLookupError, match="did you mean 'langid'"):
        resolve_stage("langdi")
    with pytest.raises(StageLookupError, match="not a dataprep Transform"):
        resolve_stage("os.path:join")


def test_planner_fuses_per_shard_stages_and_cuts_at_barriers():
    a, b, c = MinLength(), BelowMedian(), MinLength(chars=2)
    groups = plan_groups([a, MinLength(chars=3), b, c])
    assert [len(g.stages) for g in groups] == [2, 2]
    assert groups[0].next_barrier is b and groups[1].barrier is b and groups[1].is_last
    first_barrier = plan_groups([b, c])
    assert [len(g.stages) for g in first_barrier] == [0, 2] and first_barrier[0].next_barrier is b
    assert [len(g.stages) for g in plan_groups([])] == [0]
    assert plan_groups([a])[0].is_last


def test_transform_names_and_specs():
    assert MinLength.stage_name() == "tests.helpers.transforms:MinLength"
    assert MinLength(chars=3).spec() == {"tests.helpers.transforms:MinLength": {"chars": 3}}
    assert isinstance(Transform.Params(), Params)
    assert Drop("x").reason == "x"


def test_summaries_default_partitions_hold_at_most_the_rows_asked(tmp_path: Path):
    """The default number of exchange partitions follows the summaries' rows (read from the
    Parquet footers), not the number of shards."""
    import pyarrow.parquet as pq

    from dataprep.engine.summaries import Summaries

    paths = []
    for i, n in enumerate([5, 0, 12]):
        paths.append(str(tmp_path / f"s{i}.parquet"))
        pq.write_table(pa.table({"key": pa.array(range(n), pa.uint64())}), paths[-1])
    summaries = Summaries(paths=paths, shards=["a", "b", "c"], storage_options={}, workdir=str(tmp_path))
    assert summaries.rows() == 17
    assert [summaries.partitions(k) for k in (1, 5, 16, 17, 100)] == [17, 4, 2, 1, 1]
