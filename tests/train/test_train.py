"""`dataprep train` end to end: sample pages -> token shards -> 2 gloo ranks -> falling loss;
exact resume from a checkpoint; config errors before any process starts."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
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
            node = node.setdefault(p, {})
        node[last] = value
    return write_recipe(tmp_path / f"{name}.yaml", data)


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tokens_run: Path) -> Path:
    """30 fp32 steps on 2 pipeline ranks, evaluated every 10 steps (the run several tests read)."""
    root = tmp_path_factory.mktemp("trained")
    config = train_config(root, tokens_run, "e2e", steps=30, eval_every=10, peak_tflops=0.05)
    result = run_cli("train", str(config), "--nproc", "2", timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    (root / "e2e" / "stdout.txt").write_text(result.stdout)
    return root / "e2e"


def test_sample_pages_to_trained_model(tmp_path: Path, trained: Path) -> None:
    out = trained
    stdout = (out / "stdout.txt").read_text()
    assert "stage 0: embeddings" in stdout and "step    30" in stdout and "pp 2 x dp 1" in stdout
    rows = metrics(out)
    assert [r["step"] for r in rows] == list(range(1, 31))
    first, last = sum(r["loss"] for r in rows[:3]) / 3, sum(r["loss"] for r in rows[-3:]) / 3
    assert first > 7.0  # about ln(2000) = 7.6 at the start
    assert last < first - 1.0, (first, last)
    assert all(0 <= r["bubble"] < 1 and r["tokens_per_s"] > 0 for r in rows)
    assert all(r["tokens_per_s_per_rank"] == pytest.approx(r["tokens_per_s"] / 2) for r in rows)
    assert all(0 < r["mfu"] < 1 for r in rows)  # peak_tflops given, so MFU is reported on CPU too
    assert all(len(r["peak_memory_mb"]) == 2 and min(r["peak_memory_mb"]) > 50 for r in rows)
    # evaluation every 10 steps on the held-out split, falling as the model learns
    val = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in val] == [10, 20, 30]
    assert val[-1]["val_loss"] < val[0]["val_loss"] - 0.3, val
    assert all(r["val_ppl"] == pytest.approx(math.exp(r["val_loss"])) for r in val)
    assert "val_loss" in stdout and "mfu" in stdout
    for png in ("loss.png", "throughput.png", "timeline.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["simulated_bubble"] < 1 and summary["last_loss"] == rows[-1]["loss"]
    assert 0 < summary["simulated_bubble_with_spread"] < 1
    assert summary["last_val_loss"] == val[-1]["val_loss"] and 0 < summary["mfu"] < 1
    assert (summary["pp"], summary["dp"], summary["precision"]) == (2, 1, "fp32")
    assert len(summary["peak_memory_mb_per_rank"]) == 2 and summary["tokens_per_s_per_rank"] > 0
    from dataprep.train.model import GPTConfig, build_full

    shape = GPTConfig(**json.loads((out / "timeline.json").read_text())["model"])
    assert summary["parameters"] == sum(p.numel() for p in build_full(shape, 0).parameters())
    timeline = json.loads((out / "timeline.json").read_text())
    assert {s[0] for s in timeline["spans"]} == {0, 1} and {"F0", "B0", "F1", "B1"} <= set(timeline["op_costs_s"])
    # the spans are the last step's: each rank's bubble is its idle share of the schedule's makespan
    # (rank 1 ends first, 1F1B's last backward being rank 0's, and waits for it), as simulated
    ends = [max(sp[5] for sp in timeline["spans"] if sp[0] == r) for r in (0, 1)]
    assert ends[1] < ends[0] <= rows[-1]["schedule_s"]
    for r in (0, 1):
        busy = sum(sp[5] - sp[4] for sp in timeline["spans"] if sp[0] == r)
        assert 1 - busy / rows[-1]["schedule_s"] == pytest.approx(rows[-1]["bubble_per_rank"][r], abs=2e-4)
    simulated = run_cli("simulate", "--measured", str(out), "--plot", str(tmp_path / "side-by-side.png"))
    assert simulated.returncode == 0 and "simulated: step" in simulated.stdout and "measured:  step" in simulated.stdout
    assert f"bubble {100 * summary['simulated_bubble_with_spread']:.1f}% +- " in simulated.stdout  # same seed
    assert (tmp_path / "side-by-side.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((out / "checkpoints" / "step-000030" / "meta.json").read_text())
    assert (meta["step"], meta["pp"], meta["dp"], meta["schedule"]) == (30, 2, 1, "1f1b")


def test_validation_documents_never_meet_the_training_stream(tokens_run: Path) -> None:
    """By id: every document the tokenize stage held out (data/ split == val) is in tokens/val and
    in no training shard; the evaluation loader reads tokens/val only."""
    import pyarrow.dataset as ds
    from tokenizers import Tokenizer

    from dataprep.io.tokens import open_run
    from dataprep.train.loader import TokenLoader

    table = ds.dataset(tokens_run / "data", format="parquet").to_table(columns=["id", "text", "split"]).to_pylist()
    val_rows = [r for r in table if r["split"] == "val"]
    assert 5 <= len(val_rows) < len(table) // 5
    meta, train_shards = open_run(tokens_run)
    _, val_shards = open_run(tokens_run, split="val")

    def documents(shards) -> set[tuple[int, ...]]:
        return {tuple(s.document(i).tolist()) for s in shards for i in range(len(s.offsets) - 1)}

    train_docs, val_docs = documents(train_shards), documents(val_shards)
    tokenizer = Tokenizer.from_file(str(tokens_run / "tokens" / "tokenizer.json"))
    for row in val_rows:
        ids = tuple(tokenizer.encode(row["text"]).ids) + (meta["eos_id"],)
        assert ids in val_docs and ids not in train_docs, row["id"]
    assert len(val_docs) == len(val_rows)
    loader = TokenLoader(tokens_run, 64, 4, split="val")
    assert loader.sources[0].tokens == sum(len(d) for d in val_docs)


def test_bf16_follows_fp32_with_fp32_master_weights(tmp_path: Path, tokens_run: Path, trained: Path) -> None:
    config = train_config(tmp_path, tokens_run, "bf16", steps=30, precision="bf16", eval_every=0)
    result = run_cli("train", str(config), "--nproc", "2", timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    fp32, bf16 = metrics(trained), metrics(tmp_path / "bf16")
    assert all(math.isfinite(r["loss"]) for r in bf16)
    gap = max(abs(a["loss"] - b["loss"]) for a, b in zip(fp32, bf16))
    assert gap < 0.05, gap  # nats; measured ~0.01 on this data
    assert bf16[-1]["loss"] < bf16[0]["loss"] - 1.0
    from dataprep.train.checkpoint import SafeReader

    md = SafeReader(tmp_path / "bf16" / "checkpoints" / "step-000030").read_metadata().state_dict_metadata
    weights = [k for k in md if k.startswith("model.")]
    moments = [k for k in md if k.endswith(("exp_avg", "exp_avg_sq"))]
    assert weights and len(moments) == 2 * len(weights)
    assert {md[k].properties.dtype for k in weights + moments} == {torch.float32}


def test_export_loads_in_transformers_without_dataprep(tmp_path: Path, trained: Path) -> None:
    from dataprep.train.export import load_full_model

    checkpoint = trained / "checkpoints" / "step-000030"
    result = run_cli("train", "export", str(checkpoint), "-o", str(tmp_path / "hf"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in (tmp_path / "hf").iterdir()}
    script = tmp_path / "load.py"
    script.write_text(HF_SCRIPT)
    done = subprocess.run([sys.executable, "-I", str(script), str(tmp_path / "hf"), str(tmp_path / "logits.pt")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["architecture"] == "GPT2LMHeadModel"
    assert report["round_trip"] and report["generated"] == 8
    saved = torch.load(tmp_path / "logits.pt", weights_only=True)
    ours, _ = load_full_model(checkpoint)
    with torch.no_grad():
        diff = (ours(saved["ids"]) - saved["logits"]).abs().max().item()
    assert diff <= 1e-4, diff


HF_SCRIPT = """
import json, sys
sys.modules["dataprep"] = None  # loading must not need dataprep
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
folder, out = sys.argv[1], sys.argv[2]
model = AutoModelForCausalLM.from_pretrained(folder).eval()
tokenizer = AutoTokenizer.from_pretrained(folder)
text = "The Debian project is an association of individuals who have made common cause."
ids = tokenizer(text)["input_ids"]
ids_batch = torch.tensor([ids[:24], ids[-24:]])
with torch.no_grad():
    logits = model(ids_batch).logits
    generated = model.generate(torch.tensor([ids[:8]]), max_new_tokens=8, do_sample=False)
torch.save({"ids": ids_batch, "logits": logits}, out)
print(json.dumps({"architecture": type(model).__name__, "round_trip": tokenizer.decode(ids) == text,
                  "generated": int(generated.shape[1] - 8)}))
"""


def test_a_checkpoint_continues_bit_exactly_or_in_another_layout(tmp_path: Path, tokens_run: Path,
                                                                trained: Path) -> None:
    """The 30-step pp 2 / 1f1b run's step-20 checkpoint.  Resumed unchanged, step 21 is bit for bit
    the uninterrupted run's; loaded into one process (no pipeline), into v-half with vocabulary
    parallelism (V placement; the checkpoint's whole matrices loaded as each rank's rows), into
    dp 2 x pp 2 with vocabulary parallelism (FSDP2-sharded stages; the vocabulary shards are
    replicas whose gradients are averaged and counted once in the norm) and into the schedule
    ``auto`` picks, step 21's loss and gradient norm are the same within fp32 tolerance.
    (Step 21's loss and gradient norm come before its update, so the shorter runs' LR schedule,
    which ends at their step 21, does not enter.)"""
    reference = metrics(trained)
    for name, nproc, changes in [("same", 2, {"steps": 30}), ("pp1", 1, {}),
                                 ("vhalf-vocab", 2, {"pipeline.schedule": "v-half", "pipeline.vocab_parallel": True}),
                                 ("dp2pp2-vocab", 4, {"parallel.dp": 2, "pipeline.vocab_parallel": True}),
                                 ("auto", 2, {"pipeline.schedule": "auto", "pipeline.memory_per_rank": 1})]:
        if name == "same":  # the run stopped after its step-20 checkpoint: its folder without what came later
            shutil.copytree(trained, tmp_path / name)
            shutil.rmtree(tmp_path / name / "checkpoints" / "step-000030")
        else:
            shutil.copytree(trained / "checkpoints" / "step-000020", tmp_path / name / "checkpoints" / "step-000020")
        config = train_config(tmp_path, tokens_run, name, **{"steps": 21, "eval_every": 10, "peak_tflops": 0.05,
                                                             **changes})
        result = run_cli("train", str(config), "--nproc", str(nproc), "--resume", timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "resuming after step 20" in result.stdout
        if name == "auto":
            assert "schedule auto:" in result.stderr and "shortest predicted step" in result.stderr
        rows = metrics(tmp_path / name)
        if name == "same":
            assert [r["step"] for r in rows] == list(range(1, 31))
            assert rows[:20] == reference[:20]
            for mine, theirs in zip(rows[20:], reference[20:]):  # bit for bit
                assert (mine["loss"], mine["grad_norm"], mine.get("val_loss")) == (
                    theirs["loss"], theirs["grad_norm"], theirs.get("val_loss"))
        else:
            step21 = next(r for r in rows if r["step"] == 21)
            assert step21["loss"] == pytest.approx(reference[20]["loss"], rel=1e-5), name
            assert step21["grad_norm"] == pytest.approx(reference[20]["grad_norm"], rel=1e-4), name


def test_config_errors_stop_before_any_rank_starts(tmp_path: Path, tokens_run: Path) -> None:
    config = train_config(tmp_path, tokens_run, "bad", **{"pipeline.schedule": "zb-v", "model.layers": 1})
    result = run_cli("train", str(config), "--nproc", "2")
    assert result.returncode == 2
    assert "pipeline" in result.stderr and "5 stages" not in result.stderr
    assert "cannot split 1 layers + embeddings + head = 3 pieces into 4 stages" in result.stderr
    assert "Traceback" not in result.stderr

    config = train_config(tmp_path, tokens_run, "small-vocab", **{"model.vocab_size": 10})
    result = run_cli("train", str(config), "--nproc", "2")
    assert result.returncode == 2 and "model.vocab_size: 10 is smaller than the runs' vocabulary" in result.stderr

    config = train_config(tmp_path, tokens_run, "no-room", **{"pipeline.schedule": "auto",
                                                              "pipeline.memory_per_rank": 0.0001})
    result = run_cli("train", str(config), "--nproc", "2")
    assert result.returncode == 2, result.stderr
    assert "pipeline.schedule: nothing fits in 0.1 MiB per rank: the smallest need is" in result.stderr

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
