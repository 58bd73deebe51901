"""The README's user-defined transforms run from YAML through the CLI."""

from __future__ import annotations

from pathlib import Path

from dataprep.report.inspection import read_table
from tests.conftest import REPO, run_cli


def test_user_transforms_from_yaml(tmp_path: Path):
    out = tmp_path / "out"
    res = run_cli("run", str(REPO / "recipes" / "custom_transform.yaml"), "--set", f"output.path={out}",
                  "--workers", "1", cwd=REPO)  # my_transforms is found beside the recipe, not in the cwd
    assert res.returncode == 0, res.stderr
    data = read_table(str(out / "data"))
    assert min(data.column("n_words").to_pylist()) >= 120
    assert set(data.column("collection").to_pylist()) <= {"sample:en", "sample:de", "sample:fr", "sample:misc"}
    removed = read_table(str(out / "removed" / "02-minwords"))
    assert removed.num_rows > 0 and set(removed.column("reason").to_pylist()) == {"min_words:too_few"}
    assert max(removed.column("n_words").to_pylist()) < 120


def test_readme_shows_the_example_that_runs():
    readme = (REPO / "README.md").read_text()
    source = (REPO / "recipes" / "my_transforms.py").read_text()
    example = source[source.index("class MinWordsParams"):source.index("@document_transform")].strip()
    assert example in readme
