"""A run never reads its own output: an output folder inside an input folder, or an input glob
that matches what the run writes, is refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataprep import OutputError, Pipeline
from dataprep.io.inputs import InputSpec, input_reads_output
from tests.conftest import run_cli, write_recipe


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"text": "a document"}\n')
    return tmp_path


@pytest.mark.parametrize("path,out,why", [
    ("in", "in/out", "is inside the input folder"),
    ("in", "in", "is inside the input folder"),
    ("**", "out", "matches what the run writes"),
    ("**/*.parquet", "runs/x", "matches what the run writes"),
    ("*/report.html", "out", "matches what the run writes"),
])
def test_refused(inputs: Path, path: str, out: str, why: str) -> None:
    spec = InputSpec(path=str(inputs / path), format="jsonl")
    assert why in (input_reads_output(spec, str(inputs / out)) or "")
    with pytest.raises(OutputError, match="would read its own output"):
        Pipeline(input=spec, output=str(inputs / out)).run(workers=1)
    recipe = write_recipe(inputs / "r.yaml", {"name": "r", "input": {"path": str(inputs / path), "format": "jsonl"},
                                              "output": {"path": str(inputs / out)}})
    result = run_cli("validate", str(recipe))
    assert result.returncode == 2 and "output.path" in result.stderr and "would read its own output" in result.stderr


@pytest.mark.parametrize("path,out", [("in", "out"), ("in/*.jsonl", "in/out"), ("in/**/*.jsonl", "in/out")])
def test_allowed(inputs: Path, path: str, out: str) -> None:
    assert input_reads_output(InputSpec(path=str(inputs / path), format="jsonl"), str(inputs / out)) is None


def test_a_symlinked_output_is_seen_through(inputs: Path) -> None:
    (inputs / "link").symlink_to(inputs / "in")
    spec = InputSpec(path=str(inputs / "in"), format="jsonl")
    assert "inside the input folder" in input_reads_output(spec, str(inputs / "link" / "out"))
