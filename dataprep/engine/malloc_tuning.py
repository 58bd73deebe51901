"""glibc malloc settings for the processes that run stages (standard library only, so that the
sandbox's child can import it without the rest of the engine).

* ``MMAP_THRESHOLD``: allocations up to 32 MB come from the heap.  A fixed threshold (set by
  Dask's nanny through ``MALLOC_TRIM_THRESHOLD_``, or left at glibc's 128 KB start) has every
  larger NumPy temporary or parsed page mmap-ed and unmapped, its pages faulted in again and
  again (3x slower MinHash signatures; resiliparse 10-15% slower in the sandbox child, measured).
* ``TRIM_THRESHOLD``: up to 64 MB freed at the top of the heap is kept rather than trimmed and
  faulted in again batch after batch (a third fewer page faults on the MinHash benchmark).
"""

from __future__ import annotations

MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20
#: the same as environment variables, for a child process (glibc reads them at start)
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
