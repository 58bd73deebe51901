"""tokenize stage and loader throughput, in one run, on the core benchmark's real corpus
(Debian python3.11-doc, main content; `--copies` repeats it).

* tokenize: the stage as a shard task runs it (batches of 512 through ``Tokenize.process`` and
  the token-shard writer, files included) against calling ``tokenizers``' batch encoder
  directly on the same texts in memory, and against datatrove's ``DocumentTokenizer``
  (one task).  All use the same byte-level BPE (32k, trained here with `tokenize` itself).
* loader: ``TokenLoader`` batches (tensors, prefetch on) against a plain ``numpy.memmap``
  read of the same windows in the same order, and against the tokens per second a small
  GPT-style model consumes in a CPU training step (a stand-in until ``dataprep/train``).

    .venv/bin/python benchmarks/tokenize_loader.py [--copies 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import fsspec
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK
from peers import run_peer
from quality_vs_datatrove import extracted_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the encoder and the stage (median shown)")
    args = parser.parse_args()
    from tokenizers import Tokenizer

    from dataprep.report.inspection import read_table
    from dataprep.train.loader import PackedRun, TokenLoader
    from dataprep.transforms.tokenize import Tokenize, TrainParams, train_bpe

    table = read_table(str(extracted_text(args.copies) / "data"), columns=["id", "text", "source"])
    texts = table.column("text").to_pylist()
    tok_path = WORK / "bench-bpe32k.json"
    if not tok_path.exists():
        tok_path.write_text(train_bpe(texts[:2000], TrainParams(vocab_size=32000)))
    tok = Tokenizer.from_file(str(tok_path))

    stage = Tokenize(tokenizer=str(tok_path)).ensure_setup()
    out = WORK / "bench-tokens"
    fs = fsspec.filesystem("file")

    def raw_once() -> float:
        t0 = time.perf_counter()
        tok.encode_batch_fast(texts, add_special_tokens=False)
        return time.perf_counter() - t0

    def stage_once() -> float:
        t0 = time.perf_counter()
        sink = stage.open_sink(fs, str(out), "part-00000")
        for start in range(0, table.num_rows, 512):
            sink.write(stage.process(table.slice(start, 512)))
        sink.close()
        return time.perf_counter() - t0

    raw_times, stage_times = [], []
    for _ in range(args.repeat):  # alternate, so drifts of the machine hit both alike
        raw_times.append(raw_once())
        stage_times.append(stage_once())
    raw_s, stage_s = statistics.median(raw_times), statistics.median(stage_times)
    tokens = sum(len(e.ids) + 1 for e in tok.encode_batch_fast(texts, add_special_tokens=False))

    jsonl = WORK / "bench-tokenize.jsonl"
    ids = table.column("id").to_pylist()
    jsonl.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in zip(ids, texts)))
    peer = run_peer("datatrove_tokenize.py", str(jsonl), str(tok_path), str(args.repeat))

    print(f"tokenize: {len(texts)} documents, {tokens / 1e6:.2f} M tokens (Debian python3.11-doc x{args.copies}); "
          f"median of {args.repeat} runs each")
    print(f"{'method':44} {'seconds':>8} {'M tokens/s':>11} {'stage / it':>11}")
    for name, seconds in [("tokenizers encode_batch_fast, in memory", raw_s),
                          ("dataprep tokenize stage (+ token shards)", stage_s),
                          ("datatrove DocumentTokenizer", peer["seconds"])]:
        print(f"{name:44} {seconds:8.2f} {tokens / seconds / 1e6:11.2f} {seconds / stage_s:10.2f}x")

    import torch  # imported before timing: a trainer has it loaded already

    packed = PackedRun(out, args.seq_len)
    loader = TokenLoader(out, seq_len=args.seq_len, batch_size=args.batch_size, seed=0)
    steps = min(packed.samples // args.batch_size, 400)
    batches = iter(loader)
    next(batches)  # start-up (thread, first permutation) is not throughput
    t0 = time.perf_counter()
    for _, _batch in zip(range(steps), batches):
        pass
    loader_s = time.perf_counter() - t0
    batches.close()
    picks = loader.samples_at(loader.batch_size, steps * args.batch_size)

    meta = json.loads((out / "tokens" / "tokens.json").read_text())
    ids = np.memmap(out / "tokens" / "part-00000.bin", dtype=np.dtype(meta["dtype"]), mode="r")
    t0 = time.perf_counter()
    L = args.seq_len
    for b in range(steps):
        window = picks[b * args.batch_size:(b + 1) * args.batch_size]
        rows = np.stack([ids[i * L:i * L + L + 1].astype(np.int64) for _, i in window])
        torch.from_numpy(rows)
    memmap_s = time.perf_counter() - t0
    n = steps * args.batch_size * L
    trainer_tokens_s = cpu_trainer_tokens_per_s(args.batch_size, L, meta["vocab_size"])
    print(f"loader: {steps} batches of {args.batch_size} x {L} tokens")
    print(f"{'method':44} {'seconds':>8} {'M tokens/s':>11} {'loader / it':>11}")
    for name, seconds in [("plain numpy.memmap reads, same windows", memmap_s),
                          ("dataprep TokenLoader (tensors, prefetch)", loader_s)]:
        print(f"{name:44} {seconds:8.3f} {n / seconds / 1e6:11.2f} {(n / loader_s) / (n / seconds):10.2f}x")
    print(f"{'CPU training step, GPT-style 4x256 (consumes)':44} {'':8} {trainer_tokens_s / 1e6:11.5f} "
          f"{(n / loader_s) / trainer_tokens_s:10.0f}x  (loader / trainer demand)")


def cpu_trainer_tokens_per_s(batch: int, seq_len: int, vocab: int, steps: int = 2) -> float:
    """Tokens per second a small GPT-style decoder (4 layers, d_model 256, causal attention)
    consumes in forward + backward + AdamW on this CPU: the demand the loader has to meet.
    A stand-in until the pipeline-parallel trainer (dataprep/train) exists."""
    import torch
    from torch import nn

    layer = nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True, norm_first=True)
    model = nn.ModuleDict({"emb": nn.Embedding(vocab, 256), "body": nn.TransformerEncoder(layer, 4),
                           "head": nn.Linear(256, vocab)})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    mask = nn.Transformer.generate_square_subsequent_mask(seq_len)
    x = torch.randint(0, vocab, (batch, seq_len + 1))
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        h = model["body"](model["emb"](x[:, :-1]), mask=mask, is_causal=True)
        loss = nn.functional.cross_entropy(model["head"](h).flatten(0, 1), x[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    return batch * seq_len / statistics.median(times[1:])


if __name__ == "__main__":
    main()
