"""The sandbox child: a hung item is killed within its limit, a crash is survived, and nothing
is left running."""

from __future__ import annotations

import time

import psutil
import pytest

from dataprep.engine.sandbox import CRASHED, ERROR, OK, TIMEOUT, Sandbox, SandboxError


def _children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]


def test_hangs_and_crashes_cost_one_item_each_and_the_rest_go_on() -> None:
    before = {p.pid for p in _children()}
    box = Sandbox("tests.helpers.sandbox_work:work", {"suffix": "!"}, timeout_s=1.0)
    t0 = time.monotonic()
    results = box.map(["a", "hang", "b", "crash", "c", "boom", "d"])
    elapsed = time.monotonic() - t0
    assert results == [(OK, "A!"), (TIMEOUT, None), (OK, "B!"), (CRASHED, None), (OK, "C!"),
                       (ERROR, "ValueError: no good"), (OK, "D!")]
    assert elapsed < 15  # one time limit, three child starts
    assert box.started == 3
    assert box.map(["e"]) == [(OK, "E!")]  # the same child serves the next batch
    assert box.started == 3
    alive = [p for p in _children() if p.pid not in before]
    assert len(alive) == 1 and "dataprep.engine.sandbox" in " ".join(alive[0].cmdline())
    box.close()
    assert not [p for p in _children() if p.pid not in before]


def test_a_dropped_sandbox_ends_its_child() -> None:
    import gc

    before = {p.pid for p in _children()}
    box = Sandbox("tests.helpers.sandbox_work:work", {}, timeout_s=5.0)
    assert box.map(["x"]) == [(OK, "X")]
    del box
    gc.collect()
    assert not [p for p in _children() if p.pid not in before]


def test_the_warmup_runs_before_the_first_item_and_is_not_timed_against_it() -> None:
    box = Sandbox("tests.helpers.sandbox_work:work", {}, timeout_s=1.0, warmup="slow")  # 1.5 s, once
    from dataprep.engine.malloc_tuning import MMAP_THRESHOLD

    assert box.map(["x", "env"]) == [(OK, "X"), (OK, str(MMAP_THRESHOLD))]  # and the workers' heap settings
    assert box.started == 1
    broken = Sandbox("tests.helpers.sandbox_work:work", {}, timeout_s=1.0, warmup="boom")
    with pytest.raises(SandboxError, match="ValueError: no good"):
        broken.map(["x"])


def test_a_function_the_child_cannot_import_is_an_error_not_a_crash_per_item() -> None:
    before = {p.pid for p in _children()}
    box = Sandbox("tests.helpers.no_such_module:work", {}, timeout_s=5.0)
    with pytest.raises(SandboxError, match="ModuleNotFoundError"):
        box.map(["a", "b"])
    assert box.started == 1
    assert not [p for p in _children() if p.pid not in before]


def test_the_child_imports_from_the_parents_path_whatever_its_working_directory(tmp_path, monkeypatch) -> None:
    (tmp_path / "dataprep").mkdir()  # a decoy package where ``python -m`` would look first
    (tmp_path / "dataprep" / "__init__.py").write_text("raise ImportError('the decoy was imported')\n")
    monkeypatch.chdir(tmp_path)
    box = Sandbox("tests.helpers.sandbox_work:work", {}, timeout_s=5.0)
    assert box.map(["x"]) == [(OK, "X")]
    box.close()


def test_frames_cross_whole_when_a_write_is_cut_short_or_larger_than_the_pipe(monkeypatch) -> None:
    import os
    import threading

    from dataprep.engine import sandbox

    read_fd, write_fd = os.pipe()
    real_writev = os.writev
    monkeypatch.setattr(os, "writev", lambda fd, parts: real_writev(fd, [parts[0][:3]]))  # as a signal would
    got = []
    reader = sandbox._FrameReader(read_fd)
    thread = threading.Thread(target=lambda: got.extend(reader.read(5.0) for _ in range(3)))
    thread.start()
    items = [{"page": "x" * 3_000_000}, ["é" * 10, None], "last"]  # the first is larger than any pipe
    for item in items:
        sandbox._write_frame(write_fd, item)
    thread.join(10)
    os.close(write_fd)
    assert got == [(OK, item) for item in items]
    assert reader.read(1.0) == (CRASHED, None)  # the writer closed: no frame, no hang
    os.close(read_fd)
