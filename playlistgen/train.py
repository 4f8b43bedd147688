"""Training loop for title -> cluster-ID sequences with Hugging Face Accelerate (CPU, one GPU or many).

Shaped like accelerate's nlp_example: prepare once, accelerator.backward, gather_for_metrics for validation, save
only on the main process after wait_for_everyone. Batches are bucketed by length so that short titles and short
playlists do not pay for padding.
"""
from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .corpus import Example
from .io import atomic_dir, atomic_path
from .tokenizer import CodeVocab

log = logging.getLogger(__name__)


@dataclass
class EncodedExample:
    source: list[int]
    target: list[int]


def encode_examples(examples: list[Example], tokenizer, vocab: CodeVocab, max_source_tokens: int) -> list[EncodedExample]:
    sources = tokenizer([e.title for e in examples], add_special_tokens=False, truncation=True,
                        max_length=max_source_tokens - 1)["input_ids"]
    return [EncodedExample(src + [vocab.eos_id], vocab.encode_clusters(e.clusters)) for src, e in zip(sources, examples)]


class BucketBatchSampler(torch.utils.data.Sampler):
    """Batches of similar length: shuffle, sort within windows of `window` batches by length, shuffle the batches.

    Deterministic given (seed, epoch); call set_epoch before each epoch.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, shuffle: bool = True, window: int = 50):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.window = window
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i:i + self.batch_size].tolist() for i in range(0, n, self.batch_size)]
        rng = np.random.default_rng(self.seed + self.epoch)
        order = rng.permutation(n)
        span = self.batch_size * self.window
        batches = []
        for start in range(0, n, span):
            chunk = order[start:start + span]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)


def collate(batch: list[EncodedExample], pad_id: int) -> dict[str, torch.Tensor]:
    src_len = max(len(e.source) for e in batch)
    tgt_len = max(len(e.target) for e in batch)
    input_ids = torch.full((len(batch), src_len), pad_id, dtype=torch.long)  # (B, S)
    labels = torch.full((len(batch), tgt_len), -100, dtype=torch.long)      # (B, T); -100 = ignored by the loss
    for i, e in enumerate(batch):
        input_ids[i, :len(e.source)] = torch.tensor(e.source)
        labels[i, :len(e.target)] = torch.tensor(e.target)
    return {"input_ids": input_ids, "attention_mask": (input_ids != pad_id).long(), "labels": labels}


def make_loader(data: list[EncodedExample], batch_size: int, pad_id: int, seed: int, shuffle: bool):
    sampler = BucketBatchSampler([len(e.source) + len(e.target) for e in data], batch_size, seed, shuffle)
    loader = torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=lambda b: collate(b, pad_id))
    return loader, sampler


def lr_lambda(warmup_steps: int, total_steps: int, schedule: str, min_lr_ratio: float):
    """Linear warmup, then cosine or linear decay to `min_lr_ratio` of the peak."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        decay = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
        return min_lr_ratio + (1 - min_lr_ratio) * decay
    return factor


@dataclass
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_steps: int
    schedule: str
    min_lr_ratio: float
    grad_accum: int
    clip_grad_norm: float
    patience: int
    log_every: int
    seed: int


def evaluate_loss(model, loader, accelerator) -> float:
    """Token-weighted mean cross-entropy over a loader, gathered across processes."""
    model.eval()
    total, tokens = torch.zeros((), device=accelerator.device), torch.zeros((), device=accelerator.device)
    with torch.no_grad():
        for batch in loader:
            out = model(**batch)
            n = (batch["labels"] != -100).sum()
            total += out.loss.detach().float() * n
            tokens += n
    total = accelerator.reduce(total, "sum")
    tokens = accelerator.reduce(tokens, "sum")
    model.train()
    return float(total / tokens.clamp_min(1))


def train_model(model, train_data, val_data, cfg: TrainConfig, accelerator, pad_id: int, out_dir: Path,
                log_path: Path, val_log_path: Path) -> dict:
    """Train, validate each epoch, keep the best weights in out_dir (save_pretrained); returns summary metrics."""
    train_loader, train_sampler = make_loader(train_data, cfg.batch_size, pad_id, cfg.seed, shuffle=True)
    val_loader, _ = make_loader(val_data, cfg.batch_size, pad_id, cfg.seed, shuffle=False)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, fused=accelerator.device.type == "cuda",
    )
    steps_per_epoch = math.ceil(len(train_loader) / accelerator.num_processes / cfg.grad_accum)
    total_steps = steps_per_epoch * cfg.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(cfg.warmup_steps, total_steps, cfg.schedule, cfg.min_lr_ratio))
    model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, val_loader, scheduler)

    rows, val_rows, best_val, best_epoch, bad_epochs, step = [], [], math.inf, -1, 0, 0
    tokens_seen, t_start = 0, time.perf_counter()
    model.train()
    for epoch in range(cfg.epochs):
        train_sampler.set_epoch(epoch)
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not accelerator.is_local_main_process,
                   leave=False)
        t_window, tok_window = time.perf_counter(), 0
        for batch in bar:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.clip_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            n_tok = int(batch["attention_mask"].sum() + (batch["labels"] != -100).sum()) * accelerator.num_processes
            tokens_seen += n_tok
            tok_window += n_tok
            if accelerator.sync_gradients:
                step += 1
                if step % cfg.log_every == 0:
                    elapsed = time.perf_counter() - t_window
                    row = {"step": step, "epoch": epoch + 1, "loss": round(float(loss.detach()), 5),
                           "lr": float(scheduler.get_last_lr()[0]), "tokens_per_s": round(tok_window / elapsed, 1)}
                    rows.append(row)
                    bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}")
                    t_window, tok_window = time.perf_counter(), 0
        val_loss = evaluate_loss(model, val_loader, accelerator)
        accelerator.print(f"epoch {epoch + 1}: val loss {val_loss:.4f} (best {best_val:.4f})")
        val_rows.append({"epoch": epoch + 1, "step": step, "val_loss": round(val_loss, 5)})
        if val_loss < best_val:
            best_val, best_epoch, bad_epochs = val_loss, epoch + 1, 0
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                with atomic_dir(out_dir) as tmp:
                    accelerator.unwrap_model(model).save_pretrained(tmp)
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                accelerator.print(f"early stop: no val improvement for {cfg.patience} epochs")
                break
    seconds = time.perf_counter() - t_start
    if accelerator.is_main_process:
        write_csv(rows, log_path, ["step", "epoch", "loss", "lr", "tokens_per_s"])
        write_csv(val_rows, val_log_path, ["epoch", "step", "val_loss"])
    return {"best_val_loss": round(best_val, 5), "best_epoch": best_epoch, "epochs_run": epoch + 1, "steps": step,
            "train_seconds": round(seconds, 1), "tokens_per_s": round(tokens_seen / seconds, 1)}


def write_csv(rows: list[dict], path: Path, fields: list[str]) -> None:
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
