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

from playlistgen.ids.clusters import parse_cluster_key
from playlistgen.modeling.tokenizer import CodeVocab


class ClusterConstraint(LogitsProcessor):
    """Allow only code tokens that extend a prefix of an existing cluster; EOS only between clusters.

    Args:
        vocab: the code token layout.
        cluster_keys: every valid cluster key ('12-3').
        min_clusters: EOS is masked until this many clusters are complete.
        max_clusters: once this many are complete, only EOS is allowed.
        max_repeats: a cluster may appear at most this many times in one sequence (None: no cap). Playlist order
            carries little signal, so the likeliest next cluster is the same at every step; without a cap beam
            search repeats the mode. A code is masked once every cluster under it has reached the cap.
    """

    def __init__(self, vocab: CodeVocab, cluster_keys: list[str], min_clusters: int, max_clusters: int,
                 max_repeats: int | None = None):
        if not cluster_keys:
            raise ValueError("no clusters to constrain to: the cluster index is empty.")
        if max_repeats is not None and len(cluster_keys) * max_repeats < min_clusters:
            raise ValueError(f"{len(cluster_keys)} clusters x max_repeats {max_repeats} cannot make {min_clusters}.")
        self.vocab = vocab
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        self.max_repeats = max_repeats
        levels, k = vocab.num_levels, vocab.codebook_size
        codes = np.array([parse_cluster_key(key) for key in cluster_keys], dtype=np.int64)  # (C, L)
        if codes.shape[1] != levels:
            raise ValueError(f"cluster keys have {codes.shape[1]} codes but the vocabulary expects {levels}.")
        # Per prefix length m = 0..L: sorted keys of existing prefixes (codes read as base-K digits), the number
        # of clusters under each, and (m < L) which next codes are allowed after it.
        self.prefix_keys, self.subtree_size, self.next_allowed = [], [], []
        for m in range(levels + 1):
            weights = k ** np.arange(m - 1, -1, -1, dtype=np.int64)
            keys = codes[:, :m] @ weights if m else np.zeros(len(codes), dtype=np.int64)
            unique, row, size = np.unique(keys, return_inverse=True, return_counts=True)
            self.prefix_keys.append(torch.from_numpy(unique))
            self.subtree_size.append(torch.from_numpy(size))
            if m < levels:
                allowed = np.zeros((len(unique), k), dtype=bool)
                allowed[row, codes[:, m]] = True
                self.next_allowed.append(torch.from_numpy(allowed))
        # token id of code 0 at each level, base-K place values of a full tuple, the K codes
        self._consts = [torch.arange(levels) * k + vocab.offset, k ** torch.arange(levels - 1, -1, -1),
                        torch.arange(k)]
        self._device = torch.device("cpu")
        self._dead = None  # on a GPU: whether some step had a row with no allowed token (read after generate)

    def _to(self, device: torch.device) -> None:
        if device != self._device:
            self.prefix_keys = [t.to(device) for t in self.prefix_keys]
            self.subtree_size = [t.to(device) for t in self.subtree_size]
            self.next_allowed = [t.to(device) for t in self.next_allowed]
            self._consts = [t.to(device) for t in self._consts]
            self._device = device

    def _lookup(self, length: int, key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Row of each prefix key in the table of its length, and whether it exists."""
        table = self.prefix_keys[length]
        rows = torch.searchsorted(table, key).clamp_max(len(table) - 1)
        return rows, table[rows] == key

    def _exhausted(self, input_ids: torch.Tensor, level: int, prefix_key: torch.Tensor) -> torch.Tensor:
        """(N, K) True where every cluster under prefix + code has been generated max_repeats times already."""
        levels, k = self.vocab.num_levels, self.vocab.codebook_size
        done = (input_ids.shape[1] - 1) // levels
        n = len(input_ids)
        if done == 0:
            return torch.zeros((n, k), dtype=torch.bool, device=input_ids.device)
        level_offset, place, code_range = self._consts
        tuples = input_ids[:, 1:1 + done * levels].reshape(n, done, levels)                     # (N, D, L)
        full = ((tuples - level_offset) * place).sum(-1)                                        # (N, D)
        count = (full[:, :, None] == full[:, None, :]).sum(-1)                                   # (N, D)
        # each distinct exhausted cluster contributes 1 in total over its occurrences
        weight = (count >= self.max_repeats).float() / count.float()                            # (N, D)
        candidate = prefix_key[:, None] * k + code_range                                         # (N, K)
        under = full[:, :, None] // k ** (levels - 1 - level) == candidate[:, None, :]            # (N, D, K)
        exhausted_count = (under.float() * weight[:, :, None]).sum(1)                            # (N, K)
        rows, found = self._lookup(level + 1, candidate.flatten())
        size = torch.where(found, self.subtree_size[level + 1][rows], 0).reshape(n, k)
        return exhausted_count >= size.float() - 0.5

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        # input_ids: (N, t) with the decoder start token first; scores: (N, V)
        self._to(scores.device)
        v, levels, k = self.vocab, self.vocab.num_levels, self.vocab.codebook_size
        generated = input_ids.shape[1] - 1
        level, done = generated % levels, generated // levels
        level_offset, place, _ = self._consts
        tail = input_ids[:, 1:]
        finished = ((tail == v.eos_id) | (tail == v.pad_id)).any(1)  # (N,): EOS or padding already generated
        if level == 0:
            rows = key = torch.zeros(len(input_ids), dtype=torch.long, device=scores.device)
            found = torch.ones_like(finished)
        else:
            digits = input_ids[:, -level:] - level_offset[:level]                                  # (N, level)
            key = (digits * place[levels - level:]).sum(1)
            rows, found = self._lookup(level, key)
            found &= ((digits >= 0) & (digits < k)).all(1)
        allowed_codes = self.next_allowed[level][rows] & (found & ~finished)[:, None]  # (N, K)
        if self.max_repeats is not None:
            allowed_codes &= ~self._exhausted(input_ids, level, torch.where(found, key, 0))
        if done >= self.max_clusters:
            allowed_codes[:] = False
        # Built with masked_fill on views only: boolean-index assignment would wait for the GPU at every step.
        mask = torch.full_like(scores, float("-inf"))
        start = v.offset + level * k
        mask[:, start:start + k].masked_fill_(allowed_codes, 0.0)
        if level == 0 and done >= self.min_clusters:
            mask[:, v.eos_id] = 0.0
        else:
            mask[:, v.eos_id].masked_fill_(finished, 0.0)
        mask[:, v.pad_id].masked_fill_(finished, 0.0)
        dead = torch.isinf(mask).all(1)
        if scores.device.type == "cpu":
            if dead.any():
                raise RuntimeError(f"constrained decoding reached a state with no allowed token (row "
                                   f"{int(dead.nonzero()[0])}, step {generated}); {self.MISMATCH}")
        else:
            # Reading a GPU flag every step would stall the pipeline once per token; it is read after generate.
            self._dead = dead.any() if self._dead is None else self._dead | dead.any()
        return scores + mask

    MISMATCH = "the cluster index does not match the model's vocabulary."

    def reset(self) -> None:
        self._dead = None

    def check(self) -> None:
        """Raise if any step of the last generate (on a GPU) had a row with no allowed token."""
        if self._dead is not None and bool(self._dead):
            raise RuntimeError(f"constrained decoding reached a state with no allowed token; {self.MISMATCH}")


@dataclass
class DecodeConfig:
    num_beams: int
    max_clusters: int
    min_clusters: int
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    constrained: bool = True


@dataclass(frozen=True)
class DecodePolicy:
    """How a title becomes clusters, one object for the evaluate stage and PlaylistGenerator (the bundle's manifest
    carries it): for a playlist of n songs, at least n clusters (EOS masked before) and a few spare for clusters
    whose songs are used up, beam search by default or sampling with a temperature.

    Built from the params.yaml `evaluate` block (`from_params`) or a bundle manifest's `decode` (`from_dict`)."""

    num_beams: int              # beam width (beam mode)
    playlist_length: int        # n when none is asked for: what the evaluate stage scores, generate-playlist's -n
    max_repeats: int | None     # times one cluster may appear in a sequence (None: no cap)
    top_p: float                # nucleus in sample mode
    temperature: float | None   # None = beam search; a number = sampling at this temperature

    @classmethod
    def from_params(cls, block: dict) -> "DecodePolicy":
        from playlistgen.common.io import DataError

        mode = block.get("decode")
        if mode not in ("beam", "sample"):
            raise DataError(f"params.yaml: evaluate.decode must be beam or sample, not {mode!r}.")
        return cls(int(block["num_beams"]), int(block["playlist_length"]), block["max_repeats"],
                   float(block["top_p"]), float(block["temperature"]) if mode == "sample" else None).checked()

    @classmethod
    def from_dict(cls, d: dict) -> "DecodePolicy":
        """From a manifest's `decode` (bundles exported before `playlist_length` existed answered 20 songs)."""
        t = d.get("temperature")
        return cls(int(d["num_beams"]), int(d.get("playlist_length", 20)), d.get("max_repeats"),
                   float(d.get("top_p", 1.0)), None if t is None else float(t)).checked()

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)

    def checked(self) -> "DecodePolicy":
        from playlistgen.common.io import DataError

        if self.num_beams < 1 or self.playlist_length < 1 or not 0 < self.top_p <= 1:
            raise DataError(f"decode settings out of range: num_beams and playlist_length must be >= 1 and top_p in "
                            f"(0, 1]; got {self}.")
        if self.max_repeats is not None and self.max_repeats < 1:
            raise DataError(f"decode max_repeats must be >= 1 or null, not {self.max_repeats}.")
        if self.temperature is not None and not (0 < self.temperature < float("inf")):
            raise DataError(f"decode temperature must be a positive finite number, not {self.temperature}.")
        return self

    @staticmethod
    def cluster_range(n: int) -> tuple[int, int]:
        """(min, max) clusters generated for a playlist of n songs."""
        return n, n + max(2, -(-n // 4))

    def config(self, n: int | None = None, beams: int | None = None, temperature: float | None = None,
               clusters: int | None = None) -> DecodeConfig:
        """The DecodeConfig for an n-song playlist; `beams`/`temperature` override the policy's own (a temperature
        turns sampling on). With the number of `clusters` there are, the range is capped at what max_repeats lets
        them give (a small catalog cannot fill a long playlist: it comes out shorter)."""
        low, high = self.cluster_range(n or self.playlist_length)
        if clusters is not None and self.max_repeats is not None:
            capacity = clusters * self.max_repeats
            low, high = min(low, capacity), min(high, capacity)
        temperature = temperature if temperature is not None else self.temperature
        sample = temperature is not None
        return DecodeConfig(num_beams=beams or (1 if sample else self.num_beams), max_clusters=high, min_clusters=low,
                            do_sample=sample, temperature=temperature if sample else 1.0, top_p=self.top_p)


def encode_titles(tokenizer, titles: list[str], max_source_tokens: int, device,
                  extra: list[list[int]] | None = None) -> dict[str, torch.Tensor]:
    """Encoder input ids as train.encode_examples builds them: title tokens, `extra` (retrieval.py), EOS."""
    ids = tokenizer(titles, add_special_tokens=False, truncation=True, max_length=max_source_tokens - 1)["input_ids"]
    extra = extra if extra is not None else [[]] * len(ids)
    ids = [row + more + [tokenizer.eos_token_id] for row, more in zip(ids, extra)]
    width = max(len(r) for r in ids)
    input_ids = torch.full((len(ids), width), tokenizer.pad_token_id, dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, :len(row)] = torch.tensor(row)
    return {"input_ids": input_ids.to(device), "attention_mask": (input_ids != tokenizer.pad_token_id).long().to(device)}


def model_inputs(model, tokenizer, titles: list[str], max_source_tokens: int, title_encoder=None,
                 retrieval=None, encode: bool = False) -> dict:
    """What generate() or forward() takes for these titles: input_ids and attention_mask, or, for a model that
    reads pretrained title states (model.TitleT5 with title_proj, which needs the `title_encoder` it was trained
    with) or with `encode`, encoder_outputs and attention_mask. A model trained with retrieved clusters as input
    needs its `retrieval` (retrieval.NeighbourClusters)."""
    device = next(model.parameters()).device
    extra = retrieval.token_ids(titles) if retrieval is not None else None
    batch = encode_titles(tokenizer, titles, max_source_tokens, device, extra)
    states = states_mask = None
    if getattr(model, "title_proj", None) is not None:
        if title_encoder is None:
            raise ValueError("this model reads pretrained title states: pass title_encoder (title_encoder.py).")
        from playlistgen.modeling.title_encoder import pad_states

        states, states_mask = pad_states(title_encoder.states(titles))
        states, states_mask = states.to(device), states_mask.to(device)
    elif not encode:
        return batch
    encoder_outputs, mask = model.encode(batch["input_ids"], batch["attention_mask"], states, states_mask)
    return {"encoder_outputs": encoder_outputs, "attention_mask": mask}


DISTRIBUTION_ROWS = 4096  # decoder rows (titles x code prefixes) per pass of first_cluster_distribution


@torch.inference_mode()
def first_cluster_distribution(model, tokenizer, vocab: CodeVocab, cluster_keys: list[str], titles: list[str],
                               max_source_tokens: int, title_encoder=None, retrieval=None) -> np.ndarray:
    """P(the first generated cluster is c | title) for every c in `cluster_keys`: (titles, clusters), rows sum to 1.

    Targets list a playlist's clusters most characteristic first (corpus.target_order), so this is the model's
    belief of which cluster the title is about, over the whole catalog and not only the clusters beam search
    keeps. One decoder pass per distinct code prefix: every cluster's code tokens are scored under the decoder
    start token, the product of its levels' probabilities (each level's softmax over that level's codes), then
    renormalised over the existing clusters as the constrained decoding is."""
    model.eval()
    codes = torch.tensor([parse_cluster_key(k) for k in cluster_keys], dtype=torch.long)  # (C, L)
    levels, size = codes.shape[1], vocab.codebook_size
    prefixes, row = torch.unique(codes[:, :levels - 1], dim=0, return_inverse=True)      # (P, L-1), (C,)
    device = next(model.parameters()).device
    decoder_start = torch.full((len(prefixes), 1), vocab.pad_id, dtype=torch.long)
    decoder_ids = torch.cat([decoder_start, vocab.offset + size * torch.arange(levels - 1) + prefixes], 1).to(device)
    p = len(prefixes)
    step = max(1, DISTRIBUTION_ROWS // p)  # titles per pass: memory stays bounded for large codebooks
    out = []
    for start in range(0, len(titles), step):
        chunk = titles[start:start + step]
        batch = model_inputs(model, tokenizer, chunk, max_source_tokens, title_encoder, retrieval, encode=True)
        hidden, mask = batch["encoder_outputs"].last_hidden_state, batch["attention_mask"]
        n = len(chunk)
        logits = model(encoder_outputs=(hidden.repeat_interleave(p, 0),), attention_mask=mask.repeat_interleave(p, 0),
                       decoder_input_ids=decoder_ids.repeat(n, 1)).logits.float().view(n, p, levels, -1)
        log_p = torch.zeros((n, len(cluster_keys)), device=logits.device)
        for level in range(levels):  # each level: the softmax over its own code tokens, read at the cluster's prefix
            lo = vocab.offset + size * level
            level_log_p = torch.log_softmax(logits[:, :, level, lo:lo + size], -1)       # (n, P, K)
            log_p += level_log_p[:, row.to(device), codes[:, level].to(device)]
        out.append(torch.softmax(log_p, -1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(cluster_keys)), dtype=np.float32)


@torch.inference_mode()
def generate_clusters(model, tokenizer, vocab: CodeVocab, constraint: ClusterConstraint | None, titles: list[str],
                      cfg: DecodeConfig, max_source_tokens: int, num_return_sequences: int = 1,
                      generator_seed: int | None = None, title_encoder=None,
                      retrieval=None) -> tuple[list[list[list[str]]], int, int]:
    """Generate cluster sequences for titles: returns (per title a list of sequences, invalid tuples, tuples).

    Each sequence is a list of cluster keys in generated order, repeats kept. A model that reads pretrained title
    states (model.TitleT5 with title_proj) needs the `title_encoder` it was trained with; one trained with
    retrieved clusters as input needs its `retrieval` (retrieval.NeighbourClusters).
    """
    model.eval()
    batch = model_inputs(model, tokenizer, titles, max_source_tokens, title_encoder, retrieval)
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
    if processors:
        constraint.reset()
    out = model.generate(**batch, **kwargs)  # (B * num_return_sequences, T)
    if processors:
        constraint.check()
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

def decode_all(model, tokenizer, vocab, constraint, titles, cfg, max_source_tokens, batch_size, accelerator,
               title_encoder=None, retrieval=None, cluster_keys: list[str] | None = None):
    """Generate for all titles, sharded across processes; returns (sequences in input order, invalid, total,
    distributions): with `cluster_keys`, distributions[i] is title i's cluster -> the model's probability of it as
    the first cluster (decode.first_cluster_distribution), else None."""
    from accelerate.utils import gather_object

    with accelerator.split_between_processes(list(enumerate(titles))) as shard:
        local, invalid, total = [], 0, 0
        for start in range(0, len(shard), batch_size):
            chunk = shard[start:start + batch_size]
            chunk_titles = [t for _, t in chunk]
            seqs, bad, n = generate_clusters(model, tokenizer, vocab, constraint, chunk_titles, cfg,
                                             max_source_tokens, title_encoder=title_encoder, retrieval=retrieval)
            probs = (first_cluster_distribution(model, tokenizer, vocab, cluster_keys, chunk_titles,
                                                max_source_tokens, title_encoder, retrieval)
                     if cluster_keys is not None else [None] * len(chunk))
            local += [(i, s[0], p) for (i, _), s, p in zip(chunk, seqs, probs)]
            invalid, total = invalid + bad, total + n
    gathered = sorted(gather_object(local), key=lambda row: row[0])
    counts = gather_object([(invalid, total)])
    distributions = (None if cluster_keys is None else
                     [dict(zip(cluster_keys, p.tolist())) for _, _, p in gathered])
    return [s for _, s, _ in gathered], sum(c[0] for c in counts), sum(c[1] for c in counts), distributions
