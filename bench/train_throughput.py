"""Training throughput of the train stage's loop against a plain transformers loop, in the same run.

    python bench/train_throughput.py                # CPU here; on a GPU machine it uses the GPU (bf16)
    python bench/train_throughput.py --compile      # also torch.compile both (GPU)

Reference: the same T5 config, the same batches (pre-collated in memory: no data loading), AdamW (fused on GPU),
bf16 autocast on GPU, no Accelerate, no clipping, no scheduler, no logging. Ours: playlistgen.modeling.train.train_model
(Accelerate, DataLoader with length bucketing, clipping, warmup+cosine, per-step logging) over the same examples.
Tokens are non-padding source + target tokens. Prints both, the ratio ours / reference, and peak memory.
Data: the default corpus (data/work/corpus, run `dvc repro corpus` first) or synthetic examples of its shape.

    python bench/train_throughput.py --shape h100 --compile   # the GPU reference shape: a 9.4M-parameter T5
        (d_model 256, 4+4 layers, d_ff 1024, vocabulary 8,192), batch 1024, 16 source and 80 target tokens

Both sides are timed in steady state: the reference after one warm-up step (compilation included there), ours as
the median of its logged windows in the last of two epochs (the first pays for compilation; validation and
checkpoints fall between windows). The whole-run rate, compilation and validation included, is printed too.
"""
from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from playlistgen.data.corpus import Example, read_examples
from playlistgen.modeling.model import build_model, count_parameters
from playlistgen.modeling.tokenizer import CodeVocab, load_tokenizer, train_tokenizer
from playlistgen.modeling.batches import EncodedExample, encode_examples, make_loader
from playlistgen.modeling.train import TrainConfig, make_accelerator, resolve_precision, resolve_workers, train_model

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


H100_SHAPE = {"d_model": 256, "num_layers": 4, "num_heads": 4,  # per head 64, feed-forward 1,024
              "vocab": 8192, "source_tokens": 16, "target_tokens": 80, "batch_size": 1024}


def fixed_shape_data(n: int, shape: dict):
    """n examples of exactly the given source/target lengths, random token ids (pad 0, EOS 1)."""
    rng = np.random.default_rng(0)
    vocab = shape["vocab"]
    data = [EncodedExample(rng.integers(2, vocab, shape["source_tokens"] - 1).tolist() + [1],
                           rng.integers(2, vocab, shape["target_tokens"] - 1).tolist() + [1]) for _ in range(n)]
    return data, vocab, 0, 1


def new_model(vocab_size: int, pad_id: int, eos_id: int, t: dict, device):
    return build_model(vocab_size, pad_id, eos_id, d_model=t["d_model"], num_layers=t["num_layers"],
                       num_heads=t["num_heads"], dropout=t["dropout"], seed=0).to(device)


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
    parser.add_argument("--examples", type=int, default=None,
                        help="training examples per epoch (default 3,200; 40,960 with --shape h100)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: params.yaml train.batch_size")
    parser.add_argument("--shape", choices=["default", "h100"], default="default",
                        help="default: params.yaml's model on the default corpus; h100: the reference shape above")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    t = dict(params["train"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.shape == "h100":
        t.update({k: v for k, v in H100_SHAPE.items() if k in t})
        n = args.examples or 40 * H100_SHAPE["batch_size"]
        data, vocab_size, pad_id, eos_id = fixed_shape_data(n, H100_SHAPE)
        source = f"fixed-shape synthetic examples ({H100_SHAPE['source_tokens']} + {H100_SHAPE['target_tokens']} tokens)"
    else:
        data, tokenizer, vocab, source = load_data(args.examples or 3200)
        vocab_size, pad_id, eos_id = len(tokenizer), vocab.pad_id, vocab.eos_id
    batch_size = args.batch_size or t["batch_size"]
    print(f"data: {len(data)} examples from {source}; batch {batch_size}; device {device}")

    # the reference sees exactly the batches our loader makes (same bucketing, same padding)
    loader, sampler = make_loader(data, batch_size, pad_id, seed=0, shuffle=True)
    batches = list(loader)
    ref_model = new_model(vocab_size, pad_id, eos_id, t, device)
    print(f"model: {count_parameters(ref_model) / 1e6:.2f}M parameters")
    ref = reference_loop(ref_model, batches, device, args.compile)
    del ref_model

    steps = max(1, len(batches))
    cfg = TrainConfig(epochs=2, batch_size=batch_size, lr=t["lr"], weight_decay=t["weight_decay"],
                      warmup_steps=min(t["warmup_steps"], steps), schedule=t["schedule"],
                      min_lr_ratio=t["min_lr_ratio"], grad_accum=1, clip_grad_norm=t["clip_grad_norm"], patience=2,
                      log_every=max(1, min(t["log_every"], steps // 8)), seed=0,
                      mixed_precision=resolve_precision("auto"), loader_workers=resolve_workers("auto"))
    accelerator = make_accelerator(cfg.mixed_precision)
    model = new_model(vocab_size, pad_id, eos_id, t, device)
    if args.compile:
        model = torch.compile(model)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = train_model(model, data, data[:batch_size], cfg, accelerator, pad_id, Path(tmp) / "m",
                              Path(tmp) / "log.csv", Path(tmp) / "val.csv")
        wall = time.perf_counter() - t0
        with open(Path(tmp) / "log.csv") as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) == 2]
    ours = statistics.median(float(r["tokens_per_s"]) for r in rows)
    mode = "compiled" if args.compile else "eager"
    print(f"reference plain loop ({mode}, {'bf16' if cfg.mixed_precision == 'bf16' else 'fp32'}): "
          f"{ref:,.0f} tokens/s")
    print(f"playlistgen train loop ({mode}):        {ours:,.0f} tokens/s (median of {len(rows)} windows of epoch 2)")
    print(f"ratio ours / reference: {ours / ref:.2f}x")
    print(f"whole run, 2 epochs incl. compilation and validation: {summary['tokens_per_s']:,.0f} tokens/s, "
          f"{wall:.1f} s")
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"peak memory: {peak:,.0f} MB ({'GPU allocated' if device.type == 'cuda' else 'process RSS'})")
    metrics = ROOT / "metrics/train.json"
    if metrics.exists() and args.shape == "default":
        m = json.loads(metrics.read_text())
        print(f"default run (metrics/train.json): {m['train_seconds'] / max(m['epochs_run'], 1):.1f} s per epoch, "
              f"{m['tokens_per_s']:,.0f} tokens/s over {m['epochs_run']} epochs on {m['device']}")


if __name__ == "__main__":
    main()
