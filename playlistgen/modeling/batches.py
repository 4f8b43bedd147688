"""Training data for the T5: titles and targets as token ids (with frozen title-encoder states), batches of similar
length (BucketBatchSampler, deterministic per epoch) and their padding (collate)."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from playlistgen.data.corpus import Example
from playlistgen.modeling.tokenizer import CodeVocab


@dataclass
class EncodedExample:
    source: list[int]
    target: list[int]
    title_states: np.ndarray | None = None  # (tokens, D) pretrained title-encoder states, when the model reads them


def encode_examples(examples: list[Example], tokenizer, vocab: CodeVocab, max_source_tokens: int,
                    title_encoder=None, extra: list[list[int]] | None = None) -> list[EncodedExample]:
    """Token ids of titles and targets; with a TitleEncoder also its (frozen) states of each title, computed once
    here rather than at every step. `extra`: per example token ids put after the title (retrieval.py)."""
    titles = [e.title for e in examples]
    sources = tokenizer(titles, add_special_tokens=False, truncation=True, max_length=max_source_tokens - 1)["input_ids"]
    states = title_encoder.states(titles) if title_encoder is not None else [None] * len(examples)
    extra = extra if extra is not None else [[]] * len(examples)
    return [EncodedExample(src + more + [vocab.eos_id], vocab.encode_clusters(e.clusters), st)
            for src, more, e, st in zip(sources, extra, examples, states)]


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
    input_ids = np.full((len(batch), src_len), pad_id, dtype=np.int64)  # (B, S)
    labels = np.full((len(batch), tgt_len), -100, dtype=np.int64)       # (B, T); -100 = ignored by the loss
    for i, e in enumerate(batch):
        input_ids[i, :len(e.source)] = e.source
        labels[i, :len(e.target)] = e.target
    input_ids, labels = torch.from_numpy(input_ids), torch.from_numpy(labels)
    out = {"input_ids": input_ids, "attention_mask": (input_ids != pad_id).long(), "labels": labels}
    if getattr(batch[0], "title_states", None) is not None:
        from playlistgen.modeling.title_encoder import pad_states

        out["title_states"], out["title_mask"] = pad_states([e.title_states for e in batch])  # (B, S_t, D), (B, S_t)
    return out


def make_loader(data: list[EncodedExample], batch_size: int, pad_id: int, seed: int, shuffle: bool,
                num_workers: int = 0):
    sampler = BucketBatchSampler([len(e.source) + len(e.target) for e in data], batch_size, seed, shuffle)
    # Its own generator: creating an iterator draws a seed, which must not come from the global RNG that dropout
    # uses, or a resumed run (which creates one more iterator) would drift from an uninterrupted one.
    loader = torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=functools.partial(collate, pad_id=pad_id),
                                         generator=torch.Generator().manual_seed(seed),
                                         pin_memory=torch.cuda.is_available(), num_workers=num_workers,
                                         persistent_workers=num_workers > 0)
    return loader, sampler
