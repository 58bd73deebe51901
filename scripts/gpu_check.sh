#!/usr/bin/env bash
# The trainer's CUDA + NCCL + bf16 path on one GPU: a ~125M-parameter GPT (18 blocks, d_model 768,
# 12 heads, seq_len 1024) for 50 steps, pp 1 x dp 1, bf16; prints tokens/s, MFU and peak memory.
# Run by hand on a GPU machine (never by CI), from the repository root after scripts/setup.sh or
# `pip install '.[train]'` with a CUDA build of torch:
#   bash scripts/gpu_check.sh            # STEPS=50 BATCH=16 NPROC=1 PRECISION=bf16 to change
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
DATAPREP=("$PY" -c "from dataprep.cli.main import main; main()")
OUT=${OUT:-out/gpu-check}
STEPS=${STEPS:-50}; BATCH=${BATCH:-16}; NPROC=${NPROC:-1}; PRECISION=${PRECISION:-bf16}
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible to torch (is this a CUDA build of torch?)"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}, "
      f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}, NCCL {torch.cuda.nccl.version()}")
PY
mkdir -p "$OUT"
if [ ! -f "$OUT/tokens/tokens/tokens.json" ]; then
  sed "s#path: out/web-to-tokens#path: $OUT/tokens#" recipes/web_to_tokens.yaml > "$OUT/web_to_tokens.yaml"
  "${DATAPREP[@]}" run "$OUT/web_to_tokens.yaml" --overwrite --quiet
fi
cat > "$OUT/gpu_check.yaml" <<YAML
name: gpu-check
seed: 0
steps: $STEPS
device: cuda
precision: $PRECISION
data: {runs: $OUT/tokens, seq_len: 1024, batch_size: $BATCH, microbatches: 1, document_mask: false}
model: {layers: 18, d_model: 768, heads: 12}
parallel: {dp: $NPROC}
pipeline: {schedule: 1f1b}
optim: {lr: 6.0e-4, min_lr: 6.0e-5, warmup_steps: 10}
output: {path: $OUT/train, checkpoint_every: 0}
YAML
"${DATAPREP[@]}" train "$OUT/gpu_check.yaml" --nproc "$NPROC"
"$PY" - "$OUT/train/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
mfu = f"{100 * s['mfu']:.1f}%" if s["mfu"] is not None else "n/a (GPU not in the peak table: set peak_tflops)"
print(f"gpu_check: {s['parameters'] / 1e6:.0f}M parameters, {s['steps']} steps {s['precision']}, pp {s['pp']} x dp {s['dp']}: "
      f"{s['tokens_per_s']:,.0f} tokens/s ({s['tokens_per_s_per_rank']:,.0f} per GPU), MFU {mfu}, "
      f"peak memory {max(s['peak_memory_mb_per_rank']):,.0f} MB per rank, loss {s['first_loss']:.3f} -> {s['last_loss']:.3f}")
PY
