"""Progress when nobody watches a terminal: one line per interval on stderr, from a timer (so
a line comes while a long shard runs), a last line per finished group, none with --quiet."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from dataprep.engine.progress import LogProgress, QuietProgress, default_progress
from tests.conftest import SAMPLE_WEB, run_cli, write_recipe

LINE = re.compile(r"^\[dataprep \d\d:\d\d:\d\d\] (.+?): (\d+)/(\d+) shards, [\d,]+ docs/s, elapsed \d+:\d\d:\d\d, "
                  r"eta (\d+:\d\d:\d\d|unknown)$")


def test_a_line_per_interval_even_while_no_shard_finishes() -> None:
    out = io.StringIO()
    progress = LogProgress(interval_s=0.2, stream=out)
    progress.start("read", total=4)
    time.sleep(0.7)  # no shard done yet: the timer still reports
    progress.advance(100)
    time.sleep(0.5)
    for _ in range(3):
        progress.advance(100)
    progress.stop()
    lines = out.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    shards = [int(LINE.match(line).group(2)) for line in lines]
    assert shards[:3] == [0, 0, 0] and 1 in shards
    assert 5 <= len(lines) <= 9, lines  # ~6 ticks in 1.2 s, plus the group's last line
    assert shards[-1] == 4 and lines[-1].endswith(", eta 0:00:00")
    assert "eta unknown" in lines[0]
    time.sleep(0.3)
    assert out.getvalue().splitlines() == lines  # stopped: the timer is gone


def test_an_unfinished_group_ends_without_a_last_line() -> None:
    out = io.StringIO()
    progress = LogProgress(interval_s=60, stream=out)
    progress.start("read", total=4)
    progress.advance(10)
    progress.stop()  # a failing run: its error is the last line
    assert out.getvalue() == ""


def test_quiet_shows_nothing_and_pipes_get_lines() -> None:
    assert isinstance(default_progress(quiet=True), QuietProgress)
    assert isinstance(default_progress(), LogProgress)  # pytest's stderr is not a terminal


def _recipe(tmp_path: Path, name: str, sleep: float) -> Path:
    return write_recipe(tmp_path / f"{name}.yaml", {
        "name": name, "input": {"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "64KB"},
        "output": {"path": str(tmp_path / name)}, "executor": {"workers": 1},
        "stages": [{"tests.helpers.transforms:Sleep": {"seconds": sleep}}]})


def test_a_piped_run_logs_progress_lines_and_quiet_turns_them_off(tmp_path: Path) -> None:
    result = run_cli("run", str(_recipe(tmp_path, "logged", 0.06)), "--progress-every", "0.3")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("[dataprep ")]
    assert len(lines) >= 3 and all(LINE.match(line) for line in lines), result.stderr
    done, total = (int(x) for x in LINE.match(lines[-1]).group(2, 3))
    assert done == total > 1
    quiet = run_cli("run", str(_recipe(tmp_path, "quiet", 0.0)), "--quiet")
    assert quiet.returncode == 0 and "[dataprep " not in quiet.stderr
