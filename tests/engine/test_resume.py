"""Resume after a real kill: SIGKILL the whole `dataprep run` process group part-way, then
`--resume`, and get byte-identical output to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import DATAPREP, REPO, SAMPLE_WEB, output_bytes, run_cli, write_recipe


def slow_recipe(out: Path) -> dict:
    return {
        "name": "slow",
        "input": {"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "16KB"},
        "output": {"path": str(out)},
        "executor": {"workers": 2},
        "stages": [{"tests.helpers.transforms:Sleep": {"seconds": 0.08}}, {"extract": {}},
                   {"langid": {"keep": ["en", "de", "fr", "es"]}}],
    }


def receipts(out: Path) -> int:
    return len(list((out / "stages").rglob("*.receipt.json"))) if (out / "stages").exists() else 0


def test_kill_then_resume_gives_identical_output(tmp_path: Path):
    ref = tmp_path / "ref"
    res = run_cli("run", str(write_recipe(tmp_path / "ref.yaml", slow_recipe(ref))))
    assert res.returncode == 0, res.stderr
    total = json.loads((ref / "stats.json").read_text())["run"]["shards"]
    assert total > 40

    out = tmp_path / "killed"
    recipe = write_recipe(tmp_path / "killed.yaml", slow_recipe(out))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([*DATAPREP, "run", str(recipe)], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while receipts(out) < 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = receipts(out)
    assert 10 <= done_before < total, "the kill should land part-way"
    assert not (out / "stats.json").exists()

    res = run_cli("run", str(recipe))  # without --resume: refused, nothing touched
    assert res.returncode == 2 and "--resume" in res.stderr
    res = run_cli("run", str(recipe), "--resume")
    assert res.returncode == 0, res.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["run"]["resumed_shards"] >= done_before - 2  # the last receipts may race the kill
    assert output_bytes(out) == output_bytes(ref)
    assert not list(out.rglob("*.tmp-*"))


def completed_run(tmp_path: Path) -> tuple[Path, Path]:
    """A finished run of the slow recipe with no sleeping: (recipe file, output folder)."""
    out = tmp_path / "o"
    recipe = slow_recipe(out)
    recipe["stages"][0] = {"tests.helpers.transforms:Sleep": {"seconds": 0.0}}
    path = write_recipe(tmp_path / "r.yaml", recipe)
    assert run_cli("run", str(path)).returncode == 0
    return path, out


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_shard_is_recomputed_on_resume(tmp_path: Path):
    """Resume trusts a finished file only with its recorded size and mtime, and hashes any other:
    a truncated file and a same-size corrupted one are both recomputed; one whose mtime was put
    back after the corruption is caught by --verify, which hashes everything."""
    path, out = completed_run(tmp_path)
    before = output_bytes(out)
    truncated, flipped = out / "data" / "part-00003.parquet", out / "data" / "part-00005.parquet"
    truncated.write_bytes(truncated.read_bytes()[:-100])
    _flip_a_byte(flipped)  # same size, new mtime: hashed, and the hash differs
    res = run_cli("run", str(path), "--resume")
    assert res.returncode == 0, res.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["run"]["resumed_shards"] == stats["run"]["shards"] - 2
    assert output_bytes(out) == before

    hidden = out / "data" / "part-00001.parquet"
    times = hidden.stat()
    _flip_a_byte(hidden)
    os.utime(hidden, ns=(times.st_atime_ns, times.st_mtime_ns))  # the corruption hides its mtime
    res = run_cli("run", str(path), "--resume", "--verify")
    assert res.returncode == 0, res.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["run"]["resumed_shards"] == stats["run"]["shards"] - 1
    assert output_bytes(out) == before


def test_resume_reads_no_finished_file_whose_size_and_mtime_are_unchanged(tmp_path: Path):
    """The resume check's cost grows with what changed, not with what is done: an unchanged
    file is not opened; a changed mtime costs one hash (and passes if the bytes are the same)."""
    import fsspec

    from dataprep.engine.receipt import Receipt
    from dataprep.io.checksums import WrittenFile, modified_time, sha256_of

    fs = fsspec.filesystem("file")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.parquet").write_bytes(b"x" * 1000)
    written = WrittenFile("data/a.parquet", 1, 1000, sha256_of(fs, str(tmp_path / "data" / "a.parquet")),
                          modified_time(fs, str(tmp_path / "data" / "a.parquet")))
    Receipt(group=0, shard="part-00000", reader=None, stages={}, outputs=[written]).write(
        fs, str(tmp_path / "r.json"))

    class CountingFS(type(fs)):
        opened: list[str] = []

        def _open(self, path, *args, **kwargs):
            CountingFS.opened.append(path)
            return super()._open(path, *args, **kwargs)

    counting = CountingFS(skip_instance_cache=True)
    assert Receipt.load_valid(counting, str(tmp_path), "r.json") is not None
    assert [p for p in CountingFS.opened if p.endswith(".parquet")] == []
    assert Receipt.load_valid(counting, str(tmp_path), "r.json", verify=True) is not None
    assert [p for p in CountingFS.opened if p.endswith(".parquet")] != []  # --verify reads it
    CountingFS.opened.clear()
    os.utime(tmp_path / "data" / "a.parquet", (1, 1))  # touched (e.g. copied): hashed, same bytes, still valid
    assert Receipt.load_valid(counting, str(tmp_path), "r.json") is not None
    assert len([p for p in CountingFS.opened if p.endswith(".parquet")]) == 1


def test_resume_refuses_a_changed_recipe(tmp_path: Path):
    path, _ = completed_run(tmp_path)
    res = run_cli("run", str(path), "--resume", "--set", "stages.2.langid.min_score=0.9")
    assert res.returncode == 2 and "changed since the interrupted run" in res.stderr


def barrier_recipe(out: Path) -> dict:
    """Sleep -> minhash_dedup -> Sleep -> tokenize (trained): three groups, two barriers."""
    return {
        "name": "barriers",
        "input": {"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "32KB"},
        "output": {"path": str(out)},
        "executor": {"workers": 2},
        "stages": [{"extract": {}}, {"tests.helpers.transforms:Sleep": {"seconds": 0.05}},
                   {"minhash_dedup": {"bands": 14, "rows": 8}}, {"tests.helpers.transforms:Sleep": {"seconds": 0.05}},
                   {"tokenize": {"train": {"vocab_size": 600, "sample_docs": 100}}}],
    }


@pytest.fixture(scope="module")
def barrier_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of the barrier recipe, for the kills around its barriers to equal."""
    folder = tmp_path_factory.mktemp("barrier-ref")
    ref = folder / "ref"
    assert run_cli("run", str(write_recipe(folder / "ref.yaml", barrier_recipe(ref)))).returncode == 0
    return ref


@pytest.mark.parametrize("folder,count", [("01-sleep", 10), ("03-sleep", 10), ("04-tokenize", 3)],
                         ids=["before-dedup", "after-dedup", "during-tokenize"])
def test_kill_around_global_stages_then_resume(tmp_path: Path, barrier_reference: Path, folder: str, count: int):
    ref = barrier_reference
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "r.yaml", barrier_recipe(out))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([*DATAPREP, "run", str(recipe)], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = out / "stages" / folder
    deadline = time.monotonic() + 180
    while (len(list(target.glob("*.receipt.json"))) if target.exists() else 0) < count and \
            time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "stats.json").exists(), "the kill should land before the end"
    res = run_cli("run", str(recipe), "--resume")
    assert res.returncode == 0, res.stderr
    assert output_bytes(out) == output_bytes(ref)
    for name in ("tokens.json", "tokenizer.json"):
        assert (out / "tokens" / name).read_bytes() == (ref / "tokens" / name).read_bytes()
    assert sorted(p.name for p in (out / "tokens").iterdir()) == sorted(p.name for p in (ref / "tokens").iterdir())
    for p in (ref / "tokens").glob("*.bin"):
        assert (out / "tokens" / p.name).read_bytes() == p.read_bytes()
