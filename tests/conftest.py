"""Shared fixtures: the repository paths, a real Dask LocalCluster, recipe writing helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SAMPLE_WEB = REPO / "recipes" / "data" / "web"
DATAPREP = [str(Path(sys.executable).parent / "dataprep")]  # the installed console script

# Test helper transforms (tests.helpers.*) must be importable here and on the workers, which
# inherit sys.path from this process.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def client():
    """A real two-worker LocalCluster (processes), started as runs start theirs, shared by the
    tests that need one."""
    from dataprep.config.recipe import ExecutorSpec
    from dataprep.engine.executor import dask_client

    with dask_client(ExecutorSpec(workers=2, processes=True)) as c:
        yield c


def write_recipe(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def quickstart_recipe(out: Path, **overrides) -> dict:
    """The quickstart recipe, pointed at an output folder of the test's own."""
    data = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    data["input"]["path"] = str(SAMPLE_WEB / "**" / "*.html")
    data["output"]["path"] = str(out)
    data.update(overrides)
    return data


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([*DATAPREP, *args], cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, env=env)


def output_bytes(root: Path) -> dict[str, bytes]:
    """Every Parquet file of a run's data/, removed/, quarantine/ and stages/, by relative path."""
    out = {}
    for sub in ("data", "removed", "quarantine", "stages"):
        for p in sorted((root / sub).rglob("*.parquet")) if (root / sub).exists() else []:
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def every_stage_recipe(out: Path, tail: list[dict], workers: int | None = None) -> dict:
    """recipes/web_filters.yaml (every filter) on three languages, scoring without filtering by
    perplexity, with model paths made absolute, then the ``tail`` stages."""
    data = yaml.safe_load((REPO / "recipes" / "web_filters.yaml").read_text())
    data["input"]["path"] = str(SAMPLE_WEB / "**" / "*.html")
    data["output"]["path"] = str(out)
    if workers is not None:
        data["executor"] = {"workers": workers}
    for stage in data["stages"]:
        (name, params), = stage.items()
        if name == "langid":
            params["keep"] = ["en", "de", "fr"]
        if name == "perplexity":
            params["model"] = {"en": str(REPO / "recipes" / "models" / "en.arpa")}
            params["max"] = None
        if name == "classifier":
            params["model"] = str(REPO / "recipes" / "models" / "quality.bin")
    data["stages"] += tail
    return data
