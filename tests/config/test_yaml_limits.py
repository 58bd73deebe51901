"""A configuration file cannot take the machine down: alias bombs, merge-key bombs, huge files
and runaway nesting are refused at once, with a message; ordinary anchors still work."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataprep.config.errors import ConfigError, RecipeError
from dataprep.config.recipe import load_recipe
from dataprep.config.yaml_source import MAX_NODES, expanded_size
from tests.conftest import SAMPLE_WEB, run_cli


def _alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level a list of ten aliases of the level below (10^levels nodes)."""
    lines = ["name: bomb", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    lines += ["input: {path: x, format: text}", "output: {path: y}", f"stages: [*l{levels - 1}]"]
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int = 8) -> str:
    lines = ["name: merges", "m0: &m0 {" + ", ".join(f"k{i}: {i}" for i in range(10)) + "}"]
    lines += [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 10)}]}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [_alias_bomb(), _merge_bomb()], ids=["aliases", "merge-keys"])
def test_an_expansion_bomb_is_refused_at_once(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    code = ("import resource, time, sys\n"
            "from dataprep.config.recipe import load_recipe\n"
            "from dataprep.config.errors import RecipeError\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "t0 = time.perf_counter()\n"
            f"try:\n    load_recipe({str(path)!r})\nexcept RecipeError as e:\n    print(e)\n"
            "print('SECONDS', time.perf_counter() - t0)\n"
            "print('GROWTH_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "alias bomb" in out and f"more than {MAX_NODES:,}" in out
    seconds = float(out.split("SECONDS")[1].split()[0])
    growth_mb = int(out.split("GROWTH_KB")[1].split()[0]) / 1024
    assert seconds < 1.0, f"refusing the bomb took {seconds:.2f} s"
    assert growth_mb < 100, f"refusing the bomb grew the process by {growth_mb:.0f} MB"


def test_the_cli_refuses_a_bomb_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb())
    for command in ("validate", "run"):
        result = run_cli(command, str(path))
        assert result.returncode == 2 and "alias bomb" in result.stderr and "Traceback" not in result.stderr


def test_ordinary_anchors_and_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(f"""name: anchors
input: {{path: "{SAMPLE_WEB}/en/*.html", format: html}}
output: {{path: {tmp_path / "out"}}}
stages:
  - extract: {{}}
  - langid: &strict {{keep: [en], min_score: 0.5}}
  - quality: {{preset: gopher}}
  - langid: *strict
""")
    recipe = load_recipe(path)
    first, second = recipe.stages[1], recipe.stages[3]
    assert first.params == second.params and first.params.keep == ["en"]


def test_the_size_count_shares_subtrees_and_stops_at_the_limit() -> None:
    import yaml

    # the mapping, key a, list a (1 + 2), key b, list b (1 + 3 copies of list a)
    assert expanded_size(yaml.compose("a: &a [x, x]\nb: [*a, *a, *a]\n", Loader=yaml.SafeLoader)) == 16
    assert expanded_size(yaml.compose(_alias_bomb(9), Loader=yaml.SafeLoader)) == MAX_NODES + 1
    recursive = yaml.compose("a: &a [1, 2]\n", Loader=yaml.SafeLoader)
    recursive.value[0][1].value.append(recursive)  # a cycle, as a recursive anchor would make
    assert expanded_size(recursive) == MAX_NODES + 1


def test_huge_and_deeply_nested_files_are_refused(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: x\n# " + "y" * (5 << 20) + "\n")
    with pytest.raises(RecipeError, match="a configuration is at most"):
        load_recipe(huge)
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: x\nstages: " + "[" * 50_000 + "]" * 50_000 + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="nests too deeply"):
        load_recipe(deep)
    assert time.perf_counter() - t0 < 30  # refused by a scan before parsing (loose: CI runs two workers)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
