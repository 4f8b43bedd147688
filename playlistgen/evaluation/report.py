"""The evaluate stage's work: decode the test and validation titles with the trained model, answer them with the
model, model_knn and every baseline, and build what the stage writes (metrics/evaluate.json, evaluate_val.json,
metrics_at_k.json, samples.md). Takes the params blocks as given; never reads params.yaml."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from playlistgen.ids.clusters import ClusterIndex, distinct
from playlistgen.data.corpus import Example, read_examples
from playlistgen.inference.decode import decode_all
from playlistgen.inference.recommend import model_recommendations
from playlistgen.evaluation.evaluate import (baseline_recommendations, format_samples, has_cjk, intervals_vs_best_baseline, length_bucket,
                       sampled_playlist_metrics, score, score_rows, unseen_wording)
from playlistgen.evaluation.metrics import commonest_item_share, top_list_diversity
from playlistgen.inference.ranking import RankingPolicy

HEADLINE = ["ndcg@10", "r_precision", "recall@50", "expansion_f1", "cluster_f1"]
MODEL_METHODS = ("model", "model_knn")  # what is measured against the best baseline


@dataclass
class Evaluation:
    test: dict             # metrics/evaluate.json
    validation: dict       # metrics/evaluate_val.json
    metrics_at_k: list     # metrics/metrics_at_k.json
    samples: str           # metrics/samples.md


class Answerer:
    """Every method's answers for a split's titles, the model's from its decoded cluster sequences."""

    def __init__(self, params: dict, train: list[Example], index: ClusterIndex, songs: dict, title_encoder):
        from playlistgen.lookup.baselines import TitleKnnBaseline
        from playlistgen.inference.recommend import SongTitleProfiles

        self.p, self.train, self.index, self.songs, self.encoder = params["evaluate"], train, index, songs, title_encoder
        self.policy = RankingPolicy.from_params(self.p)  # what the export stage writes into the bundle
        self.weights = self.policy.song_weights(Counter(s for e in train for s in e.song_ids),
                                       {s: v.popularity for s, v in songs.items()})
        sizes = {key: len(songs) for key, songs in index.songs_in_cluster.items()}
        policy = self.policy
        self.knn = TitleKnnBaseline(train, policy.knn_neighbours, policy.knn_ngram, sizes)
        self.profiles = None
        if policy.title_ranking:
            self.profiles = SongTitleProfiles.from_training(train, title_encoder, policy.title_lexical,
                                                            policy.knn_ngram, self.knn)
        self.neighbours = self.knn if policy.knn_fusion else None  # model_knn fuses its neighbour scores
        self.mentions = None  # a lookup like the neighbours: part of model_knn, never of the model alone
        if policy.artist_mentions:
            from playlistgen.lookup.mentions import ArtistMentions

            self.mentions = ArtistMentions.from_catalog(songs, train)

    def named(self, titles: list[str]) -> list[list[str]] | None:
        """Per title the songs of the artists it names (evaluate.artist_mentions; model_knn and the drawn playlist),
        best first; None when off or without model_knn (evaluate.knn_fusion 0)."""
        if self.mentions is None:
            return None
        return [self.mentions.songs(t, self.weights) for t in titles]

    def answers(self, examples: list[Example], sequences: list[list[str]], distributions=None) -> dict:
        """`distributions`: per title, cluster -> the model's probability (decode_all with cluster_keys)."""
        p = self.p
        titles = [e.title for e in examples]
        queries = self.profiles.queries(titles, self.encoder) if self.profiles is not None else None
        n_clusters = [max(1, len(distinct(s))) for s in sequences]
        n_songs = max(p["ks"])
        shared = (self.index, n_songs, self.weights)
        out = {"model": model_recommendations(sequences, *shared, self.policy.for_method("model"), self.profiles,
                                              queries, distributions=distributions)}  # the generative model alone
        if self.neighbours is not None:  # with the lookups: the nearest training titles, the artists named
            neighbours = [songs for songs, _ in self.neighbours.neighbour_scores(titles)]
            out["model_knn"] = model_recommendations(sequences, *shared, self.policy.for_method("model_knn"),
                                                     self.profiles, queries, neighbours, distributions,
                                                     self.named(titles))
        out.update(baseline_recommendations(
            titles, n_clusters, n_songs, self.train, self.index, self.weights, self.policy.knn_neighbours,
            self.policy.knn_ngram, p["dense_baseline"], self.profiles, self.encoder, self.policy.title_ranking,
            {s: v.tags for s, v in self.songs.items()}, self.knn, anchors=p))
        return out

    def draw_weights(self, titles: list[str]):
        """(i, song ids) -> the weights generate-playlist draws title i's cluster songs by, or None (uniform)."""
        from playlistgen.inference.recommend import title_aware_weights

        if self.profiles is None:
            return None
        queries = self.profiles.queries(titles, self.encoder)
        neighbours = ([songs for songs, _ in self.neighbours.neighbour_scores(titles)]
                      if self.neighbours is not None else [None] * len(titles))
        policy = self.policy
        return lambda i, ids: title_aware_weights(self.profiles, queries[i], ids, policy.title_ranking,
                                                  self.weights, neighbours[i], policy.knn_fusion,
                                                  policy.draw_sharpness)


def drawn_sequences(recs: dict, sequences: list[list[str]], index: ClusterIndex, p: dict) -> list[list[str]]:
    """The clusters generate-playlist draws each title's songs from: the generated ones, or with evaluate.draw_slots
    "ranked" the clusters of the top playlist_length songs it ranks (model_knn's order with knn_fusion, else the
    model's), each as often as that list holds it (clusters.ranked_slots)."""
    if p["draw_slots"] != "ranked":
        return sequences
    from playlistgen.ids.clusters import ranked_slots

    ranked = recs["model_knn"] if "model_knn" in recs else recs["model"]
    return [ranked_slots(r.songs[:p["playlist_length"]], index, seq) for r, seq in zip(ranked, sequences)]


def intervals(recs: dict, examples: list[Example], index: ClusterIndex, p: dict, seed: int) -> dict:
    """ci95 (model vs the best baseline) and, with model_knn, ci95_model_knn likewise."""
    rows = {name: score_rows(r, examples, index, p["ks"]) for name, r in recs.items()}
    out = {}
    for method in MODEL_METHODS:
        if method in rows:
            compared = {name: r for name, r in rows.items() if name == method or name not in MODEL_METHODS}
            key = "ci95" if method == "model" else f"ci95_{method}"
            out[key] = intervals_vs_best_baseline(compared, HEADLINE, p["bootstrap_resamples"], seed, method)
    return out


def slices(recs: dict, test: list[Example], train: list[Example], index: ClusterIndex, ks, catalog_size: int,
           named: list[list[str]] | None = None) -> dict:
    """NDCG@10 and R-precision on the test titles seen verbatim in training, written only with unseen words,
    Chinese, and (with `named`, per title the songs of the artists it names) naming an artist."""
    seen_titles = {" ".join(e.title.lower().split()) for e in train}
    members = {"seen_title": [" ".join(e.title.lower().split()) in seen_titles for e in test],
               "unseen_wording": unseen_wording([e.title for e in test], [e.title for e in train]),
               "chinese": [has_cjk(e.title) for e in test]}
    if named is not None:
        members["names_artist"] = [bool(songs) for songs in named]
    out = {}
    for name, member in members.items():
        rows = [i for i, keep in enumerate(member) if keep]
        if rows:
            out[name] = {"playlists": len(rows), "share": round(len(rows) / len(test), 4), **{
                method: {m: v for m, v in score([recs[method][i] for i in rows], [test[i] for i in rows], index, ks,
                                                catalog_size).items() if m in ("ndcg@10", "r_precision")}
                for method in recs}}
    return out


def by_playlist_length(recs: dict, test: list[Example], index: ClusterIndex, p: dict, catalog_size: int) -> dict:
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(test):
        groups.setdefault(length_bucket(len(e.song_ids), p["length_buckets"]), []).append(i)
    return {bucket: {"playlists": len(rows), **{
                name: score([recs[name][i] for i in rows], [test[i] for i in rows], index, p["ks"],
                            catalog_size)["expansion_f1"] for name in recs}}
            for bucket, rows in sorted(groups.items())}


def evaluate(params: dict, accelerator) -> Evaluation | None:
    """Decode (sharded over accelerate processes), score and report; None on processes other than the main one."""
    decoded = decode_splits(params, accelerator)
    return score_splits(params, decoded) if accelerator.is_main_process else None


@dataclass
class Decoded:
    """What the model generated for the test and validation titles, and what scoring it needs beside."""
    train: list
    test: list
    val: list
    index: ClusterIndex
    songs: dict
    title_encoder: object
    policy: object
    sequences: list
    distributions: list | None
    val_sequences: list
    val_distributions: list | None
    seconds: float
    invalid: int
    total: int
    free: tuple  # (sequences, invalid, total) of the unconstrained sample


def decode_splits(params: dict, accelerator) -> Decoded:
    """Load the model and its inputs from the work folder and decode the test titles (timed), an unconstrained
    sample of them and the validation titles, with the DecodePolicy the bundle carries."""
    import torch

    from playlistgen.data.catalog import load_songs
    from playlistgen.inference.decode import ClusterConstraint, DecodePolicy
    from playlistgen.inference.recommend import Recommender
    from playlistgen.modeling.model import load_model
    from playlistgen.modeling.title_encoder import make_title_encoder
    from playlistgen.modeling.tokenizer import CodeVocab, load_tokenizer

    p, base = params["evaluate"], params["base"]
    work = Path(base["work_dir"])
    index = ClusterIndex.load(work / "quantize" / "clusters.json")
    tokenizer = load_tokenizer(work / "corpus" / "tokenizer")
    vocab = CodeVocab.from_tokenizer(tokenizer, index.cluster_levels, index.codebook_size)
    model = load_model(work / "train" / "model").to(accelerator.device)
    train, test, val = (read_examples(work / "corpus" / f"{name}.jsonl") for name in ("train", "test", "val"))
    max_source = params["train"]["max_source_tokens"]
    reads_states = getattr(model, "title_proj", None) is not None
    title_encoder = make_title_encoder("minilm" if reads_states or p["title_ranking"] else "none", max_source)
    policy = DecodePolicy.from_params(p)  # the bundle carries it: generate-playlist decodes the same way
    cfg = policy.config(clusters=len(index.songs_in_cluster))
    constraint = ClusterConstraint(vocab, list(index.songs_in_cluster), cfg.min_clusters, cfg.max_clusters,
                                   policy.max_repeats)
    retrieval = Recommender.retrieval_for(work / "train" / "model", train, index, vocab)
    keys = list(index.songs_in_cluster) if p["cluster_score_power"] else None  # the model's cluster distribution

    def decode(batch_titles, constrained=True):
        return decode_all(model, tokenizer, vocab, constraint if constrained else None, batch_titles,
                          cfg if constrained else replace(cfg, constrained=False), max_source, p["batch_size"],
                          accelerator, title_encoder if reads_states else None, retrieval,
                          keys if constrained else None)

    titles = [e.title for e in test]
    t0 = time.perf_counter()
    torch.manual_seed(base["seed"])  # sampling mode draws from the global generator
    sequences, invalid, total, distributions = decode(titles)
    seconds = time.perf_counter() - t0
    free_seqs, free_bad, free_total, _ = decode(titles[: p["unconstrained_sample"]], constrained=False)
    val_sequences, _, _, val_distributions = decode([e.title for e in val])
    return Decoded(train, test, val, index, load_songs(Path(base["raw_dir"]) / "songs.jsonl"), title_encoder, policy,
                   sequences, distributions, val_sequences, val_distributions, seconds, invalid, total,
                   (free_seqs, free_bad, free_total))


def score_splits(params: dict, d: Decoded) -> Evaluation:
    """Every method's answers scored on test and validation, with intervals, drawn playlists, slices and the
    decoding figures."""
    from playlistgen.data.catalog import FEATURES_DIR
    from playlistgen.data.features import read_song_vectors

    p, base = params["evaluate"], params["base"]
    test, val, index, songs = d.test, d.val, d.index, d.songs
    titles, val_titles = [e.title for e in test], [e.title for e in val]
    answerer = Answerer(params, d.train, index, songs, d.title_encoder)
    recs = answerer.answers(test, d.sequences, d.distributions)
    results = {name: score(r, test, index, p["ks"], len(songs)) for name, r in recs.items()}
    for name, r in recs.items():  # title sensitivity: a model that ignores the title gives everyone one list
        distinct_share, commonest_share = top_list_diversity([x.songs for x in r], 10)
        results[name].update(distinct_top10_share=round(distinct_share, 4),
                             most_common_top10_share=round(commonest_share, 4),
                             commonest_song_top10_share=round(commonest_item_share([x.songs for x in r], 10), 4))
    results.update(intervals(recs, test, index, p, base["seed"]))
    val_recs = answerer.answers(val, d.val_sequences, d.val_distributions)  # where choices are made
    validation = {name: {m: v for m, v in score(r, val, index, p["ks"], len(songs)).items() if m in HEADLINE}
                  for name, r in val_recs.items()}
    validation.update(intervals(val_recs, val, index, p, base["seed"]), val_playlists=len(val))

    named = answerer.named(titles)  # the artists each test title names: the drawn playlists and the slice
    vectors = read_song_vectors(Path(base["raw_dir"]) / FEATURES_DIR, songs, params["quantize"]["features"],
                                params["quantize"]["normalize_each"])
    artist_of_song = {s: v.artist for s, v in songs.items()}
    # what generate-playlist gives: one song drawn per generated cluster (or per ranked slot), by its draw weights
    results["sampled"] = sampled_playlist_metrics(
        drawn_sequences(recs, d.sequences, index, p), test, index, artist_of_song, base["seed"],
        dict(zip(vectors.song_ids, vectors.vectors)), answerer.draw_weights(titles), d.policy.playlist_length, named)
    validation["sampled"] = sampled_playlist_metrics(
        drawn_sequences(val_recs, d.val_sequences, index, p), val, index, artist_of_song, base["seed"], None,
        answerer.draw_weights(val_titles), d.policy.playlist_length, answerer.named(val_titles))
    results["by_playlist_length"] = by_playlist_length(recs, test, index, p, len(songs))
    results["slices"] = slices(recs, test, d.train, index, p["ks"], len(songs), named)
    results["decoding"] = decoding_figures(d)
    at_k = [{"method": name, "k": k, "ndcg": results[name][f"ndcg@{k}"], "recall": results[name][f"recall@{k}"]}
            for name in recs for k in p["ks"]]
    samples = format_samples(test, d.sequences, index, songs, p["samples_shown"], base["seed"])
    return Evaluation(results, validation, at_k, samples)


def decoding_figures(d: Decoded) -> dict:
    """Invalid-ID rates with and without the constraint, clusters generated per title, and ms per title."""
    known = d.index.songs_in_cluster
    free_seqs, free_bad, free_total = d.free
    free_bad += sum(1 for seq in free_seqs for key in seq if key not in known)
    constrained_bad = d.invalid + sum(1 for seq in d.sequences for key in seq if key not in known)
    n_clusters = [max(1, len(distinct(s))) for s in d.sequences]
    return {"test_playlists": len(d.test),
            "constrained_invalid_rate": round(constrained_bad / max(d.total, 1), 4),
            "unconstrained_invalid_rate": round(free_bad / max(free_total, 1), 4),
            "mean_generated_clusters": round(sum(len(s) for s in d.sequences) / len(d.sequences), 2),
            "mean_distinct_clusters": round(sum(n_clusters) / len(n_clusters), 2),
            "ms_per_title": round(1000 * d.seconds / len(d.test), 1)}
