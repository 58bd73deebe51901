"""Stages set up once per worker process: models load in ``setup()`` the first time a task
needs a configured stage, and every later task on that worker reuses the loaded instance."""

from __future__ import annotations

import threading

from dataprep.transform import Transform

_MODELS: dict[str, Transform] = {}
_MODELS_LOCK = threading.Lock()


def prepared(stage: Transform) -> Transform:
    """The set-up instance of ``stage`` for this worker process (models load once per worker)."""
    key = f"{type(stage).__module__}.{type(stage).__qualname__}|{stage.cache_key()}"
    with _MODELS_LOCK:
        ready = _MODELS.get(key)
        if ready is None:
            ready = stage.ensure_setup()
            _MODELS[key] = ready
    return ready
