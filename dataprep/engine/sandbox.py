"""A child process that runs one function over items, each within a time limit.

For library calls that can hang or crash on hostile input (main-content extraction of a page
built to be slow, a C++ parser that segfaults): :class:`Sandbox` starts a Python child once
(this module's ``_child``, on the parent's ``sys.path``, so it imports the same code whether
dataprep is a checkout or a wheel), which imports the function and says it is ready -- or
raises :class:`SandboxError` in the parent, so a broken environment fails the stage instead of
reporting every item crashed.  :meth:`Sandbox.map` then sends it a list of items; the child
answers item by item.  When an answer does not come within ``timeout_s`` of the previous one,
the child is killed (``SIGKILL``), the item is reported ``timeout``, a new child is started and
the remaining items go on there; a child that dies on an item reports it ``crashed``.  Nothing
is left behind: a killed child is waited for, the child exits when its parent's pipe closes or
its parent dies, and :meth:`Sandbox.close` (also run when the object is garbage-collected or the
process exits) ends the current one.

Written here because the standard library's pools do not fit: ``multiprocessing`` refuses to
start children from a daemonic Dask worker, ``concurrent.futures`` cannot kill one hung task
(only its whole pool), and a thread cannot be stopped at all.  The protocol is pickled frames,
an 8-byte length first, on the child's stdin and stdout (widened to 1 MB where Linux allows,
and each frame written in one call).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from dataprep.engine.malloc_tuning import CHILD_ENV

OK, TIMEOUT, CRASHED, ERROR = "ok", "timeout", "crashed", "error"
PIPE_SIZE = 1 << 20  # Linux's default pipe-max-size for unprivileged users
START_TIMEOUT_S = 120.0  # for the child to import the function (a cold import on a loaded machine)
_HEADER = struct.Struct("<Q")
_BOOT = ("import sys, json; sys.path[:] = json.loads(sys.argv[2]); "
         "from dataprep.engine.sandbox import _child; _child(int(sys.argv[1]))")


class SandboxError(RuntimeError):
    """The child cannot run the function at all (it does not import, or dies at start)."""


def _write_frame(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    header = _HEADER.pack(len(data))
    written = os.writev(fd, [header, data])  # one call, and no copy of a page-sized frame
    if written < len(header) + len(data):  # a pipe write cut short (a signal): the rest, in order
        view = memoryview(header + data)[written:]
        while view:
            view = view[os.write(fd, view):]


class _FrameReader:
    """Frames from a pipe, each read within a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, bytearray()

    def read(self, timeout: float | None) -> tuple[str, Any]:
        """The next frame, or ``(TIMEOUT, None)`` when it is not whole by the deadline, or
        ``(CRASHED, None)`` when the pipe closes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if len(self.buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= _HEADER.size + size:
                    with memoryview(self.buffer) as view:  # released before the buffer shrinks
                        obj = pickle.loads(view[_HEADER.size:_HEADER.size + size])
                    del self.buffer[:_HEADER.size + size]
                    return OK, obj
            wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                return TIMEOUT, None
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return CRASHED, None
            self.buffer += chunk


def _widen(proc: subprocess.Popen) -> None:
    """Pipes of ``PIPE_SIZE`` bytes (Linux; the default is 64 KB): a page-sized frame crosses in
    one or a few writes instead of one wake-up of the other side per 64 KB."""
    if not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    for stream in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size for this user: the default stays
            fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


class Sandbox:
    """``fn(item, **config)`` in a child process, ``fn`` named ``"module:function"``."""

    def __init__(self, fn: str, config: dict[str, Any], timeout_s: float, warmup: Any = None) -> None:
        """``warmup``: an item the child runs once before it says it is ready (within the start
        limit, not ``timeout_s``), so that a library's lazy set-up on its first call is not
        charged to the first real item; an exception there is a :class:`SandboxError`."""
        self.fn, self.config, self.timeout_s, self.warmup = fn, config, timeout_s, warmup
        self._proc: subprocess.Popen | None = None
        self._reader: _FrameReader | None = None
        self.started = 0  # children started, for tests and logs
        self._slot: list[subprocess.Popen | None] = [None]  # shared with the finalizer, which must not hold self
        weakref.finalize(self, Sandbox._end, self._slot)

    @staticmethod
    def _end(slot: list[subprocess.Popen | None]) -> None:
        if slot[0] is not None:
            _kill(slot[0])
            slot[0] = None

    def _start(self) -> None:
        # ``-c`` and the parent's own sys.path: the child imports what the parent imports (an
        # editable checkout, a wheel), whatever its working directory holds
        # and the heap settings of the workers: the child's large allocations come from the heap
        self._proc = subprocess.Popen([sys.executable, "-c", _BOOT, str(os.getpid()), json.dumps(sys.path)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
                                      env={**os.environ, **CHILD_ENV})
        self._slot[0] = self._proc
        _widen(self._proc)
        self._reader = _FrameReader(self._proc.stdout.fileno())
        self.started += 1
        _write_frame(self._proc.stdin.fileno(), (self.fn, self.config, self.warmup))
        status, answer = self._reader.read(START_TIMEOUT_S)
        if status != OK or answer[0] != OK:
            self._stop()
            why = answer[1] if status == OK else ("it did not start in time" if status == TIMEOUT else "it died")
            raise SandboxError(f"the sandbox child for {self.fn} cannot run: {why}")

    def _stop(self) -> None:
        Sandbox._end(self._slot)
        self._proc, self._reader = None, None

    def map(self, items: list[Any]) -> list[tuple[str, Any]]:
        """``(status, value)`` per item: ``(OK, result)``, ``(ERROR, message)`` for an exception,
        ``(TIMEOUT, None)`` or ``(CRASHED, None)``."""
        results: list[tuple[str, Any]] = []
        while len(results) < len(items):
            if self._proc is None:
                self._start()
            assert self._proc is not None and self._reader is not None
            try:
                _write_frame(self._proc.stdin.fileno(), items[len(results):])
            except BrokenPipeError:  # it died between batches: start another
                self._stop()
                continue
            while len(results) < len(items):
                status, frame = self._reader.read(self.timeout_s)
                if status == OK:
                    results.append(frame)
                    continue
                self._stop()  # hung (killed now) or dead: the item is lost, the rest go to a new child
                results.append((status, None))
                break
        return results

    def close(self) -> None:
        """End the child (a later :meth:`map` starts another)."""
        self._stop()


def _watch_parent(parent: int) -> None:
    """The child's guard: exit when the parent process is gone (even mid-item)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _child(parent: int) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    stdin, stdout = sys.stdin.buffer.fileno(), sys.stdout.buffer.fileno()
    sys.stdout = sys.stderr  # anything the function prints must not break the frames
    reader = _FrameReader(stdin)
    status, init = reader.read(None)
    if status != OK:
        return
    try:
        module, _, name = init[0].partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        config = init[1]
        if init[2] is not None:
            fn(init[2], **config)
    except Exception as exc:  # noqa: BLE001 - the parent raises it
        _write_frame(stdout, (ERROR, f"{type(exc).__name__}: {exc}"))
        return
    _write_frame(stdout, (OK, None))
    while True:
        status, items = reader.read(None)
        if status != OK:
            return
        for item in items:
            try:
                answer = (OK, fn(item, **config))
            except Exception as exc:  # noqa: BLE001 - reported to the parent with the item
                answer = (ERROR, f"{type(exc).__name__}: {exc}")
            _write_frame(stdout, answer)

