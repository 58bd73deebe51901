"""`dataprep train` end to end: sample pages -> token shards -> 2 gloo ranks -> falling loss;
exact resume from a checkpoint; config errors before any process starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import REPO, SAMPLE_WEB, run_cli, write_recipe


@pytest.fixture(scope="module")
def tokens_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample pages through the web_to_tokens recipe (quickstart stages + tokenize)."""
    root = tmp_path_factory.mktemp("tokens")
    data = yaml.safe_load((REPO / "recipes" / "web_to_tokens.yaml").read_text())
    data["input"]["path"] = str(SAMPLE_WEB / "**" / "*.html")
    data["output"]["path"] = str(root / "run")
    data["executor"] = {"workers": 2}
    result = run_cli("run", str(write_recipe(root / "recipe.yaml", data)))
    assert result.returncode == 0, result.stderr
    assert (root / "run" / "tokens" / "tokens.json").exists()
    return root / "run"


def train_config(tmp_path: Path, run: Path, name: str, **changes) -> Path:
    data = yaml.safe_load((REPO / "recipes" / "train_tiny.yaml").read_text())
    data["data"]["runs"] = str(run)
    data["output"]["path"] = str(tmp_path / name)
    for key, value in changes.items():
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    return write_recipe(tmp_path / f"{name}.yaml", data)


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


def test_sample_pages_to_trained_model(tmp_path: Path, tokens_run: Path) -> None:
    config = train_config(tmp_path, tokens_run, "e2e", steps=30)
    result = run_cli("train", str(config), "--nproc", "2", timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stage 0: embeddings" in result.stdout and "step    30" in result.stdout
    rows = metrics(tmp_path / "e2e")
    assert [r["step"] for r in rows] == list(range(1, 31))
    first, last = sum(r["loss"] for r in rows[:3]) / 3, sum(r["loss"] for r in rows[-3:]) / 3
    assert first > 7.0  # about ln(2000) = 7.6 at the start
    assert last < first - 1.0, (first, last)
    assert all(0 <= r["bubble"] < 1 and r["tokens_per_s"] > 0 for r in rows)
    out = tmp_path / "e2e"
    for png in ("loss.png", "throughput.png", "timeline.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["simulated_bubble"] < 1 and summary["last_loss"] == rows[-1]["loss"]
    timeline = json.loads((out / "timeline.json").read_text())
    assert {s[0] for s in timeline["spans"]} == {0, 1} and {"F0", "B0", "F1", "B1"} <= set(timeline["op_costs_s"])
    simulated = run_cli("simulate", "--measured", str(out), "--plot", str(tmp_path / "side-by-side.png"))
    assert simulated.returncode == 0 and "simulated: step" in simulated.stdout and "measured:  step" in simulated.stdout
    assert (tmp_path / "side-by-side.png").read_bytes()[:4] == b"\x89PNG"
    # checkpoints load with weights_only=True: plain tensors and containers, no code
    state = torch.load(out / "checkpoints" / "step-000030" / "rank-1.pt", weights_only=True)
    assert state["step"] == 30 and state["loader"]["position"] == 30 * 16


@pytest.mark.parametrize("schedule", ["zb-v", "zb-h2"])
def test_resume_from_a_checkpoint_gives_the_same_losses(tmp_path: Path, tokens_run: Path, schedule: str) -> None:
    config = train_config(tmp_path, tokens_run, "full", steps=8, **{"output.checkpoint_every": 4,
                                                                     "pipeline.schedule": schedule})
    result = run_cli("train", str(config), "--nproc", "2", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    full = metrics(tmp_path / "full")

    # a run that stopped after its step-4 checkpoint: the same folder without what came later
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "checkpoints" / "step-000008")
    config_cut = train_config(tmp_path, tokens_run, "cut", steps=8, **{"output.checkpoint_every": 4,
                                                                        "pipeline.schedule": schedule})
    result = run_cli("train", str(config_cut), "--nproc", "2", "--resume", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming after step 4" in result.stdout
    resumed = metrics(tmp_path / "cut")
    assert [r["step"] for r in resumed] == list(range(1, 9))
    assert [r["loss"] for r in resumed[4:]] == [r["loss"] for r in full[4:]]  # bit for bit
    assert [r["grad_norm"] for r in resumed[4:]] == [r["grad_norm"] for r in full[4:]]


def test_config_errors_stop_before_any_rank_starts(tmp_path: Path, tokens_run: Path) -> None:
    config = train_config(tmp_path, tokens_run, "bad", **{"pipeline.schedule": "zb-v", "model.layers": 1})
    result = run_cli("train", str(config), "--nproc", "2")
    assert result.returncode == 2
    assert "pipeline" in result.stderr and "5 stages" not in result.stderr
    assert "cannot split 1 layers + embeddings + head = 3 pieces into 4 stages" in result.stderr
    assert "Traceback" not in result.stderr

    config = train_config(tmp_path, tokens_run, "bad2", **{"data.runs": str(tmp_path / "nowhere"),
                                                           "data.microbatchs": 3})
    result = run_cli("train", str(config))
    assert result.returncode == 2
    assert "data.microbatchs: unknown key; did you mean 'microbatches'?" in result.stderr
    assert "bad2.yaml:" in result.stderr


def test_a_failing_rank_stops_the_run_without_a_traceback(tmp_path: Path, tokens_run: Path) -> None:
    config = train_config(tmp_path, tokens_run, "short", **{"data.seq_len": 10_000_000})
    result = run_cli("train", str(config), "--nproc", "2", timeout=120)
    assert result.returncode == 1
    assert "make no sequence of 10000001 tokens" in result.stderr and "train failed" in result.stderr
    assert "Traceback" not in result.stderr


class NotWeights:
    """Something a tampered checkpoint could carry: unpickling it would import and call code."""

    def __reduce__(self):
        return (print, ("this ran while loading a checkpoint",))


def test_checkpoints_with_code_in_them_are_refused(tmp_path: Path) -> None:
    from dataprep.train.trainer import read_checkpoint

    torch.save({"step": 3, "weights": torch.ones(2)}, tmp_path / "ok.pt")
    assert read_checkpoint(tmp_path / "ok.pt")["step"] == 3
    torch.save({"step": 3, "payload": NotWeights()}, tmp_path / "bad.pt")
    with pytest.raises(Exception, match="(?i)weights only|weights_only|unsupported"):
        read_checkpoint(tmp_path / "bad.pt")
