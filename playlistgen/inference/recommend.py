"""Titles -> ranked songs with the trained generator: decode cluster IDs, then order the clusters' songs.

Used by the evaluate stage, the real-data check and (through the bundle) PlaylistGenerator, so that what is scored
is what ships.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from playlistgen.lookup.baselines import Recommendation
from playlistgen.ids.clusters import ClusterIndex, distinct, fusion_factors
from playlistgen.inference.decode import ClusterConstraint, DecodeConfig, DecodePolicy, generate_clusters


class TitleQuery(NamedTuple):
    """A title as SongTitleProfiles.scores reads it (SongTitleProfiles.queries)."""
    vector: np.ndarray  # L2-normalised sentence vector
    lexical: object = None  # (1, n-grams) sparse TF-IDF row over the profiles' character n-grams, with a lexical part


class SongTitleProfiles:
    """A title-song score learned from the training playlists: a song's profile is the mean sentence vector of the
    titles of the training playlists that hold it, so "workout" scores the songs people file under gym titles
    above the equally popular songs of the same cluster filed under "chill". Songs in no training playlist have no
    profile and score 0.

    With a lexical part (with_lexical; evaluate.title_lexical) a song also has the mean TF-IDF vector of those
    titles over character n-grams (the title-kNN baseline's vectorizer), and the score is (sentence cosine +
    w x n-gram cosine) / (1 + w): the words a sentence model reads past ("remixes", "top 50", "2020", names) count
    too."""

    def __init__(self, song_ids: list[str], vectors: np.ndarray):
        self.row = {s: i for i, s in enumerate(song_ids)}
        self.vectors = vectors  # (songs, D), L2-normalised
        self.lexical_weight, self.vectorizer, self.titles, self.holds, self.lexical_norms = 0.0, None, None, None, None

    @classmethod
    def from_playlists(cls, playlists, title_vectors: np.ndarray) -> "SongTitleProfiles":
        """`playlists`: examples with song_ids; `title_vectors`: their titles' L2-normalised sentence vectors."""
        rows = playlists_of_songs(playlists)
        song_ids = list(rows)
        vectors = np.stack([title_vectors[r].mean(0) for r in rows.values()]) if rows else np.zeros((0, 1))
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return cls(song_ids, vectors.astype(np.float32))

    @classmethod
    def from_training(cls, train, encoder, lexical_weight: float = 0.0, ngram: tuple[int, int] = (2, 4),
                      knn=None) -> "SongTitleProfiles":
        """The profiles of the training playlists' songs, with the lexical part when `lexical_weight` > 0 (`knn`:
        as in with_lexical)."""
        profiles = cls.from_playlists(train, encoder.sentence_vectors([e.title for e in train]))
        return profiles.with_lexical(train, lexical_weight, ngram, knn) if lexical_weight else profiles

    def with_lexical(self, playlists, weight: float, ngram: tuple[int, int], knn=None) -> "SongTitleProfiles":
        """Add the lexical part from the same training playlists (a bundle rebuilds it from its train.jsonl). A song's
        n-gram profile is the normalised sum of its playlists' TF-IDF rows; it is kept factored (which playlists
        hold the song, the playlists' rows, the profile's norm), so a query costs one product per playlist and per
        song-playlist pair, not per n-gram of every profile. `knn`: a baselines.TitleKnnBaseline over the same
        playlists and n-grams, whose fitted vectorizer is reused instead of fitting the same one again."""
        from scipy import sparse

        from playlistgen.lookup.baselines import title_vectorizer

        if knn is not None:
            self.vectorizer, titles = knn.vectorizer, knn.matrix
        else:
            self.vectorizer = title_vectorizer(tuple(ngram))
            titles = self.vectorizer.fit_transform([p.title for p in playlists])
        self.titles = titles.astype(np.float32).tocsr()
        pairs = [(self.row[s], i) for s, rows in playlists_of_songs(playlists).items() if s in self.row for i in rows]
        pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        self.holds = sparse.csr_matrix((np.ones(len(pairs), dtype=np.float32), (pairs[:, 0], pairs[:, 1])),
                                       shape=(len(self.row), len(playlists)))  # (songs, playlists)
        sums = self.holds @ self.titles  # (songs, n-grams): built once for the norms, not kept
        self.lexical_norms = np.maximum(np.sqrt(np.asarray(sums.multiply(sums).sum(1)).ravel()), 1e-12)
        self.lexical_weight = float(weight)
        return self

    def lexical_scores(self, lexical) -> np.ndarray:
        """Cosine of a title's TF-IDF row (1, n-grams) with every song's n-gram profile; (songs,)."""
        per_playlist = np.asarray((self.titles @ lexical.T).todense()).ravel()
        return (self.holds @ per_playlist) / self.lexical_norms

    def queries(self, titles: list[str], encoder) -> list[TitleQuery]:
        """The titles as scores() reads them: sentence vectors, and TF-IDF rows with a lexical part."""
        vectors = encoder.sentence_vectors(titles)
        if self.vectorizer is None:
            return [TitleQuery(v) for v in vectors]
        lexical = self.vectorizer.transform(titles).astype(np.float32)
        return [TitleQuery(v, lexical[i]) for i, v in enumerate(vectors)]

    def scores(self, query: TitleQuery | np.ndarray, song_ids: list[str]) -> np.ndarray:
        """Cosine of the query title with each song's profile (with the lexical part: the weighted mean of the
        sentence and n-gram cosines); (len(song_ids),). `query`: a TitleQuery, or a bare sentence vector. A song
        without a profile (added after training, or in no training playlist) gets the mean score of the others, so
        that it is ranked as an average song of its pool rather than never."""
        vector, lexical = (query.vector, query.lexical) if isinstance(query, TitleQuery) else (query, None)
        rows = np.array([self.row.get(s, -1) for s in song_ids], dtype=np.int64)
        known = rows >= 0
        out = np.zeros(len(song_ids), dtype=np.float32)
        if known.any():
            score = self.vectors[rows[known]] @ vector
            if lexical is not None and self.vectorizer is not None:
                w = self.lexical_weight
                score = (score + w * self.lexical_scores(lexical)[rows[known]]) / (1.0 + w)
            out[known] = score
            out[~known] = out[known].mean()
        return out


def playlists_of_songs(playlists) -> dict[str, list[int]]:
    """song -> the indices of the playlists holding it, songs in first-seen order."""
    rows: dict[str, list[int]] = {}
    for i, p in enumerate(playlists):
        for s in dict.fromkeys(p.song_ids):
            rows.setdefault(s, []).append(i)
    return rows


def title_aware_weights(profiles: SongTitleProfiles, query: np.ndarray, song_ids, title_weight: float,
                        base_weights: dict[str, float], neighbours: dict[str, float] | None, fusion_weight: float,
                        sharpness: float) -> dict[str, float]:
    """What a sampled playlist draws each cluster's song by: (base weight x exp(title_weight x cos(title, song's
    title profile)) x the kNN fusion factor with `neighbours`)^sharpness, scaled so the largest is 1. Without the
    power it is the score ClusterIndex.ranked_songs orders by; the power (evaluate.draw_sharpness) makes a
    proportional draw favour the top of that order as a ranked list does."""
    song_ids = list(song_ids)
    log_w = title_weight * profiles.scores(query, song_ids)
    base = np.array([max(base_weights.get(s, 0.0), 1e-6) for s in song_ids])
    if neighbours and fusion_weight:
        base = base * np.array(fusion_factors(neighbours, song_ids, fusion_weight))
    log_w = sharpness * (log_w + np.log(base))
    w = np.exp(log_w - log_w.max(initial=0.0))
    return dict(zip(song_ids, (w / max(w.max(initial=0.0), 1e-300)).tolist()))


class Recommender:
    """Titles -> each method's ranked songs from a work folder's trained model (the real-data check, tests): the
    evaluate stage's answers, under one ranking.RankingPolicy."""

    def __init__(self, model, tokenizer, vocab, index: ClusterIndex, decode: DecodeConfig, max_source_tokens: int,
                 weights: dict[str, float], policy, title_encoder=None, profiles: SongTitleProfiles | None = None,
                 max_repeats: int | None = 1, batch_size: int = 64, train=None, retrieval=None, neighbours=None,
                 mentions=None):
        self.model, self.tokenizer, self.vocab, self.index = model, tokenizer, vocab, index
        self.decode, self.max_source_tokens, self.weights = decode, max_source_tokens, weights
        self.policy = policy  # ranking.RankingPolicy: every ranking setting
        self.title_encoder, self.profiles = title_encoder, profiles
        self.constraint = ClusterConstraint(vocab, list(index.songs_in_cluster), decode.min_clusters,
                                            decode.max_clusters, max_repeats)
        self.batch_size = batch_size
        self.train = train
        self.retrieval = retrieval  # retrieval.NeighbourClusters, for a model trained with retrieved clusters
        self.neighbours = neighbours  # baselines.TitleKnnBaseline over the training titles, for model_knn
        self.mentions = mentions  # mentions.ArtistMentions (evaluate.artist_mentions), or None

    @property
    def title_weight(self) -> float:
        return self.policy.title_ranking

    @classmethod
    def from_work_dir(cls, work: Path, raw_dir, params: dict) -> "Recommender":
        from playlistgen.data.catalog import load_songs
        from playlistgen.data.corpus import read_examples
        from playlistgen.modeling.model import load_model
        from playlistgen.inference.ranking import RankingPolicy
        from playlistgen.modeling.title_encoder import make_title_encoder
        from playlistgen.modeling.tokenizer import CodeVocab, load_tokenizer

        e, t = params["evaluate"], params["train"]
        policy = RankingPolicy.from_params(e)
        work = Path(work)
        index = ClusterIndex.load(work / "quantize" / "clusters.json")
        tokenizer = load_tokenizer(work / "corpus" / "tokenizer")
        vocab = CodeVocab.from_tokenizer(tokenizer, index.cluster_levels, index.codebook_size)
        model = load_model(work / "train" / "model").eval()
        train = read_examples(work / "corpus" / "train.jsonl")
        songs = load_songs(Path(raw_dir) / "songs.jsonl")
        weights = policy.song_weights(Counter(s for x in train for s in x.song_ids),
                                      {s: v.popularity for s, v in songs.items()})
        encoder = make_title_encoder(t["title_encoder"], t["max_source_tokens"])
        neighbours = title_neighbours(train, policy)
        profiles = None
        if policy.title_ranking:
            encoder = encoder or make_title_encoder("minilm", t["max_source_tokens"])
            profiles = SongTitleProfiles.from_training(train, encoder, policy.title_lexical, policy.knn_ngram,
                                                       neighbours)
        decode_policy = DecodePolicy.from_params(e)
        cfg = decode_policy.config(clusters=len(index.songs_in_cluster))
        retrieval = cls.retrieval_for(work / "train" / "model", train, index, vocab)
        mentions = None
        if policy.artist_mentions:  # a lookup: part of model_knn only
            from playlistgen.lookup.mentions import ArtistMentions

            mentions = ArtistMentions.from_catalog(songs, train)
        return cls(model, tokenizer, vocab, index, cfg, t["max_source_tokens"], weights, policy,
                   encoder if getattr(model, "title_proj", None) is not None or profiles else None, profiles,
                   decode_policy.max_repeats, e["batch_size"], train, retrieval, neighbours, mentions)

    @staticmethod
    def retrieval_for(model_dir: Path, train, index: ClusterIndex, vocab):
        """The retrieval.NeighbourClusters a model trained with retrieved clusters reads, or None."""
        from playlistgen.lookup.retrieval import NeighbourClusters, RetrievalConfig

        cfg = RetrievalConfig.load(model_dir)
        if cfg is None:
            return None
        return NeighbourClusters(train, cfg, {k: len(v) for k, v in index.songs_in_cluster.items()}, vocab)

    def clusters(self, titles: list[str]) -> list[list[str]]:
        out = []
        encoder = self.title_encoder if getattr(self.model, "title_proj", None) is not None else None
        for start in range(0, len(titles), self.batch_size):
            seqs, _, _ = generate_clusters(self.model, self.tokenizer, self.vocab, self.constraint,
                                           titles[start:start + self.batch_size], self.decode, self.max_source_tokens,
                                           title_encoder=encoder, retrieval=self.retrieval)
            out += [s[0] for s in seqs]
        return out

    def distributions(self, titles: list[str]) -> list[dict[str, float]] | None:
        """Per title, cluster -> the model's probability of it as the first cluster
        (decode.first_cluster_distribution), or None when the policy does not read it (cluster_score_power 0)."""
        from playlistgen.inference.decode import first_cluster_distribution

        if not self.policy.cluster_score_power:
            return None
        keys = list(self.index.songs_in_cluster)
        encoder = self.title_encoder if getattr(self.model, "title_proj", None) is not None else None
        return [dict(zip(keys, row.tolist())) for start in range(0, len(titles), self.batch_size)
                for row in first_cluster_distribution(self.model, self.tokenizer, self.vocab, keys,
                                                      titles[start:start + self.batch_size], self.max_source_tokens,
                                                      encoder, self.retrieval)]

    def recommend_all(self, titles: list[str], k: int) -> dict[str, list[Recommendation]]:
        """{"model": each title's generated clusters and top-k songs, and when the policy fuses lookups
        "model_knn": the same clusters with the nearest training titles' songs fused in and the songs of the
        artists a title names first}, ordered as the evaluate stage orders them."""
        queries = self.profiles.queries(titles, self.title_encoder) if self.profiles is not None else None
        clusters = self.clusters(titles)
        distributions = self.distributions(titles)
        out = {"model": model_recommendations(clusters, self.index, k, self.weights, self.policy.for_method("model"),
                                              self.profiles, queries, distributions=distributions)}
        if self.neighbours is not None and self.policy.knn_fusion:
            neighbours = [songs for songs, _ in self.neighbours.neighbour_scores(titles)]
            named = [self.mentions.songs(t, self.weights) for t in titles] if self.mentions is not None else None
            out["model_knn"] = model_recommendations(clusters, self.index, k, self.weights,
                                                     self.policy.for_method("model_knn"), self.profiles, queries,
                                                     neighbours, distributions, named)
        return out


def title_neighbours(train, policy):
    """The title TF-IDF kNN over the training playlists that model_knn fuses (the policy's knn_neighbours and
    knn_ngram, as the title_knn baseline), or None when the policy fuses none (knn_fusion 0)."""
    if not policy.knn_fusion:
        return None
    from playlistgen.lookup.baselines import TitleKnnBaseline

    return TitleKnnBaseline(train, policy.knn_neighbours, policy.knn_ngram)

def model_recommendations(sequences: list[list[str]], index: ClusterIndex, n_songs: int,
                          weights: dict[str, float], policy, profiles=None, queries=None, neighbours=None,
                          distributions=None, named=None) -> list[Recommendation]:
    """The model's clusters (distinct, generated order) and its top `n_songs` songs under `policy`
    (ranking.RankingPolicy.rank): `weights` (ranking_weights), with `profiles` and the titles' queries
    (SongTitleProfiles.queries) the title-aware order, with `distributions` (per title, cluster -> the model's
    probability, decode.first_cluster_distribution) the cluster belief, and with a policy that fuses lookups
    (model_knn) `neighbours` (per title, song -> title-kNN score) and `named` (per title, the songs of the artists it
    names, mentions.py)."""
    out = []
    for i, seq in enumerate(sequences):
        scorer = (lambda ids, q=queries[i]: profiles.scores(q, ids)) if profiles is not None else None
        out.append(Recommendation(distinct(seq), policy.rank(
            index, seq, n_songs, weights, scorer, neighbours[i] if neighbours is not None else None,
            distributions[i] if distributions is not None else None, named[i] if named is not None else None)))
    return out
