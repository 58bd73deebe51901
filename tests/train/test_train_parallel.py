"""Data x pipeline parallel (4 gloo processes) equals the unsplit model; document masking;
checkpoints that cannot run code; config errors for the trainer's parallel keys."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp

from dataprep.config.errors import ConfigError
from dataprep.train.checkpoint import CheckpointError, SafeReader, load
from dataprep.train.model import GPTConfig, build_full, document_ids, token_loss
from tests.helpers.gloo_workers import run_workers
from tests.helpers.pipeline_worker import BATCH, CFG, SEED, batch

SCHEDULES_DP = ["1f1b", "zb-v"]


@pytest.fixture(scope="module")
def dp_pp_grads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dp-pp-grads")
    run_workers("tests.helpers.dp_pp_worker", 4, out, ",".join(SCHEDULES_DP))
    return out


@pytest.mark.parametrize("name", SCHEDULES_DP)
def test_dp2_pp2_loss_and_gradients_equal_the_unsplit_model(dp_pp_grads: Path, name: str) -> None:
    model = build_full(CFG, SEED)
    inputs, labels = batch()
    loss = token_loss(model(inputs), labels, 1.0 / (BATCH * CFG.seq_len))  # token mean over the global batch
    loss.backward()
    reference = {n: p.grad for n, p in model.named_parameters()}

    saved = [torch.load(dp_pp_grads / f"{name}-rank{r}.pt", weights_only=True) for r in range(4)]
    assert sorted((s["dp_rank"], s["pp_rank"]) for s in saved) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # each replica's loss is the mean over its half; the replicas' mean is the global mean
    assert sum(sum(s["losses"]) for s in saved) / 2 == pytest.approx(loss.item(), rel=1e-5)
    # the forward-only evaluation path gives the same loss, through every placement (loop and V)
    assert sum(len(s["eval_losses"]) for s in saved) == 2 * 4
    assert sum(sum(s["eval_losses"]) for s in saved) / 2 == pytest.approx(loss.item(), rel=1e-5)
    assert all(any(s["sharded"]) for s in saved), "FSDP2 did not shard the stages over dp"
    for replica in (0, 1):
        grads = {}
        for s in saved:
            if s["dp_rank"] == replica:
                assert not set(s["grads"]) & set(grads), "a parameter lives on two pipeline ranks"
                grads.update(s["grads"])
        assert set(grads) == set(reference)
        for n, g in reference.items():
            torch.testing.assert_close(grads[n], g, rtol=1e-4, atol=1e-6, msg=lambda m, n=n: f"{name} {n}: {m}")


def test_a_document_packed_after_another_is_computed_as_if_alone() -> None:
    cfg = GPTConfig(vocab_size=50, seq_len=16, layers=2, d_model=16, heads=2)
    model = build_full(cfg, seed=1).eval()
    eos = 0
    first = torch.tensor([5, 6, 7, 8, 9, eos])
    second = torch.tensor([11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
    window = torch.cat([first, second])[None]
    doc = document_ids(window, eos)
    assert doc.tolist() == [[0] * 6 + [1] * 10]
    with torch.no_grad():
        masked = model(window, doc_ids=doc)[0, len(first):]
        alone = model(second[None])[0]
        unmasked = model(window)[0, len(first):]
    torch.testing.assert_close(masked, alone, rtol=1e-5, atol=1e-5)
    assert (unmasked - alone).abs().max() > 1e-3  # without the mask the second document sees the first
    with torch.no_grad():  # and the first document's logits do not depend on what follows it
        torch.testing.assert_close(model(window, doc_ids=doc)[0, :len(first)], model(first[None])[0],
                                   rtol=1e-5, atol=1e-5)


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/dataprep-checkpoint-ran-code",))


def test_a_tampered_checkpoint_is_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = Path("/tmp/dataprep-checkpoint-ran-code")
    marker.unlink(missing_ok=True)
    folder = tmp_path / "ckpt"
    dcp.save({"model": {"w": torch.arange(6.0).reshape(2, 3)}}, checkpoint_id=folder, no_dist=True)
    target = {"model": {"w": torch.zeros(2, 3)}}
    load(folder, target, distributed=False)
    assert target["model"]["w"].tolist() == [[0, 1, 2], [3, 4, 5]]

    # 1. metadata that would call os.system while being unpickled
    good = (folder / ".metadata").read_bytes()
    (folder / ".metadata").write_bytes(pickle.dumps(RunsCode()))
    with pytest.raises(CheckpointError, match=r"names posix\.system.*could run code"):
        load(folder, {"model": {"w": torch.zeros(2, 3)}}, distributed=False)
    assert not marker.exists()

    # 2. well-formed metadata declaring a non-tensor entry, which DCP would torch.load(weights_only=False)
    metadata = pickle.loads(good)
    from torch.distributed.checkpoint.metadata import BytesStorageMetadata

    metadata.state_dict_metadata["model.w"] = BytesStorageMetadata()
    buffer = io.BytesIO()
    pickle.dump(metadata, buffer)
    (folder / ".metadata").write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="are not tensors"):
        SafeReader(folder).read_metadata()
    assert not marker.exists()


def test_parallel_config_errors_name_the_key_and_the_arithmetic(tmp_path: Path) -> None:
    from dataprep.train.config import load_train_config
    from dataprep.train.preflight import check_training
    from tests.conftest import write_recipe

    def problems(nproc: int, **changes) -> str:
        data = {"name": "t", "steps": 2, "data": {"runs": str(tmp_path / "nowhere"), "batch_size": 16,
                                                  "microbatches": 4},
                "output": {"path": str(tmp_path / "out")}}
        for key, value in changes.items():
            node = data
            *parents, last = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        path = write_recipe(tmp_path / "t.yaml", data)
        with pytest.raises(ConfigError) as info:
            check_training(load_train_config(path), nproc, str(path))
        return str(info.value)

    assert "parallel: --nproc 6 is not pp 4 x dp 2" in problems(6, **{"parallel.pp": 4, "parallel.dp": 2})
    assert "--nproc 3 is not pp ? x dp 2" in problems(3, **{"parallel.dp": 2})
    msg = problems(4, **{"parallel.dp": 4, "data.batch_size": 8, "data.microbatches": 4})
    assert "data.batch_size: 8 sequences do not split into dp 4 replicas x 4 microbatches" in msg
    assert "batch_size: 16" in msg
    # evaluation needs a validation split: a run without tokens/val is named, with the two fixes
    from tests.train.test_loader import write_run

    run = write_run(tmp_path / "run", [[torch.arange(1, 300).numpy()]])
    msg = problems(1, **{"data.runs": str(run), "eval_every": 5})
    assert "eval_every:" in msg and "tokenize.val_fraction" in msg and "data.val_runs" in msg
    with pytest.raises(ConfigError, match=r"precision: .*'fp32' or 'bf16'"):
        load_train_config(write_recipe(tmp_path / "p.yaml", {
            "steps": 1, "precision": "fp16", "data": {"runs": "x"}, "output": {"path": "o"}}))
    with pytest.raises(ConfigError, match=r"parallel.dp: .*greater than or equal to 1"):
        load_train_config(write_recipe(tmp_path / "d.yaml", {
            "steps": 1, "parallel": {"dp": 0}, "data": {"runs": "x"}, "output": {"path": "o"}}))
    with pytest.raises(ConfigError, match=r"data.document_masks: unknown key; did you mean 'document_mask'"):
        load_train_config(write_recipe(tmp_path / "m.yaml", {
            "steps": 1, "data": {"runs": "x", "document_masks": True}, "output": {"path": "o"}}))
