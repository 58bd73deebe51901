"""How a failed run is told: one line naming the stage and the shard, Dask's worker dump in
OUT/logs/workers.log instead of the terminal (unless --debug)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SAMPLE_WEB, run_cli, write_recipe


def _failing(tmp_path: Path, workers: int) -> Path:
    return write_recipe(tmp_path / f"fail-{workers}.yaml", {
        "name": "fail", "input": {"path": str(SAMPLE_WEB / "en" / "*.html"), "format": "html", "shard_size": "64KB"},
        "output": {"path": str(tmp_path / f"out-{workers}")}, "executor": {"workers": workers},
        "stages": [{"extract": {}}, {"tests.helpers.transforms:Fail": {"when_source_contains": "page-003"}}]})


def test_a_failing_stage_prints_one_line_and_saves_the_worker_log(tmp_path: Path) -> None:
    for workers in (1, 2):  # in-process and process workers
        result = run_cli("run", str(_failing(tmp_path, workers)))
        assert result.returncode == 1
        log = tmp_path / f"out-{workers}" / "logs" / "workers.log"
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert lines[0].startswith("run failed: stage 01 tests.helpers.transforms:Fail failed on shard part-000"), lines
        assert "ValueError: boom from a user stage" in lines[0] and f"(Dask worker log: {log})" in lines[0]
        assert lines[1:] == ["(run again with --debug for the traceback)"], lines
        assert "Traceback" not in result.stderr and "Compute Failed" not in result.stderr
        text = log.read_text()
        assert "Compute Failed" in text and "boom from a user stage" in text


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run_cli("run", str(_failing(tmp_path, 1)), "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "boom from a user stage" in result.stderr
