"""End to end on a real Dask LocalCluster: the quickstart, determinism, user stages, barriers."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from dataprep import Pipeline, RunError
from dataprep.config.recipe import load_recipe
from dataprep.report.inspection import read_table
from dataprep.transforms.extract import Extract
from dataprep.transforms.langid import LangId
from tests.conftest import SAMPLE_WEB, output_bytes, quickstart_recipe, run_cli, write_recipe
from tests.helpers.transforms import BelowMedian, CountSetup, MinLength

N_PAGES = len(list(SAMPLE_WEB.rglob("*.html")))


def test_quickstart_end_to_end(tmp_path: Path, client):
    recipe = load_recipe(write_recipe(tmp_path / "q.yaml", quickstart_recipe(tmp_path / "out")))
    result = Pipeline.from_recipe(recipe).run(client=client)
    out = tmp_path / "out"
    stats = json.loads((out / "stats.json").read_text())
    assert stats == dict(result.stats.items())
    assert stats["input"]["inputs"] == N_PAGES and stats["input"]["quarantined"] == {}
    extract, langid = stats["stages"]
    assert extract["removed"] == {"extract:no_text": 8}  # the chrome-only pages
    assert langid["removed"] == {"langid:language_not_kept": 25}  # the Japanese pages
    assert langid["docs_out"] == N_PAGES - 33 == stats["output"]["docs"]
    assert extract["bytes_out"] < extract["bytes_in"] / 1.3  # HTML chrome is gone

    data = read_table(str(out / "data"))
    assert data.num_rows == N_PAGES - 33
    assert data.schema.names == ["id", "text", "source", "title", "lang", "lang_score"]
    assert str(data.schema.field("text").type) == "large_string"
    assert str(data.schema.field("lang_score").type) == "float"
    assert set(data.column("lang").to_pylist()) == {"en", "de", "fr", "es", "it", "nl", "pt"}
    for source, lang in zip(data.column("source").to_pylist(), data.column("lang").to_pylist()):
        if not source.startswith("misc/"):
            assert source.split("/")[0] == lang
    texts = data.column("text").to_pylist()
    assert not any("Subscribe" in t or "Privacy" in t for t in texts)  # navigation and footer removed
    assert len(set(data.column("id").to_pylist())) == data.num_rows

    removed = read_table(str(out / "removed"))
    assert removed.num_rows == 33
    assert set(removed.column("stage").to_pylist()) == {"extract", "langid"}
    extract_removed = read_table(str(out / "removed" / "00-extract"))
    assert extract_removed.num_rows == 8 and set(extract_removed.column("reason").to_pylist()) == {"extract:no_text"}
    # the page as it came
    assert all(t.startswith("<!DOCTYPE html>") for t in extract_removed.column("text").to_pylist())
    assert set(read_table(str(out / "removed" / "01-langid")).column("lang").to_pylist()) == {"ja"}

    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["inputs"]) == N_PAGES and all(len(f["sha256"]) == 64 for f in manifest["inputs"])
    assert manifest["recipe"]["stages"][1]["langid"]["min_score"] == 0.5
    assert {"dask", "pyarrow", "resiliparse"} <= set(manifest["versions"])
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*.parquet")}
    assert on_disk == {f["path"] for f in manifest["outputs"]}
    assert manifest["rows"] == data.num_rows


def test_same_bytes_with_one_and_two_workers(tmp_path: Path):
    outputs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        pipeline = Pipeline(input={"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "128KB"},
                            output=str(out), stages=[Extract(), LangId(keep=["en", "de", "fr"])])
        pipeline.run(workers=workers)
        outputs.append(output_bytes(out))
    assert outputs[0].keys() == outputs[1].keys() and len(outputs[0]) > 10
    assert outputs[0] == outputs[1]


def test_python_api_mixes_builtin_recipe_entries_and_user_transforms(tmp_path: Path, client):
    pipeline = Pipeline(input={"path": str(SAMPLE_WEB / "en" / "*.html"), "format": "html"}, output=str(tmp_path / "o"),
                        stages=[{"extract": {}}, MinLength(chars=1200), "langid"])
    stats = pipeline.run(client=client).stats
    assert [s["stage"] for s in stats["stages"]] == ["extract", "tests.helpers.transforms:MinLength", "langid"]
    kept = read_table(str(tmp_path / "o" / "data"))
    assert min(kept.column("n_chars").to_pylist()) >= 1200
    assert stats["stages"][1]["removed"]["min_length:too_short"] > 0


def test_models_load_once_per_worker(tmp_path: Path, client):
    log = tmp_path / "setups"
    log.mkdir()
    pipeline = Pipeline(input={"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "32KB"},
                        output=str(tmp_path / "o"), stages=[CountSetup(log_dir=str(log))])
    stats = pipeline.run(client=client).stats
    assert stats["run"]["shards"] > 20
    pids = [p.name.split("-")[0] for p in log.iterdir()]
    assert len(pids) == len(set(pids)) <= 2  # one setup per worker process, not per task


def test_barrier_stage_sees_all_shards_and_fuses_with_following_stages(tmp_path: Path, client):
    out = tmp_path / "o"
    pipeline = Pipeline(input={"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "64KB"},
                        output=str(out), stages=[Extract(), BelowMedian(), MinLength(chars=10)])
    stats = pipeline.run(client=client).stats
    extract, barrier, after = stats["stages"]
    lengths = sorted(len(t) for t in read_table(str(out / "stages" / "00-extract")).column("text").to_pylist())
    median = lengths[len(lengths) // 2]
    assert barrier["removed"]["below_median"] == sum(1 for n in lengths if n < median)
    assert after["docs_in"] == barrier["docs_out"] == stats["output"]["docs"] + sum(after["removed"].values())
    assert min(len(t) for t in read_table(str(out / "data")).column("text").to_pylist()) >= median
    assert (out / "stages" / "01-belowmedian" / "summary").is_dir()
    # cost per stage and wall time per barrier-separated group
    for s in stats["stages"]:
        assert s["seconds_per_mb"] == pytest.approx(s["seconds"] / (s["bytes_in"] / 1e6), rel=0.05, abs=0.005)
    groups = stats["groups"]
    assert [g["stages"] for g in groups] == [[0], [1, 2]]  # extract | the barrier fused with what follows
    assert all(g["wall_seconds"] > 0 and g["shards_run"] == stats["run"]["shards"] for g in groups)
    assert "summed over every shard task" in stats["timing"]


def test_failing_stage_fails_the_run_with_the_stage_error(tmp_path: Path, client):
    from tests.helpers.transforms import Fail

    pipeline = Pipeline(input={"path": str(SAMPLE_WEB / "de" / "*.html"), "format": "html"}, output=str(tmp_path / "o"),
                        stages=[Fail(when_source_contains="page-003")])
    with pytest.raises(RunError, match="boom from a user stage"):
        pipeline.run(client=client)
    assert not list((tmp_path / "o").rglob("*.tmp-*"))  # no half-written files left behind


def test_bad_inputs_through_a_run_keep_the_ledger(tmp_path: Path, client):
    src = tmp_path / "in"
    src.mkdir()
    lines = (json.dumps({"text": f"A sentence in English, number {i}."}) + "\n" for i in range(50))
    (src / "ok.jsonl").write_text("".join(lines))
    (src / "bad.jsonl").write_bytes(b'{"text": "caf\xe9"}\n{"text": "fine"}\n\x00\x01\x02 junk\n')
    import gzip
    (src / "cut.jsonl.gz").write_bytes(gzip.compress(b"".join(b'{"text": "t %d"}\n' % i for i in range(200)))[:-40])
    (src / "empty.jsonl").write_bytes(b"")
    pipeline = Pipeline(input={"path": str(src), "format": "jsonl"}, output=str(tmp_path / "o"),
                        stages=[MinLength(chars=5)])
    stats = pipeline.run(client=client).stats  # raises LedgerError if anything were lost
    assert stats["input"]["quarantined"] == {"invalid_json": 1, "invalid_utf8": 1, "truncated_input": 1,
                                             "empty_file": 1}
    q = read_table(str(tmp_path / "o" / "quarantine"))
    assert q.num_rows == 4 and all(q.column("error").to_pylist())
    assert stats["input"]["inputs"] == stats["input"]["docs"] + 4


def test_cli_run_prints_output_and_refuses_to_clobber(tmp_path: Path):
    recipe = write_recipe(tmp_path / "q.yaml", quickstart_recipe(tmp_path / "out", executor={"workers": 1}))
    res = run_cli("run", str(recipe))
    assert res.returncode == 0, res.stderr
    assert f"output: {tmp_path / 'out'}/data" in res.stdout
    assert "391 documents kept" in res.stdout
    res = run_cli("run", str(recipe))
    assert res.returncode == 2 and "--resume" in res.stderr and "--overwrite" in res.stderr
    res = run_cli("run", str(recipe), "--resume")
    assert res.returncode == 0 and "shards resumed" in res.stdout
    res = run_cli("inspect", str(tmp_path / "out"))
    assert res.returncode == 0 and "langid:language_not_kept" in res.stdout and "lang_score" in res.stdout
    not_a_run = tmp_path / "precious"
    not_a_run.mkdir()
    (not_a_run / "thesis.tex").write_text("do not delete")
    res = run_cli("run", str(recipe), "--overwrite", "--set", f"output.path={not_a_run}")
    assert res.returncode == 2 and "refusing to delete" in res.stderr and (not_a_run / "thesis.tex").exists()


def test_cli_unreachable_scheduler_fails_before_work(tmp_path: Path):
    recipe = write_recipe(tmp_path / "q.yaml", quickstart_recipe(tmp_path / "out"))
    res = run_cli("run", str(recipe), "--scheduler", "tcp://127.0.0.1:9", "--set", "executor.connect_timeout=2")
    assert res.returncode == 2
    assert "executor.scheduler: cannot reach the Dask scheduler at tcp://127.0.0.1:9" in res.stderr
    assert not (tmp_path / "out").exists()


def test_cli_unwritable_output_fails_before_work(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    recipe = write_recipe(tmp_path / "q.yaml", quickstart_recipe(blocker / "out", executor={"workers": 1}))
    res = run_cli("run", str(recipe))
    assert res.returncode == 2 and "output.path" in res.stderr and "Traceback" not in res.stderr


def test_deeply_nested_page_is_removed_not_hung(tmp_path: Path):
    import time

    page = "<html><body>" + "<div>" * 100_000 + "deep text" + "</div>" * 100_000 + "</body></html>"
    ok = "<html><body><article><p>" + "A normal paragraph of text. " * 20 + "</p></article></body></html>"
    t0 = time.perf_counter()
    out = Extract().process(pa.table({"id": ["a", "b"], "text": pa.array([page, ok], pa.large_string()),
                                      "source": ["a", "b"]}))
    assert time.perf_counter() - t0 < 30  # extraction of this page alone would take minutes
    assert out.removed.column("reason").to_pylist() == ["extract:too_deep"]
    assert out.kept.num_rows == 1


def test_written_files_carry_the_sha256_and_size_of_their_bytes(tmp_path):
    import hashlib

    import fsspec
    import pyarrow as pa

    from dataprep.io.writer import ParquetShardWriter

    fs = fsspec.filesystem("file")
    writer = ParquetShardWriter(fs, str(tmp_path), "x/part.parquet")
    for i in range(3):
        writer.write(pa.table({"id": [f"{i}-{j}" for j in range(1000)],
                               "text": ["word " * (j % 50) for j in range(1000)]}))
    done = writer.close()
    data = (tmp_path / "x" / "part.parquet").read_bytes()
    assert done.rows == 3000 and done.bytes == len(data) and done.sha256 == hashlib.sha256(data).hexdigest()
