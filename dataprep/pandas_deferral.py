"""pyarrow without importing pandas until a process imports it itself.

pyarrow's first conversion of Python values (``pa.array``, ``pa.scalar``, ``pa.table`` of lists)
asks its pandas shim whether the values are pandas objects, and the shim answers by importing
pandas: 0.3-0.4 s of every process that runs dataprep where pandas is installed, the largest
part of a small run's start-up, though dataprep never hands pyarrow a pandas object.

:func:`defer_pandas` (called once, when :mod:`dataprep.schema` is first imported) lets that
first question be answered with an ``ImportError`` raised in the calling thread only, so pyarrow
records "no pandas", and arranges that when any thread of the process later imports pandas,
pyarrow is told right after the import completes (through its shim's ``pd`` property, which
retries the import: the shim's own documented behaviour for calls that need pandas).  Every
pyarrow call then behaves as if pandas had been there from the start: pandas objects are
recognised, ``to_pandas`` works.  Written by hand: the standard library has the pieces (meta
path finders, loaders) but no post-import hook, and pyarrow no switch for its probe.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

_once = threading.Lock()
_deferred = False  # defer_pandas has run in this process


class _TellPyarrowAfterLoad(importlib.abc.Loader):
    """Runs the real loader, then makes pyarrow import the now-loaded pandas."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader  # resources and reloads go to the real loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        import pyarrow.lib

        pyarrow.lib._pandas_api.pd  # noqa: B018 - the shim retries the import and enables pandas support


class _PandasFinder(importlib.abc.MetaPathFinder):
    """While ``probing`` is the calling thread: pandas is not importable there.  Afterwards, the
    first import of pandas (any thread) is wrapped so that pyarrow learns of it; then it leaves."""

    def __init__(self) -> None:
        self.probing: int | None = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "pandas":
            return None
        if self.probing == threading.get_ident():
            raise ImportError("pandas is not imported while pyarrow probes for it (dataprep.pandas_deferral)")
        try:
            sys.meta_path.remove(self)
        except ValueError:  # another thread got here first
            return None
        spec = importlib.util.find_spec(name)  # from the finders after this one
        if spec is not None and spec.loader is not None:
            spec.loader = _TellPyarrowAfterLoad(spec.loader)
        return spec


def defer_pandas() -> None:
    """Answer pyarrow's pandas probe without importing pandas (once per process; nothing to do
    when pandas is already imported or not installed)."""
    global _deferred
    with _once:
        if _deferred:
            return
        _deferred = True
        if "pandas" in sys.modules or importlib.util.find_spec("pandas") is None:
            return
        import pyarrow as pa

        finder = _PandasFinder()
        sys.meta_path.insert(0, finder)
        try:
            pa.scalar(0)  # pyarrow's first conversion: its probe meets the ImportError
        finally:
            finder.probing = None
