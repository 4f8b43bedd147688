"""Generation of cluster-ID sequences, constrained so that every generated code tuple is an existing cluster.

The constraint is a vectorised LogitsProcessor: valid prefixes are stored per level as a sorted tensor of integer
keys (codes read as base-K digits) with a (prefixes x K) mask of allowed next codes; one searchsorted per step
finds each beam's row. No per-beam Python loop, so it costs about the same as unconstrained decoding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from .tokenizer import CodeVocab


class ClusterConstraint(LogitsProcessor):
    """Allow only code tokens that extend a prefix of an existing cluster; EOS only between clusters.

    Args:
        vocab: the code token layout.
        cluster_keys: every valid cluster key ('12-3').
        min_clusters: EOS is masked until this many clusters are complete.
        max_clusters: once this many are complete, only EOS is allowed.
    """

    def __init__(self, vocab: CodeVocab, cluster_keys: list[str], min_clusters: int, max_clusters: int):
        if not cluster_keys:
            raise ValueError("no clusters to constrain to: the cluster index is empty.")
        self.vocab = vocab
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        levels, k = vocab.num_levels, vocab.codebook_size
        codes = np.array([[int(c) for c in key.split("-")] for key in cluster_keys], dtype=np.int64)  # (C, L)
        if codes.shape[1] != levels:
            raise ValueError(f"cluster keys have {codes.shape[1]} codes but the vocabulary expects {levels}.")
        self.prefix_keys, self.next_allowed = [], []
        for level in range(levels):
            weights = k ** np.arange(level - 1, -1, -1, dtype=np.int64)  # base-K digits of the prefix
            keys = codes[:, :level] @ weights if level else np.zeros(len(codes), dtype=np.int64)
            unique, row = np.unique(keys, return_inverse=True)
            allowed = np.zeros((len(unique), k), dtype=bool)
            allowed[row, codes[:, level]] = True
            self.prefix_keys.append(torch.from_numpy(unique))
            self.next_allowed.append(torch.from_numpy(allowed))
        self._device = torch.device("cpu")

    def _to(self, device: torch.device) -> None:
        if device != self._device:
            self.prefix_keys = [t.to(device) for t in self.prefix_keys]
            self.next_allowed = [t.to(device) for t in self.next_allowed]
            self._device = device

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        # input_ids: (N, t) with the decoder start token first; scores: (N, V)
        self._to(scores.device)
        v, levels, k = self.vocab, self.vocab.num_levels, self.vocab.codebook_size
        generated = input_ids.shape[1] - 1
        level, done = generated % levels, generated // levels
        finished = ((input_ids[:, 1:] == v.eos_id) | (input_ids[:, 1:] == v.pad_id)).any(1)  # (N,)
        if level == 0:
            rows = torch.zeros(len(input_ids), dtype=torch.long, device=scores.device)
            found = torch.ones_like(finished)
        else:
            digits = input_ids[:, -level:] - v.offset - torch.arange(level, device=scores.device) * k  # (N, level)
            weights = k ** torch.arange(level - 1, -1, -1, device=scores.device)
            key = (digits * weights).sum(1)
            table = self.prefix_keys[level]
            rows = torch.searchsorted(table, key).clamp_max(len(table) - 1)
            found = (table[rows] == key) & (digits >= 0).all(1) & (digits < k).all(1)
        allowed_codes = self.next_allowed[level][rows] & found[:, None] & ~finished[:, None]  # (N, K)
        if done >= self.max_clusters:
            allowed_codes[:] = False
        mask = torch.full_like(scores, float("-inf"))
        start = v.offset + level * k
        mask[:, start:start + k] = torch.where(allowed_codes, 0.0, float("-inf"))
        if level == 0 and done >= self.min_clusters:
            mask[:, v.eos_id] = 0.0
        mask[finished, v.eos_id] = 0.0
        mask[finished, v.pad_id] = 0.0
        if torch.isinf(mask).all(1).any():
            bad = int(torch.isinf(mask).all(1).nonzero()[0])
            raise RuntimeError(f"constrained decoding reached a state with no allowed token (row {bad}, step "
                               f"{generated}); the cluster index does not match the model's vocabulary.")
        return scores + mask


@dataclass
class DecodeConfig:
    num_beams: int
    max_clusters: int
    min_clusters: int
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    constrained: bool = True


def encode_titles(tokenizer, titles: list[str], max_source_tokens: int, device) -> dict[str, torch.Tensor]:
    ids = tokenizer(titles, add_special_tokens=False, truncation=True, max_length=max_source_tokens - 1)["input_ids"]
    ids = [row + [tokenizer.eos_token_id] for row in ids]
    width = max(len(r) for r in ids)
    input_ids = torch.full((len(ids), width), tokenizer.pad_token_id, dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, :len(row)] = torch.tensor(row)
    return {"input_ids": input_ids.to(device), "attention_mask": (input_ids != tokenizer.pad_token_id).long().to(device)}


@torch.inference_mode()
def generate_clusters(model, tokenizer, vocab: CodeVocab, constraint: ClusterConstraint | None, titles: list[str],
                      cfg: DecodeConfig, max_source_tokens: int, num_return_sequences: int = 1,
                      generator_seed: int | None = None) -> tuple[list[list[list[str]]], int, int]:
    """Generate cluster sequences for titles: returns (per title a list of sequences, invalid tuples, tuples).

    Each sequence is a list of cluster keys in generated order, repeats kept.
    """
    model.eval()
    device = next(model.parameters()).device
    batch = encode_titles(tokenizer, titles, max_source_tokens, device)
    processors = LogitsProcessorList([constraint] if cfg.constrained and constraint is not None else [])
    if generator_seed is not None:
        torch.manual_seed(generator_seed)
    kwargs = dict(do_sample=cfg.do_sample, num_beams=cfg.num_beams, num_return_sequences=num_return_sequences,
                  max_new_tokens=cfg.max_clusters * vocab.num_levels + 1, logits_processor=processors,
                  pad_token_id=vocab.pad_id, eos_token_id=vocab.eos_id, decoder_start_token_id=vocab.pad_id)
    if cfg.do_sample:
        kwargs.update(temperature=cfg.temperature, top_p=cfg.top_p)
    if not cfg.constrained:
        kwargs["min_new_tokens"] = cfg.min_clusters * vocab.num_levels
    out = model.generate(**batch, **kwargs)  # (B * num_return_sequences, T)
    results, invalid, total = [], 0, 0
    rows = out[:, 1:].tolist()
    for i in range(len(titles)):
        sequences = []
        for row in rows[i * num_return_sequences:(i + 1) * num_return_sequences]:
            keys, bad = vocab.decode_clusters(row)
            invalid += bad
            total += len(keys) + bad
            sequences.append(keys)
        results.append(sequences)
    return results, invalid, total
