"""Training loop for title -> cluster-ID sequences with Hugging Face Accelerate (CPU, one GPU or many).

Shaped like accelerate's nlp_example: prepare once, accelerator.backward, gather_for_metrics for validation, save
only on the main process after wait_for_everyone. Batches are bucketed by length so that short titles and short
playlists do not pay for padding.
"""
from __future__ import annotations

import csv
import logging
import math
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from playlistgen.modeling.batches import EncodedExample, make_loader
from playlistgen.modeling.checkpoints import Checkpointer, Progress
from playlistgen.common.io import atomic_dir, atomic_path

log = logging.getLogger(__name__)


def lr_lambda(warmup_steps: int, total_steps: int, schedule: str, min_lr_ratio: float):
    """Linear warmup, then cosine or linear decay to `min_lr_ratio` of the peak."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        decay = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
        return min_lr_ratio + (1 - min_lr_ratio) * decay
    return factor


@dataclass(kw_only=True)
class TrainConfig:
    """The loop's settings; `from_params` builds it from the params.yaml `train` block (keys named alike)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_share: float          # share of all optimizer steps spent in linear warmup
    schedule: str
    min_lr_ratio: float
    grad_accum: int
    clip_grad_norm: float
    patience: int
    log_every: int
    seed: int
    min_steps: int = 0           # epochs are raised until training runs at least this many optimizer steps
    label_smoothing: float = 0.0
    decoder_input_dropout: float = 0.0  # share of decoder input tokens replaced by <unk>, so the encoder must carry
    rarity_weight: float = 0.0   # power of the rarity weighting of target tokens (target_token_weights); 0 = off
    mixed_precision: str = "no"  # resolved: no | bf16 | fp16 (see make_accelerator)
    loader_workers: int = 0      # DataLoader worker processes that collate batches (see resolve_workers)

    @classmethod
    def from_params(cls, block: dict, seed: int, **resolved) -> "TrainConfig":
        from dataclasses import fields

        names = {f.name for f in fields(cls)} - {"seed"} - set(resolved)
        missing = sorted(n for n in names if n not in block and n not in ("mixed_precision", "loader_workers"))
        if missing:
            from playlistgen.common.io import DataError

            raise DataError(f"params.yaml: train.{missing[0]} is missing; add it (params.yaml's train block documents each key).")
        return cls(seed=seed, **{n: block[n] for n in names if n in block}, **resolved)


def resolve_precision(choice: str) -> str:
    """`auto` = bf16 on GPUs that support it, else fp32 ("no"); anything else is passed to Accelerate as is."""
    if choice != "auto":
        return choice
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def resolve_workers(choice) -> int:
    """`auto` = 2 collating workers with a GPU, none without. A compiled step of a small model on an H100 takes
    about as long as the host needs to launch it, so collating a batch of 1,024 in the training process made the
    loop 0.8x of a loop over ready batches; two workers brought it to 1.0x. On CPU the step dwarfs collation and
    workers only add processes."""
    if choice == "auto":
        return 2 if torch.cuda.is_available() else 0
    return int(choice)


def make_accelerator(precision: str = "no", grad_accum: int = 1):
    """The Accelerator the train stage (and its benchmark) use, for a resolved precision (no | bf16 | fp16).

    Without a GPU it is cpu=True, so several processes form a gloo group instead of each running alone. With one,
    batches come from pinned memory and are copied without blocking, so the next batch's copy overlaps the step.
    bf16 autocast is left to `train_model` (see `autocast`): Accelerate's mixed precision would also cast every
    output of the forward to fp32, the (batch x target x vocabulary) logits included, which the loss never reads
    (0.8x of a plain loop's speed on an H100). fp16 needs Accelerate's gradient scaler, so it goes through it.
    """
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    cuda = torch.cuda.is_available()
    return Accelerator(mixed_precision="no" if precision == "bf16" else precision,
                       gradient_accumulation_steps=grad_accum, cpu=not cuda,
                       dataloader_config=DataLoaderConfiguration(non_blocking=cuda))


def autocast(precision: str, device: torch.device):
    """bf16 autocast for the forward pass when precision is bf16, else a no-op context."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def evaluate_loss(model, loader, accelerator, precision: str = "no") -> float:
    """Token-weighted mean cross-entropy over a loader, gathered across processes."""
    model.eval()
    total, tokens = torch.zeros((), device=accelerator.device), torch.zeros((), device=accelerator.device)
    with torch.no_grad():
        for batch in loader:
            with autocast(precision, accelerator.device):
                out = model(**batch, use_cache=False)
            n = (batch["labels"] != -100).sum()
            total += out.loss.detach().float() * n
            tokens += n
    total = accelerator.reduce(total, "sum")
    tokens = accelerator.reduce(tokens, "sum")
    model.train()
    return float(total / tokens.clamp_min(1))


def train_model(model, train_data, val_data, cfg: TrainConfig, accelerator, pad_id: int, out_dir: Path,
                log_path: Path, val_log_path: Path, checkpoint_dir: Path | None = None, checkpoint_every: int = 0,
                fingerprint: str = "", mask_id: int | None = None,
                token_weights: torch.Tensor | None = None) -> dict:
    """Train, validate each epoch, keep the best weights in out_dir (save_pretrained); returns summary metrics.

    With `checkpoint_dir`, state is saved every `checkpoint_every` optimizer steps and after each epoch, and a
    run with the same `fingerprint` resumes from the last checkpoint. `mask_id` is the token that
    `cfg.decoder_input_dropout` puts in place of dropped decoder inputs; `token_weights` (vocabulary,) weigh each
    target token's loss (see target_token_weights).
    """
    if cfg.decoder_input_dropout > 0 and mask_id is None:
        raise ValueError("decoder_input_dropout needs mask_id (the tokenizer's unk id).")
    run = prepare_run(model, train_data, val_data, cfg, accelerator, pad_id, mask_id, token_weights)
    cfg = run.cfg
    checkpointer = Checkpointer(checkpoint_dir, fingerprint, accelerator) if checkpoint_dir else None
    best_dir = checkpointer.best_dir if checkpointer else out_dir
    p = (checkpointer.restore() if checkpointer else None) or Progress()
    t_start = time.perf_counter()
    run.model.train()
    while p.epoch < cfg.epochs and not p.stopped_early:
        train_epoch(run, p, checkpointer, checkpoint_every, t_start)
        end_epoch(run, p, best_dir)
        if checkpointer:
            checkpointer.save(replace(p, seconds=p.seconds + time.perf_counter() - t_start))
    seconds = p.seconds + time.perf_counter() - t_start
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if checkpointer:
            with atomic_dir(out_dir) as tmp:
                shutil.copytree(best_dir, tmp, dirs_exist_ok=True)
        write_csv(p.rows, log_path, ["step", "epoch", "loss", "lr", "tokens_per_s"])
        write_csv(p.val_rows, val_log_path, ["epoch", "step", "val_loss"])
    return {"best_val_loss": round(p.best_val, 5), "best_epoch": p.best_epoch, "epochs_run": p.epoch, "steps": p.step,
            "train_seconds": round(seconds, 1), "tokens_per_s": round(p.tokens_seen / max(seconds, 1e-9), 1)}


@dataclass
class Run:
    """One training run's prepared parts (accelerator.prepare'd model, optimizer, loaders and schedule)."""
    cfg: TrainConfig
    accelerator: object
    model: object
    optimizer: object
    scheduler: object
    train_loader: object
    train_sampler: object
    val_loader: object
    pad_id: int
    mask_id: int | None
    token_weights: torch.Tensor | None


def prepare_run(model, train_data, val_data, cfg: TrainConfig, accelerator, pad_id: int, mask_id, token_weights) -> Run:
    """Loaders, AdamW (no decay on biases and norms), warmup then decay, all through accelerator.prepare; on small
    data the epochs are raised until the run makes `cfg.min_steps` optimizer steps."""
    train_loader, train_sampler = make_loader(train_data, cfg.batch_size, pad_id, cfg.seed, shuffle=True,
                                              num_workers=cfg.loader_workers)
    val_loader, _ = make_loader(val_data, cfg.batch_size, pad_id, cfg.seed, shuffle=False)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, fused=accelerator.device.type == "cuda",
    )
    steps_per_epoch = math.ceil(len(train_loader) / accelerator.num_processes / cfg.grad_accum)
    if steps_per_epoch * cfg.epochs < cfg.min_steps:
        epochs = math.ceil(cfg.min_steps / steps_per_epoch)
        log.warning("%d training examples make %d optimizer steps per epoch: %d epochs would be %d steps, under "
                    "train.min_steps (%d), which leaves a model near chance; training %d epochs instead. Lower "
                    "train.batch_size for more, smaller steps.", len(train_data), steps_per_epoch, cfg.epochs,
                    steps_per_epoch * cfg.epochs, cfg.min_steps, epochs)
        cfg = replace(cfg, epochs=epochs)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = max(1, round(cfg.warmup_share * total_steps))
    # A prepared scheduler steps once per process at each optimizer step (accelerate's convention), so the
    # schedule is laid out in those units to keep warmup and decay tied to optimizer steps.
    per_step = accelerator.num_processes
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(warmup_steps * per_step, total_steps * per_step, cfg.schedule, cfg.min_lr_ratio))
    model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, val_loader, scheduler)
    if token_weights is not None:
        token_weights = token_weights.to(accelerator.device)
    return Run(cfg, accelerator, model, optimizer, scheduler, train_loader, train_sampler, val_loader, pad_id, mask_id,
               token_weights)


def train_epoch(run: Run, p: Progress, checkpointer, checkpoint_every: int, t_start: float) -> None:
    """One pass over the training batches (from where a resumed run left off), logging every cfg.log_every steps."""
    cfg, accelerator, model = run.cfg, run.accelerator, run.model
    # Accelerate's loader calls set_epoch(its own pass counter) on our sampler when iterated; after a resume
    # that counter starts at 0, so set it (and the sampler) to the real epoch explicitly.
    loader = accelerator.skip_first_batches(run.train_loader, p.batch_in_epoch) if p.batch_in_epoch else run.train_loader
    loader.set_epoch(p.epoch)
    run.train_sampler.set_epoch(p.epoch)
    bar = tqdm(loader, desc=f"epoch {p.epoch + 1}/{cfg.epochs}", disable=not accelerator.is_local_main_process,
               leave=False, initial=p.batch_in_epoch, total=len(run.train_loader))
    # Token counts stay on the device and are read only when a log row is written: reading them every step
    # would make the CPU wait for each GPU step before it may prepare the next batch.
    t_window, tok_at_window = time.perf_counter(), p.tokens_seen
    tok_pending = torch.zeros((), dtype=torch.long, device=accelerator.device)  # not yet in p.tokens_seen
    for batch in bar:
        with accelerator.accumulate(model):
            with autocast(cfg.mixed_precision, accelerator.device):
                loss = training_loss(model, batch, run.pad_id, cfg, run.mask_id, run.token_weights)
            accelerator.backward(loss)
            if accelerator.sync_gradients and cfg.clip_grad_norm > 0:
                accelerator.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
        tok_pending += (batch["attention_mask"].sum() + (batch["labels"] != -100).sum()) * accelerator.num_processes
        p.batch_in_epoch += 1
        if not accelerator.sync_gradients:
            continue
        p.step += 1
        if p.step % cfg.log_every == 0:
            p.tokens_seen += int(tok_pending)
            tok_pending.zero_()
            elapsed = time.perf_counter() - t_window
            row = {"step": p.step, "epoch": p.epoch + 1, "loss": round(float(loss.detach()), 5),
                   "lr": float(run.scheduler.get_last_lr()[0]),
                   "tokens_per_s": round((p.tokens_seen - tok_at_window) / elapsed, 1)}
            p.rows.append(row)
            bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}")
            t_window, tok_at_window = time.perf_counter(), p.tokens_seen
        if checkpointer and checkpoint_every and p.step % checkpoint_every == 0:
            p.tokens_seen += int(tok_pending)
            tok_pending.zero_()
            checkpointer.save(replace(p, seconds=p.seconds + time.perf_counter() - t_start, rows=list(p.rows)))
    p.tokens_seen += int(tok_pending)


def end_epoch(run: Run, p: Progress, best_dir: Path) -> None:
    """Validation loss; the best epoch's weights saved to `best_dir`; early stop after cfg.patience epochs without
    improvement (never before cfg.min_steps: on small data the validation loss is noisy)."""
    cfg, accelerator = run.cfg, run.accelerator
    val_loss = evaluate_loss(run.model, run.val_loader, accelerator, cfg.mixed_precision)
    accelerator.print(f"epoch {p.epoch + 1}: val loss {val_loss:.4f} (best {p.best_val:.4f})")
    p.val_rows.append({"epoch": p.epoch + 1, "step": p.step, "val_loss": round(val_loss, 5)})
    p.epoch, p.batch_in_epoch = p.epoch + 1, 0
    if val_loss < p.best_val:
        p.best_val, p.best_epoch, p.bad_epochs = val_loss, p.epoch, 0
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            with atomic_dir(best_dir) as tmp:
                accelerator.unwrap_model(run.model, keep_torch_compile=False).save_pretrained(tmp)
        return
    p.bad_epochs += 1
    if p.bad_epochs >= cfg.patience and p.step >= cfg.min_steps:
        accelerator.print(f"early stop: no val improvement for {cfg.patience} epochs")
        p.stopped_early = True


def target_token_weights(data: list[EncodedExample], vocab_size: int, power: float) -> torch.Tensor | None:
    """Loss weight per target token, (count / mean count over the tokens that occur) ** -power, normalised so that
    the training targets' mean weight is 1; None when power is 0.

    Maximum likelihood on few playlists learns the marginal: the popular clusters are the likeliest whatever the
    title, and beam search returns them to everyone. Weighting a token's loss by its rarity trains the model
    towards p(cluster | title) / p(cluster)^power, the mutual-information objective of Li et al., "A Diversity-
    Promoting Objective Function for Neural Conversation Models" (NAACL 2016), moved from decoding into training
    so that decoding (and the bundle) stay unchanged."""
    if not power:
        return None
    counts = torch.zeros(vocab_size, dtype=torch.float64)
    for e in data:
        counts.index_add_(0, torch.tensor(e.target), torch.ones(len(e.target), dtype=torch.float64))
    seen = counts > 0
    weights = torch.ones(vocab_size, dtype=torch.float64)
    weights[seen] = (counts[seen] / counts[seen].mean()) ** -power
    weights /= (weights * counts).sum() / counts.sum()  # mean weight 1 over the training targets
    return weights.float()


def training_loss(model, batch: dict, pad_id: int, cfg: TrainConfig, mask_id: int | None,
                  token_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy with label smoothing (and per-token weights), on decoder inputs of which a share is replaced
    by `mask_id`.

    Dropping decoder inputs (as word dropout in Bowman et al., "Generating Sentences from a Continuous Space", 2016)
    keeps the decoder from predicting the next cluster from the previous ones alone, i.e. from learning the
    marginal cluster distribution and ignoring the title."""
    labels = batch["labels"]                                                        # (B, T), -100 = padding
    decoder_input_ids = torch.full_like(labels, pad_id)                             # T5's start token is pad
    decoder_input_ids[:, 1:] = labels[:, :-1].clamp_min(0)
    decoder_input_ids[:, 1:].masked_fill_(labels[:, :-1] == -100, pad_id)
    if cfg.decoder_input_dropout > 0 and model.training:
        drop = torch.rand(labels.shape, device=labels.device) < cfg.decoder_input_dropout
        drop[:, 0] = False
        decoder_input_ids = decoder_input_ids.masked_fill(drop & (labels != -100), mask_id)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs, decoder_input_ids=decoder_input_ids, use_cache=False).logits  # (B, T, V)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), weight=token_weights,
                                             ignore_index=-100, label_smoothing=cfg.label_smoothing)


def write_csv(rows: list[dict], path: Path, fields: list[str]) -> None:
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
