"""Training throughput of the train stage's loop against a plain transformers loop, in the same run.

    python bench/train_throughput.py                # CPU here; on a GPU machine it uses the GPU (bf16)
    python bench/train_throughput.py --compile      # also torch.compile both (GPU)

Reference: the same T5 config, the same batches (pre-collated in memory: no data loading), AdamW (fused on GPU),
bf16 autocast on GPU, no Accelerate, no clipping, no scheduler, no logging. Ours: playlistgen.train.train_model
(Accelerate, DataLoader with length bucketing, clipping, warmup+cosine, per-step logging) over the same examples.
Tokens are non-padding source + target tokens. Prints both, the ratio ours / reference, and peak memory.
Data: the default corpus (data/work/corpus, run `dvc repro corpus` first) or synthetic examples of its shape.
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from playlistgen.corpus import Example, read_examples
from playlistgen.model import build_model
from playlistgen.tokenizer import CodeVocab, load_tokenizer, train_tokenizer
from playlistgen.train import TrainConfig, encode_examples, make_loader, train_model

ROOT = Path(__file__).resolve().parent.parent


def load_data(n: int):
    corpus = ROOT / "data/work/corpus"
    clusters = ROOT / "data/work/quantize/clusters.json"
    if (corpus / "train.jsonl").exists():
        index = json.loads(clusters.read_text())
        tokenizer = load_tokenizer(corpus / "tokenizer")
        vocab = CodeVocab.from_tokenizer(tokenizer, index["cluster_levels"], index["codebook_size"])
        examples = read_examples(corpus / "train.jsonl")[:n]
        source = "data/work/corpus/train.jsonl"
    else:
        rng = np.random.default_rng(0)
        words = ["rainy", "sunday", "piano", "workout", "90s", "rock", "chill", "深夜", "学习"]
        examples = [Example(str(i), " ".join(rng.choice(words, 3)),
                            [f"{rng.integers(32)}-{rng.integers(32)}" for _ in range(rng.integers(10, 31))], ["s"])
                    for i in range(n)]
        tokenizer = train_tokenizer([e.title for e in examples], 500, 2, 32)
        vocab = CodeVocab.from_tokenizer(tokenizer, 2, 32)
        source = "synthetic examples"
    return encode_examples(examples, tokenizer, vocab, 24), tokenizer, vocab, source


def new_model(tokenizer, vocab, params, device):
    t = params["train"]
    return build_model(len(tokenizer), vocab.pad_id, vocab.eos_id, t["d_model"], t["num_layers"],
                       t["num_decoder_layers"], t["num_heads"], t["d_kv"], t["d_ff"], t["dropout"], 0).to(device)


def count_tokens(batch) -> int:
    return int(batch["attention_mask"].sum() + (batch["labels"] != -100).sum())


def reference_loop(model, batches, device, compile_model: bool) -> float:
    """Plain loop: tokens/s over the batches after one warm-up step."""
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")
    step = torch.compile(model) if compile_model else model
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    model.train()

    def one(b):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = step(**b).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    one(batches[0])
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for b in batches:
        one(b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return sum(count_tokens(b) for b in batches) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=3200, help="training examples per measurement")
    parser.add_argument("--batch-size", type=int, default=None, help="default: params.yaml train.batch_size")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    import yaml
    from accelerate import Accelerator

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    batch_size = args.batch_size or params["train"]["batch_size"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data, tokenizer, vocab, source = load_data(args.examples)
    print(f"data: {len(data)} examples from {source}; batch {batch_size}; device {device}")

    # the reference sees exactly the batches our loader makes (same bucketing, same padding)
    loader, sampler = make_loader(data, batch_size, vocab.pad_id, seed=0, shuffle=True)
    batches = list(loader)
    ref = reference_loop(new_model(tokenizer, vocab, params, device), batches, device, args.compile)

    t = params["train"]
    cfg = TrainConfig(epochs=1, batch_size=batch_size, lr=t["lr"], weight_decay=t["weight_decay"],
                      warmup_steps=t["warmup_steps"], schedule=t["schedule"], min_lr_ratio=t["min_lr_ratio"],
                      grad_accum=1, clip_grad_norm=t["clip_grad_norm"], patience=1, log_every=t["log_every"], seed=0)
    precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(mixed_precision=precision, cpu=device.type == "cpu")
    model = new_model(tokenizer, vocab, params, device)
    if args.compile:
        model = torch.compile(model)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = train_model(model, data, data[:batch_size], cfg, accelerator, vocab.pad_id, Path(tmp) / "m",
                              Path(tmp) / "log.csv", Path(tmp) / "val.csv")
        wall = time.perf_counter() - t0
    ours = summary["tokens_per_s"]
    print(f"reference plain loop ({'compiled' if args.compile else 'eager'}): {ref:,.0f} tokens/s")
    print(f"playlistgen train loop:                 {ours:,.0f} tokens/s (epoch wall {wall:.1f} s incl. val)")
    print(f"ratio ours / reference: {ours / ref:.2f}x")
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"peak memory: {peak:,.0f} MB ({'GPU allocated' if device.type == 'cuda' else 'process RSS'})")
    metrics = ROOT / "metrics/train.json"
    if metrics.exists():
        m = json.loads(metrics.read_text())
        print(f"default run (metrics/train.json): {m['train_seconds'] / max(m['epochs_run'], 1):.1f} s per epoch, "
              f"{m['tokens_per_s']:,.0f} tokens/s over {m['epochs_run']} epochs on {m['device']}")


if __name__ == "__main__":
    main()
