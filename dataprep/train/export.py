"""Export a training checkpoint as a Hugging Face ``transformers`` model folder (GPT-2).

**Why GPT-2 and not a Llama-style model.**  The trainer's model already *is* GPT-2 with an
untied head: learned token and position embeddings, pre-LayerNorm blocks (eps 1e-5) with a
fused q/k/v projection, exact GELU, a final LayerNorm.  ``GPT2LMHeadModel`` with
``tie_word_embeddings: false`` and ``activation_function: gelu`` computes the same function, so
the export is a renaming plus a transpose (GPT-2's ``Conv1D`` stores ``(in, out)``), and the
logits match ours to float rounding.  Every tool that reads GPT-2 folders (``transformers``,
vLLM, llama.cpp's converter, ONNX export) then reads ours.  Moving to RMSNorm/RoPE/SwiGLU would
change the model the pipeline schedules and the partitioner's cost model were validated on,
for no gain at the sizes this trainer targets.

The folder holds ``model.safetensors``, ``config.json``, ``generation_config.json`` and the
run's tokenizer as a fast tokenizer (``tokenizer.json`` + ``tokenizer_config.json`` +
``special_tokens_map.json``); loading it needs ``transformers`` only, not dataprep.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from dataprep.io.atomic import write_local_atomic
from dataprep.train import checkpoint
from dataprep.train.model import GPTConfig, build_full


def gpt2_state_dict(model_state: dict[str, torch.Tensor], cfg: GPTConfig) -> dict[str, torch.Tensor]:
    """Our parameter names (``pieces.<i>.…``) -> ``GPT2LMHeadModel``'s, Linear weights transposed."""
    out = {"transformer.wte.weight": model_state["pieces.0.tokens.weight"],
           "transformer.wpe.weight": model_state["pieces.0.positions.weight"]}
    renames = {"ln1": "ln_1", "ln2": "ln_2", "qkv": "attn.c_attn", "proj": "attn.c_proj",
               "up": "mlp.c_fc", "down": "mlp.c_proj"}
    for i in range(1, cfg.layers + 1):
        for ours, theirs in renames.items():
            weight = model_state[f"pieces.{i}.{ours}.weight"]
            out[f"transformer.h.{i - 1}.{theirs}.weight"] = weight if ours.startswith("ln") else weight.t()
            out[f"transformer.h.{i - 1}.{theirs}.bias"] = model_state[f"pieces.{i}.{ours}.bias"]
    head = cfg.layers + 1
    out["transformer.ln_f.weight"] = model_state[f"pieces.{head}.ln.weight"]
    out["transformer.ln_f.bias"] = model_state[f"pieces.{head}.ln.bias"]
    out["lm_head.weight"] = model_state[f"pieces.{head}.out.weight"]
    return {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}


def gpt2_config(cfg: GPTConfig, eos_id: int) -> dict:
    """``config.json`` of the equivalent ``GPT2LMHeadModel``."""
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": cfg.vocab_size,
            "n_positions": cfg.seq_len, "n_embd": cfg.d_model, "n_layer": cfg.layers, "n_head": cfg.heads,
            "n_inner": cfg.mlp_ratio * cfg.d_model, "activation_function": "gelu", "layer_norm_epsilon": 1e-5,
            "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "initializer_range": 0.02,
            "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
            "tie_word_embeddings": False, "bos_token_id": eos_id, "eos_token_id": eos_id, "use_cache": True,
            "dtype": "float32"}


def load_full_model(folder: str | Path) -> tuple[torch.nn.Module, dict]:
    """The unsplit model with a checkpoint's weights (any layout wrote it), and its ``meta.json``."""
    folder = Path(folder)
    meta = checkpoint.read_meta(folder)
    cfg = GPTConfig(**meta["model"])
    model = build_full(cfg, seed=0)
    state = {"model": {n: p.detach() for n, p in model.named_parameters()}}
    checkpoint.load(folder, state, distributed=False)
    return model, meta


def export_hf(folder: str | Path, out: str | Path) -> Path:
    """Write the ``transformers`` folder for checkpoint ``folder`` to ``out``; returns ``out``."""
    from safetensors.torch import save_file
    from tokenizers import Tokenizer

    folder, out = Path(folder), Path(out)
    model, meta = load_full_model(folder)
    cfg = GPTConfig(**meta["model"])
    eos_id = int(meta["eos_id"])
    out.mkdir(parents=True, exist_ok=True)
    tensors = gpt2_state_dict(dict(model.state_dict()), cfg)
    tmp = out / "model.safetensors.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    tmp.replace(out / "model.safetensors")
    write_local_atomic(out / "config.json", json.dumps(gpt2_config(cfg, eos_id), indent=2))
    write_local_atomic(out / "generation_config.json",
                       json.dumps({"bos_token_id": eos_id, "eos_token_id": eos_id, "pad_token_id": eos_id}, indent=2))
    tokenizer_json = folder / checkpoint.TOKENIZER
    if not tokenizer_json.exists():
        raise checkpoint.CheckpointError(f"{folder} has no {checkpoint.TOKENIZER}; it was not written by a "
                                         "tokenized run")
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    eos = Tokenizer.from_file(str(tokenizer_json)).id_to_token(eos_id)
    special = {"bos_token": eos, "eos_token": eos, "pad_token": eos}
    write_local_atomic(out / "tokenizer_config.json", json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": cfg.seq_len,
         "clean_up_tokenization_spaces": False, **special}, indent=2))
    write_local_atomic(out / "special_tokens_map.json", json.dumps(special, indent=2))
    return out
