"""Scoring of recommendations against held-out playlists: cluster expansion, cluster-level and ranking metrics."""
from __future__ import annotations

from playlistgen.lookup.baselines import Recommendation
from playlistgen.ids.clusters import ClusterIndex
from playlistgen.data.corpus import Example
from playlistgen.evaluation.metrics import mean, ndcg_at_k, precision_at_k, r_precision, recall_at_k, set_precision_recall_f1


def score_rows(recs: list[Recommendation], examples: list[Example], index: ClusterIndex, ks: list[int]) -> list[dict]:
    """Per playlist the metrics `score` averages (for paired bootstrap intervals)."""
    rows = []
    for rec, example in zip(recs, examples):
        truth = set(example.song_ids)
        truth_clusters = {index.cluster_of_song[s] for s in example.song_ids if s in index.cluster_of_song}
        expansion = index.expand(rec.clusters)
        row = dict(zip(("expansion_precision", "expansion_recall", "expansion_f1"),
                       set_precision_recall_f1(expansion, truth)))
        row["expansion_size"] = len(expansion)
        row.update(zip(("cluster_precision", "cluster_recall", "cluster_f1"),
                       set_precision_recall_f1(set(rec.clusters), truth_clusters)))
        row["r_precision"] = r_precision(rec.songs, truth)
        for k in ks:
            row[f"ndcg@{k}"] = ndcg_at_k(rec.songs, truth, k)
            row[f"recall@{k}"] = recall_at_k(rec.songs, truth, k)
            row[f"precision@{k}"] = precision_at_k(rec.songs, truth, k)
        rows.append(row)
    return rows


def score(recs: list[Recommendation], examples: list[Example], index: ClusterIndex, ks: list[int],
          catalog_size: int) -> dict:
    """Macro-averaged metrics of one method over the test playlists.

    expansion_*: union of all songs of the recommended clusters vs the playlist's song set (design doc 000).
    cluster_*: distinct recommended clusters vs the clusters of the playlist's songs.
    r_precision, ndcg@K, recall@K, precision@K: the ranked song list vs the playlist's songs (NDCG's ideal DCG
    and R-precision as in the RecSys Challenge 2018; recall@K = hits / |truth|, precision@K = hits / K).
    coverage@K: distinct songs in all top-K lists / catalog size.
    """
    rows = score_rows(recs, examples, index, ks)
    out = {name: round(mean([r[name] for r in rows]), 4) for name in (rows[0] if rows else {})}
    for k in ks:
        covered = {s for rec in recs for s in rec.songs[:k]}
        out[f"coverage@{k}"] = round(len(covered) / catalog_size, 4)
    return out


def intervals_vs_best_baseline(rows: dict[str, list[dict]], metrics: list[str], resamples: int, seed: int,
                               model: str = "model") -> dict:
    """Per metric: the baseline with the best mean, and the paired bootstrap 95% interval of model - it."""
    from playlistgen.evaluation.metrics import paired_bootstrap

    out = {}
    for metric in metrics:
        baselines = {name: mean([r[metric] for r in per]) for name, per in rows.items() if name != model}
        best = max(baselines, key=baselines.get)
        out[metric] = {"baseline": best, **paired_bootstrap([r[metric] for r in rows[model]],
                                                            [r[metric] for r in rows[best]], resamples, seed)}
    return out




def baseline_recommendations(titles: list[str], n_clusters: list[int], n_songs: int, train: list[Example],
                             index: ClusterIndex, weights: dict[str, float], neighbours: int,
                             ngram: tuple[int, int], dense: bool, profiles=None, title_encoder=None,
                             title_weight: float = 0.0, tags_of_song: dict | None = None,
                             knn=None, anchors: dict | None = None) -> dict[str, list[Recommendation]]:
    """Every baseline's answers with the model's cluster budget and candidate catalog: popularity, title TF-IDF
    kNN (clusters size-normalised), dense title kNN (with `dense`), exact-title lookup with TF-IDF kNN fallback,
    the tag-match shortcut detector (with `tags_of_song`), and with `profiles` the title-profile retrieval (the
    model's own song order over the whole catalog). `knn`: a TitleKnnBaseline already built with these settings
    and the cluster sizes (the evaluate stage shares one with model_knn). `anchors`: the evaluate block's
    anchor_word_neighbours, anchor_word_ngram and anchor_dense_neighbours, for the plain lookups every method is
    compared with (baselines.AnchorTitleKnn: tfidf_word_knn, and minilm_knn with `dense`)."""
    from playlistgen.lookup.baselines import (AnchorTitleKnn, DenseTitleKnnBaseline, ExactTitleBaseline, PopularityBaseline, TagMatchBaseline,
                            TitleKnnBaseline, TitleProfileBaseline)

    sizes = {key: len(songs) for key, songs in index.songs_in_cluster.items()}
    knn = knn or TitleKnnBaseline(train, neighbours, ngram, sizes)
    recs = {"popularity": PopularityBaseline(train).recommend(titles, n_clusters, n_songs),
            "title_knn": knn.recommend(titles, n_clusters, n_songs),
            "exact_title": ExactTitleBaseline(train, knn, sizes).recommend(titles, n_clusters, n_songs)}
    dense_knn = DenseTitleKnnBaseline(train, neighbours, sizes, title_encoder) if dense else None
    if dense_knn is not None:
        recs["title_knn_dense"] = dense_knn.recommend(titles, n_clusters, n_songs)
    if anchors is not None:
        lookups = [AnchorTitleKnn.word_tfidf(train, anchors["anchor_word_neighbours"], anchors["anchor_word_ngram"])]
        if dense_knn is not None:
            lookups.append(AnchorTitleKnn.dense(train, anchors["anchor_dense_neighbours"], dense_knn=dense_knn))
        recs.update({lookup.name: lookup.recommend(titles, n_clusters, n_songs) for lookup in lookups})
    if tags_of_song is not None:
        recs["tag_match"] = TagMatchBaseline(train, tags_of_song, index.cluster_of_song, sizes).recommend(
            titles, n_clusters, n_songs)
    if profiles is not None:
        recs["title_profile"] = TitleProfileBaseline(profiles, weights, title_weight, title_encoder,
                                                     index).recommend(titles, n_clusters, n_songs)
    return recs


def unseen_wording(titles: list[str], train_titles: list[str]) -> list[bool]:
    """Per title: True when none of its words (lower-cased, split on spaces) occurs in any training title."""
    vocabulary = {w for t in train_titles for w in t.lower().split()}
    return [all(w not in vocabulary for w in t.lower().split()) for t in titles]


def has_cjk(title: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in title)


def sampled_playlist_metrics(sequences: list[list[str]], examples: list[Example], index: ClusterIndex,
                             artist_of_song: dict[str, str], seed: int, vector_of_song: dict | None = None,
                             song_weights=None, playlist_length: int | None = None, named=None) -> dict:
    """What a user gets: one song drawn per cluster of `sequences` (the generated clusters, or the ranked slots of
    report.drawn_sequences). Precision of that playlist (hits / its length),
    its length, distinct artists per playlist, intra-list diversity of the songs' feature vectors (mean pairwise
    cosine distance, when vectors are given), and how much two samplings of the same clusters differ (Jaccard).
    `song_weights(i, song_ids)`: the draw weights of title i's candidate songs, as PlaylistGenerator.generate
    draws them (title-aware); None = uniform within a cluster. `playlist_length`: the playlist is cut there, as
    generate-playlist cuts it (the spare clusters only stand in for used-up ones). `named`: per title, the songs of
    the artists it names (clusters.draw_keys), as generate-playlist draws them."""
    import numpy as np

    from playlistgen.ids.clusters import draw_keys, sample_playlist
    from playlistgen.evaluation.metrics import intra_list_diversity, jaccard

    rng = np.random.default_rng(seed)
    precision, length, artists, overlap, diversity = [], [], [], [], []
    for i, (seq, example) in enumerate(zip(sequences, examples)):
        songs_named = named[i] if named is not None else None
        seq = draw_keys(seq, index, songs_named)
        weights = song_weights(i, index.expand(seq)) if song_weights is not None else None
        first = [s for s, _ in sample_playlist(seq, index, rng, weights, songs_named)][:playlist_length]
        second = [s for s, _ in sample_playlist(seq, index, rng, weights, songs_named)][:playlist_length]
        truth = set(example.song_ids)
        precision.append(sum(s in truth for s in first) / len(first) if first else 0.0)
        length.append(len(first))
        artists.append(len({artist_of_song.get(s) for s in first}))
        overlap.append(jaccard(set(first), set(second)))
        if vector_of_song:
            diversity.append(intra_list_diversity([vector_of_song[s] for s in first if s in vector_of_song]))
    out = {
        "sampled_precision": round(mean(precision), 4),
        "sampled_length": round(mean(length), 2),
        "sampled_distinct_artists": round(mean(artists), 2),
        "resample_jaccard": round(mean(overlap), 4),
    }
    if vector_of_song:
        out["sampled_intra_list_diversity"] = round(mean(diversity), 4)
    return out


def length_bucket(n_songs: int, edges: list[int]) -> str:
    """'<=15', '16-29', '>=30' style bucket names for a playlist length, given sorted upper edges."""
    lo = 1
    for hi in edges:
        if n_songs <= hi:
            return f"{lo}-{hi}"
        lo = hi + 1
    return f">={lo}"




def format_samples(test, sequences, index, songs, count, seed) -> str:
    """Markdown for eyeballing: each test title, its generated clusters and sampled songs (✓ = in the truth)."""
    import numpy as np

    from playlistgen.ids.clusters import distinct, sample_playlist

    rng = np.random.default_rng(seed)
    lines = ["# Test titles: generated playlist vs the true one", ""]
    for example, seq in list(zip(test, sequences))[:count]:
        truth = set(example.song_ids)
        lines.append(f"## {example.title}")
        lines.append(f"clusters: {' '.join(distinct(seq))}")
        picked = sample_playlist(seq, index, rng)
        lines += [f"- {'✓' if s in truth else ' '} {songs[s].title} — {songs[s].artist} [{', '.join(songs[s].tags)}] ({k})"
                  for s, k in picked[:10]]
        true_tags = [", ".join(songs[s].tags) for s in example.song_ids[:5]]
        lines.append(f"true playlist ({len(example.song_ids)} songs), first tags: {'; '.join(true_tags)}")
        lines.append("")
    return "\n".join(lines)
