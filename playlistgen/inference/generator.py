"""PlaylistGenerator: title in, playlist of real songs out. The CLI is a thin layer over it.

Cluster ids come from the model (constrained beam search, or sampling with a temperature); one song is sampled per
cluster slot (the generated clusters, or with evaluate.draw_slots "ranked" those of the ranked list, repeated as it
holds them), so the same title can give a different playlist each time (design doc 000).
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from playlistgen.data.catalog import clean_title
from playlistgen.ids.clusters import ClusterIndex, draw_keys, ranked_slots, sample_playlist
from playlistgen.inference.decode import ClusterConstraint, DecodePolicy, generate_clusters
from playlistgen.common.io import DataError, read_json, read_jsonl
from playlistgen.common.limits import MAX_TITLE_CHARS  # longer input is cut before tokenising, with a warning
from playlistgen.inference.on_demand import generation_allowed
from playlistgen.inference.ranking import RankingPolicy

log = logging.getLogger(__name__)

DISTRIBUTIONS_KEPT = 1024  # titles whose cluster distribution is kept (about 8 KB each per 1,000 clusters)


class TitleError(ValueError):
    """A title that cannot be used (empty after cleaning)."""


@dataclass
class Track:
    position: int
    song_id: str
    title: str
    artist: str
    cluster: str
    tags: list[str] | None = None

    def to_json(self) -> dict:
        return self.__dict__.copy()


def _loaded(path: Path, load):
    """load(path), with a failure (a file cut short, a config that is not JSON) named as the bundle's fault."""
    try:
        return load(path)
    except DataError:
        raise
    except Exception as e:  # transformers, tokenizers and safetensors raise many kinds for a broken file
        raise DataError(f"{path}: cannot be loaded ({type(e).__name__}: {str(e)[:200]}); export the bundle again "
                        "with `dvc repro export`.") from None


class PlaylistGenerator:
    """Load a bundle once, then call `generate(title)` as often as you like."""

    def __init__(self, bundle_dir: str | Path, device: str | None = None, threads: int | None = None,
                 data_dir: str | Path | None = None):
        """`data_dir`: the catalog directory (songs.jsonl, features/) used only to generate semantic IDs when the
        bundle's song -> ID file is missing; default $PLAYLISTGEN_DATA_DIR, else the catalog the bundle came from."""
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a weight-loading bar per start is noise in a CLI

        self.bundle_dir = Path(bundle_dir)
        manifest_path = self.bundle_dir / "manifest.json"
        if not manifest_path.exists():
            raise DataError(f"{self.bundle_dir}: not a playlistgen bundle (no manifest.json); run `dvc repro export` "
                            "or pass --bundle with the exported folder.")
        if threads:
            torch.set_num_threads(threads)
        else:
            from playlistgen.common import threads as cpu_threads

            cpu_threads.configure()  # the cores this process may use, not the machine's
        self.manifest = read_json(manifest_path)
        from playlistgen.inference.bundle import verify_bundle

        verify_bundle(self.bundle_dir, self.manifest)
        try:
            self._load(data_dir, device)
        except KeyError as e:
            raise DataError(f"{manifest_path}: no {e.args[0]!r} entry (an older or hand-edited manifest); export the "
                            "bundle again with `dvc repro export`.") from None

    def _load(self, data_dir, device) -> None:
        from playlistgen.modeling.tokenizer import CodeVocab, load_tokenizer

        self.decode_defaults = self.manifest["decode"]
        self.policy = DecodePolicy.from_dict(self.decode_defaults)  # the decoding the evaluate stage scored
        self.ranking = RankingPolicy.from_manifest(self.decode_defaults, str(self.bundle_dir / "manifest.json"))
        self.songs = {str(r["song_id"]): r for _, r in read_jsonl(self.bundle_dir / "songs.jsonl")}
        self.popularity = {s: float(r.get("popularity", 0.0)) for s, r in self.songs.items()}
        self.ranking_weights = self.ranking.song_weights({s: int(r.get("playlist_count", 0)) for s, r in self.songs.items()},
                                               self.popularity)
        data_dir = data_dir or os.environ.get("PLAYLISTGEN_DATA_DIR") or self.manifest.get("data_dir")
        self.index = self._cluster_index(Path(data_dir) if data_dir else None)
        self.tokenizer = _loaded(self.bundle_dir / "tokenizer", load_tokenizer)
        self.vocab = CodeVocab.from_tokenizer(self.tokenizer, self.index.cluster_levels, self.index.codebook_size)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        from playlistgen.modeling.model import load_model
        from playlistgen.inference.recommend import SongTitleProfiles
        from playlistgen.modeling.title_encoder import TitleEncoder

        self.model = _loaded(self.bundle_dir / "model", load_model).to(self.device).eval()
        self.max_source_tokens = int(self.decode_defaults["max_source_tokens"])
        self.title_weight = self.ranking.title_ranking
        self.profiles = None
        if (self.bundle_dir / "title_profiles.npz").exists() and self.title_weight:
            with np.load(self.bundle_dir / "title_profiles.npz") as z:
                self.profiles = SongTitleProfiles([str(s) for s in z["song_ids"]], z["vectors"].astype(np.float32))
        from playlistgen.data.corpus import read_examples

        train_path = self.bundle_dir / "train.jsonl"  # the training titles: kNN, lexical profiles, retrieval
        train = read_examples(train_path) if train_path.exists() else None
        # model_knn: the nearest training titles' songs fused into the song order (evaluate.knn_fusion)
        self.fusion_weight = self.ranking.knn_fusion  # 0 (`--no-knn`, method model): the model alone
        self.neighbours = None
        if self.fusion_weight and train is not None:
            from playlistgen.lookup.baselines import TitleKnnBaseline

            self.neighbours = TitleKnnBaseline(train, self.ranking.knn_neighbours, self.ranking.knn_ngram)
        if self.profiles is not None and self.ranking.title_lexical and train is not None:
            self.profiles.with_lexical(train, self.ranking.title_lexical, self.ranking.knn_ngram, self.neighbours)
        reads_states = getattr(self.model, "title_proj", None) is not None
        self.title_encoder = TitleEncoder(self.max_source_tokens) if reads_states or self.profiles else None
        self.retrieval = None  # a model trained with retrieved clusters as input reads them here too
        from playlistgen.lookup.retrieval import NeighbourClusters, RetrievalConfig

        retrieval_cfg = RetrievalConfig.load(self.bundle_dir / "model")
        if retrieval_cfg is not None:
            sizes = {k: len(v) for k, v in ClusterIndex.load(self.bundle_dir / "clusters.json").songs_in_cluster.items()}
            self.retrieval = NeighbourClusters(train, retrieval_cfg, sizes, self.vocab)
        self.mentions = None  # artists a title names come first (evaluate.artist_mentions)
        if self.ranking.artist_mentions:
            from playlistgen.lookup.mentions import ArtistMentions

            self.mentions = ArtistMentions({s: r.get("artist") or "" for s, r in self.songs.items()},
                                           {tuple(n.split()) for n in self.decode_defaults.get(
                                               "artist_mentions_excluded", [])})
        self.familiar = None  # a notice for titles unlike every training title (familiar.py)
        from playlistgen.inference.familiar import FILE as FAMILIAR_FILE, TitleFamiliarity

        if (self.bundle_dir / FAMILIAR_FILE).exists() and self.title_encoder is not None:
            self.familiar = TitleFamiliarity.load(self.bundle_dir / FAMILIAR_FILE, self.ranking.knn_ngram,
                                                  self.decode_defaults["unfamiliar_title"])
        self._constraints: dict[tuple[int, int], ClusterConstraint] = {}
        self._distributions: OrderedDict[str, dict[str, float]] = OrderedDict()  # cluster_distributions, by title

    def _cluster_index(self, data_dir: Path | None) -> ClusterIndex:
        """Clusters from the song -> semantic ID file (generated when missing); songs added after training are in
        it too. If generation fails, degrade to the training-time index and say so."""
        from playlistgen.inference.on_demand import load_or_generate
        from playlistgen.ids.clusters import songs_in_cluster

        trained = ClusterIndex.load(self.bundle_dir / "clusters.json")
        try:
            ids = load_or_generate(self.bundle_dir, data_dir, self.manifest)
        except DataError as e:
            if not generation_allowed():
                raise
            log.warning("semantic IDs unavailable (%s); using the %d songs of the training-time cluster index",
                        e, len(trained.cluster_of_song))
            return trained
        ids = {s: c for s, c in ids.items() if s in self.songs}
        codes = np.array(list(ids.values()), dtype=np.int64).reshape(len(ids), -1)
        clusters = songs_in_cluster(list(ids), codes, trained.cluster_levels, self.popularity)
        log.info("%d songs in %d clusters (%.1f%% of the %d catalog songs have a semantic ID)",
                 len(ids), len(clusters), 100 * len(ids) / max(len(self.songs), 1), len(self.songs))
        return ClusterIndex(trained.cluster_levels, trained.codebook_size, clusters)

    def notices(self, titles: list[str]) -> list[str | None]:
        """Per title, a notice when it resembles no training title (familiar.py), else None; None for all when the
        bundle carries no training title vectors."""
        if self.familiar is None or not titles:
            return [None] * len(titles)
        cleaned = [clean_title(t[:MAX_TITLE_CHARS]) for t in titles]
        checks = self.familiar.check(cleaned, self.title_encoder.sentence_vectors(cleaned))
        return [c.notice(t) for c, t in zip(checks, cleaned)]

    def prepare_title(self, title: str) -> str:
        """Strip control characters and extra spaces; refuse an empty title; warn when it will be cut."""
        if not isinstance(title, str):
            raise TitleError(f"the title must be text, not {type(title).__name__}.")
        if len(title) > MAX_TITLE_CHARS:
            log.warning("title is %d characters long; only the first %d are read", len(title), MAX_TITLE_CHARS)
            title = title[:MAX_TITLE_CHARS]
        cleaned = clean_title(title)
        if not cleaned:
            raise TitleError("the title is empty; type a few words, e.g. \"rainy sunday piano\" or \"深夜学习\".")
        n_tokens = len(self.tokenizer(cleaned, add_special_tokens=False)["input_ids"])
        if n_tokens > self.max_source_tokens - 1:
            log.warning("title is %d tokens long; only the first %d are used", n_tokens, self.max_source_tokens - 1)
        return cleaned

    def generate_clusters(self, title: str, n: int | None = None, beams: int | None = None, temperature: float | None = None,
                          seed: int | None = None) -> list[str]:
        """Cluster keys for a title: at least `n` (EOS masked before), with some spare for exhausted clusters."""
        return self.generate_clusters_batch([title], n, beams, temperature, seed)[0]

    def generate_clusters_batch(self, titles: list[str], n: int | None = None, beams: int | None = None,
                                temperature: float | None = None, seed: int | None = None,
                                for_ranking: bool = False) -> list[list[str]]:
        """generate_clusters for many titles in one batched decode (what a bulk job wants). `for_ranking`: the
        playlists will be ranked or drawn from these clusters, so the titles' cluster distributions (which ranked
        lists and ranked draws read) are computed here too, in one batched pass instead of one per title."""
        prepared = [self.prepare_title(t) for t in titles]  # an unusable title is refused before any work
        n = self.policy.playlist_length if n is None else n
        if n < 1:
            raise ValueError("the playlist length must be at least 1.")
        if for_ranking:  # keyed by the titles as given: ranked_songs and the draws look them up so
            self.cluster_distributions(titles)
        titles = prepared
        cfg = self.policy.config(n, beams, temperature, len(self.index.songs_in_cluster))
        key = (cfg.min_clusters, cfg.max_clusters)
        constraint = self._constraints.get(key)
        if constraint is None:  # built (and moved to the device) once per playlist length
            constraint = ClusterConstraint(self.vocab, list(self.index.songs_in_cluster), *key, self.policy.max_repeats)
            self._constraints[key] = constraint
        encoder = self.title_encoder if getattr(self.model, "title_proj", None) is not None else None
        sequences, _, _ = generate_clusters(self.model, self.tokenizer, self.vocab, constraint, titles, cfg,
                                            self.max_source_tokens, generator_seed=seed, title_encoder=encoder,
                                            retrieval=self.retrieval)
        return [s[0] for s in sequences]

    def generate(self, title: str, n: int | None = None, seed: int | None = None, beams: int | None = None,
                 temperature: float | None = None, popularity_weighted: bool = False) -> list[Track]:
        """A playlist of up to `n` (default: the bundle's playlist_length) distinct songs, one per cluster slot
        (playlist_from_clusters); `seed` makes it repeatable."""
        n = n or self.policy.playlist_length
        clusters = self.generate_clusters(title, n, beams, temperature, seed)
        return self.playlist_from_clusters(title, clusters, n, seed, popularity_weighted)

    def playlist_from_clusters(self, title: str, clusters: list[str], n: int, seed: int | None = None,
                               popularity_weighted: bool = False, within: bool = False) -> list[Track]:
        """One song drawn from each cluster in turn (title-aware weights), at most `n`: a re-roll of the same
        clusters is this with another seed. With the bundle's draw_slots "ranked" the clusters are those of the
        top `n` ranked songs, each as often as the ranked list holds it (clusters.ranked_slots); the ranked list
        may reach beyond the given clusters (the likeliest clusters, the nearest titles' songs) unless `within`,
        which keeps it to them (a re-roll of the clusters a playlist came from: the same slots)."""
        unknown = [k for k in clusters if k not in self.index.songs_in_cluster]
        if unknown:
            raise ValueError(f"no cluster {unknown[0]!r} in this bundle; cluster ids look like '12-3'.")
        rng = np.random.default_rng(seed)
        named = self.named_songs(title)
        if self.ranking.draw_slots == "ranked":
            ranked = self.ranked_songs(title, clusters, None if within else n)
            if within:
                keep = set(clusters)
                ranked = [s for s in ranked if self.index.cluster_of_song.get(s) in keep][:n]
            clusters = ranked_slots(ranked, self.index, clusters)
        clusters = draw_keys(clusters, self.index, named)  # a named artist's clusters first
        weights = self.popularity if popularity_weighted else None
        if self.profiles is not None:  # title-aware: draw a cluster's songs by the same score that ranks them
            weights = self.title_aware_weights(title, self.index.expand(clusters), popularity_weighted)
        picked = sample_playlist(clusters, self.index, rng, weights, named)
        if len(picked) < n:  # every cluster slot was used up (a small catalog, tiny clusters)
            log.warning("the playlist has %d songs, not %d: one song per cluster slot, and this bundle has %d "
                        "clusters (at most %d songs per playlist)", len(picked), n, len(self.index.songs_in_cluster),
                        len(self.index.songs_in_cluster) * (self.policy.max_repeats or n))
        return [Track(i + 1, s, self.songs[s]["title"], self.songs[s]["artist"], k, self.songs[s].get("tags"))
                for i, (s, k) in enumerate(picked[:n])]

    def ranked_playlist(self, title: str, n: int | None = None, clusters: list[str] | None = None,
                        beams: int | None = None) -> list[Track]:
        """The top `n` songs as the evaluate stage ranks them (ranked_songs: what its NDCG and R-precision score),
        not one song drawn per cluster: the same title always gives the same list. `clusters`: already generated
        ones (else decoded here)."""
        n = n or self.policy.playlist_length
        clusters = clusters if clusters is not None else self.generate_clusters(title, n, beams)
        return [Track(i + 1, s, self.songs[s]["title"], self.songs[s]["artist"], self.index.cluster_of_song[s],
                      self.songs[s].get("tags")) for i, s in enumerate(self.ranked_songs(title, clusters, n))]

    def named_songs(self, title: str) -> list[str] | None:
        """The songs of the catalog artists the title names, best first (mentions.py), or None when it names none
        or the bundle does not look for them (evaluate.artist_mentions off, or a bundle exported before it). A
        lookup like the nearest titles, so `--no-knn` (the model alone, fusion_weight 0) turns it off too."""
        if self.mentions is None or not self.fusion_weight:
            return None
        return self.mentions.songs(clean_title(title[:MAX_TITLE_CHARS]), self.ranking_weights) or None

    def neighbour_songs(self, title: str) -> dict[str, float] | None:
        """song -> summed similarity over the training titles nearest `title` (model_knn), or None when the bundle
        does not fuse them (evaluate.knn_fusion 0) or `fusion_weight` was set to 0 (`--no-knn`)."""
        if self.neighbours is None or not self.fusion_weight:
            return None
        return self.neighbours.neighbour_scores([clean_title(title)])[0][0]

    def cluster_distribution(self, title: str) -> dict[str, float] | None:
        """cluster -> the model's probability of it as the title's first cluster
        (decode.first_cluster_distribution), or None when the bundle does not rank by it (cluster_score_power 0,
        or a bundle exported before it)."""
        distributions = self.cluster_distributions([title])
        return None if distributions is None else distributions[0]

    def cluster_distributions(self, titles: list[str]) -> list[dict[str, float]] | None:
        """cluster_distribution of many titles, the ones not seen lately in one batched forward pass; the last
        DISTRIBUTIONS_KEPT titles' are kept, so the server computes a batch's at once (ranked draws read them per
        request) and a re-roll of a title does not compute its again."""
        from playlistgen.inference.decode import first_cluster_distribution

        if not self.ranking.cluster_score_power:
            return None
        cleaned = [clean_title(t[:MAX_TITLE_CHARS]) for t in titles]  # as prepare_title reads them, no warnings
        missing = list(dict.fromkeys(t for t in cleaned if t not in self._distributions))
        if missing:
            keys = list(self.index.songs_in_cluster)
            encoder = self.title_encoder if getattr(self.model, "title_proj", None) is not None else None
            probs = first_cluster_distribution(self.model, self.tokenizer, self.vocab, keys, missing,
                                               self.max_source_tokens, encoder, self.retrieval)
            for title, row in zip(missing, probs):
                self._distributions[title] = dict(zip(keys, row.tolist()))
        out = []
        for title in cleaned:
            self._distributions.move_to_end(title)
            out.append(self._distributions[title])
        while len(self._distributions) > DISTRIBUTIONS_KEPT:
            self._distributions.popitem(last=False)
        return out

    def ranked_songs(self, title: str, clusters: list[str], limit: int | None) -> list[str]:
        """The songs in the order the evaluate stage scores (ClusterIndex.ranked_songs): training-playlist weight
        times P(the song's cluster | title)^cluster_score_power (or / (1 + cluster rank) in bundles without it),
        times exp(title_ranking x cos(title, song profile)), times the kNN fusion factor with the nearest training
        titles' songs added, the named artists' songs first (model_knn; the model alone without both)."""
        scorer = None
        if self.profiles is not None:
            query = self.profiles.queries([clean_title(title)], self.title_encoder)[0]
            scorer = lambda ids: self.profiles.scores(query, ids)  # noqa: E731
        return self.active_ranking().rank(self.index, clusters, limit, self.ranking_weights, scorer,
                                          self.neighbour_songs(title), self.cluster_distribution(title),
                                          self.named_songs(title))

    def active_ranking(self) -> RankingPolicy:
        """The bundle's ranking policy for the method in use: model_knn as exported, the model alone once
        `fusion_weight` is set to 0 (`--no-knn`, `challenge --method model`)."""
        return self.ranking if self.fusion_weight else self.ranking.for_method("model")

    def title_aware_weights(self, title: str, song_ids, popularity_weighted: bool = False) -> dict[str, float]:
        """song -> (ranking weight x exp(title_ranking x cos(title, song's title profile)) x the kNN fusion
        factor)^draw_sharpness: the order the evaluate stage scores (ClusterIndex.ranked_songs), sharpened for a
        proportional draw, scaled so the largest is 1; with
        `popularity_weighted` the catalog's popularity replaces the ranking weight."""
        from playlistgen.inference.recommend import title_aware_weights

        query = self.profiles.queries([clean_title(title)], self.title_encoder)[0]
        return title_aware_weights(self.profiles, query, song_ids, self.title_weight,
                                   self.popularity if popularity_weighted else self.ranking_weights,
                                   self.neighbour_songs(title), self.fusion_weight, self.ranking.draw_sharpness)

    def cluster_songs(self, key: str) -> list[dict]:
        if key not in self.index.songs_in_cluster:
            raise KeyError(f"no cluster '{key}'; cluster ids look like '12-3'.")
        return [self.songs[s] for s in self.index.songs_in_cluster[key]]
