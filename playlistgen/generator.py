"""PlaylistGenerator: title in, playlist of real songs out. The CLI is a thin layer over it.

Cluster ids come from the model (constrained beam search, or sampling with a temperature); one song is sampled from
each generated cluster, so the same title can give a different playlist each time (design doc 000).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .catalog import clean_title
from .clusters import ClusterIndex, sample_playlist
from .decode import ClusterConstraint, DecodeConfig, generate_clusters
from .io import DataError, read_json, read_jsonl

log = logging.getLogger(__name__)


class TitleError(ValueError):
    """A title that cannot be used (empty after cleaning)."""


@dataclass
class Track:
    position: int
    song_id: str
    title: str
    artist: str
    cluster: str

    def to_json(self) -> dict:
        return self.__dict__.copy()


class PlaylistGenerator:
    """Load a bundle once, then call `generate(title)` as often as you like."""

    def __init__(self, bundle_dir: str | Path, device: str | None = None, threads: int | None = None):
        from transformers import T5ForConditionalGeneration
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a weight-loading bar per start is noise in a CLI

        from .tokenizer import CodeVocab, load_tokenizer

        self.bundle_dir = Path(bundle_dir)
        manifest_path = self.bundle_dir / "manifest.json"
        if not manifest_path.exists():
            raise DataError(f"{self.bundle_dir}: not a playlistgen bundle (no manifest.json); run `dvc repro export` "
                            "or pass --bundle with the exported folder.")
        if threads:
            torch.set_num_threads(threads)
        self.manifest = read_json(manifest_path)
        self.decode_defaults = self.manifest["decode"]
        self.index = ClusterIndex.load(self.bundle_dir / "clusters.json")
        self.tokenizer = load_tokenizer(self.bundle_dir / "tokenizer")
        self.vocab = CodeVocab.from_tokenizer(self.tokenizer, self.index.cluster_levels, self.index.codebook_size)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = T5ForConditionalGeneration.from_pretrained(self.bundle_dir / "model").to(self.device).eval()
        self.songs = {str(r["song_id"]): r for _, r in read_jsonl(self.bundle_dir / "songs.jsonl")}
        self.popularity = {s: float(r.get("popularity", 0.0)) for s, r in self.songs.items()}
        self.max_source_tokens = int(self.decode_defaults["max_source_tokens"])

    def prepare_title(self, title: str) -> str:
        """Strip control characters and extra spaces; refuse an empty title; warn when it will be cut."""
        cleaned = clean_title(title or "")
        if not cleaned:
            raise TitleError("the title is empty; type a few words, e.g. \"rainy sunday piano\" or \"深夜学习\".")
        n_tokens = len(self.tokenizer(cleaned, add_special_tokens=False)["input_ids"])
        if n_tokens > self.max_source_tokens - 1:
            log.warning("title is %d tokens long; only the first %d are used", n_tokens, self.max_source_tokens - 1)
        return cleaned

    def generate_clusters(self, title: str, n: int, beams: int | None = None, temperature: float | None = None,
                          seed: int | None = None) -> list[str]:
        """Cluster keys for a title: at least `n` (EOS masked before), with some spare for exhausted clusters."""
        title = self.prepare_title(title)
        if n < 1:
            raise ValueError("the playlist length must be at least 1.")
        max_clusters = n + max(2, math.ceil(n * 0.25))
        constraint = ClusterConstraint(self.vocab, list(self.index.songs_in_cluster), n, max_clusters,
                                       self.decode_defaults.get("max_repeats"))
        cfg = DecodeConfig(num_beams=beams or int(self.decode_defaults["num_beams"]), max_clusters=max_clusters,
                           min_clusters=n, do_sample=temperature is not None, temperature=temperature or 1.0,
                           top_p=float(self.decode_defaults.get("top_p", 1.0)))
        if cfg.do_sample:
            cfg.num_beams = beams or 1
        sequences, _, _ = generate_clusters(self.model, self.tokenizer, self.vocab, constraint, [title], cfg,
                                            self.max_source_tokens, generator_seed=seed)
        return sequences[0][0]

    def generate(self, title: str, n: int = 20, seed: int | None = None, beams: int | None = None,
                 temperature: float | None = None, popularity_weighted: bool = False) -> list[Track]:
        """A playlist of up to `n` distinct songs, one per generated cluster; `seed` makes it repeatable."""
        clusters = self.generate_clusters(title, n, beams, temperature, seed)
        rng = np.random.default_rng(seed)
        picked = sample_playlist(clusters, self.index, rng, self.popularity if popularity_weighted else None)
        if len(picked) < n:  # every generated cluster was used up (tiny clusters, many repeats)
            log.info("only %d distinct songs in the generated clusters; the playlist is shorter than %d", len(picked), n)
        return [Track(i + 1, s, self.songs[s]["title"], self.songs[s]["artist"], k) for i, (s, k) in enumerate(picked[:n])]

    def cluster_songs(self, key: str) -> list[dict]:
        if key not in self.index.songs_in_cluster:
            raise KeyError(f"no cluster '{key}'; cluster ids look like '12-3'.")
        return [self.songs[s] for s in self.index.songs_in_cluster[key]]
