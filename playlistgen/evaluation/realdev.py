"""Scoring on labelled real playlists (realdev/dvc.yaml, bench/realdev.py): genre@K and subgenre@K from playlist labels, NDCG and
recall against the true songs, cluster F1, title sensitivity, and paired bootstrap intervals against title-kNN.
labelled@K is the share of the first K answered songs that carry a genre label at all (some training playlist holds
them): the others count as misses in genre@K, so a method that answers with such songs (a named artist's songs
outside the training playlists) loses genre@K without being wrong."""
from __future__ import annotations

from collections import Counter, defaultdict

from playlistgen.evaluation.metrics import (commonest_item_share, jaccard, label_precision_at_k, mean, ndcg_at_k, paired_bootstrap,
                      recall_at_k, set_precision_recall_f1, top_list_diversity)

HEADLINE = ("genre@{k}", "subgenre@{k}", "ndcg@{k}", "recall@{k}", "cluster_f1")
MODEL_METHODS = ("model", "model_knn", "drawn", "model_drawn")  # the model alone and what ships (drawn: sampled)
BASELINES = ("title_knn", "exact_title", "title_knn_dense", "tfidf_word_knn", "minilm_knn", "popularity")


def song_labels(train, labels: dict, field: str) -> dict[str, str]:
    """song -> the majority `field` of the training playlists holding it (first seen wins a tie)."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for e in train:
        for s in dict.fromkeys(e.song_ids):
            votes[s][labels[e.playlist_id][field]] += 1
    return {s: c.most_common(1)[0][0] for s, c in votes.items()}


def per_playlist(songs: list[str], truth: list[str], label: dict, genre_of: dict, subgenre_of: dict,
                 cluster_of_song: dict, k: int) -> dict[str, float]:
    truth_set = set(truth)
    answered_clusters = {cluster_of_song[s] for s in songs[:k] if s in cluster_of_song}
    truth_clusters = {cluster_of_song[s] for s in truth if s in cluster_of_song}
    return {
        f"genre@{k}": label_precision_at_k(songs, genre_of, label["genre"], k),
        # songs no training playlist holds have no genre label and count as misses in genre@k: how many are there
        f"labelled@{k}": sum(1 for s in songs[:k] if s in genre_of) / k,
        f"subgenre@{k}": label_precision_at_k(songs, subgenre_of, label["subgenre"], k),
        f"ndcg@{k}": ndcg_at_k(songs, truth_set, k),
        f"recall@{k}": recall_at_k(songs, truth_set, k),
        "cluster_f1": set_precision_recall_f1(answered_clusters, truth_clusters)[2],
    }


def playlist_rows(answers: dict[str, list[list[str]]], truths: list[list[str]], playlist_labels: list[dict],
                  genre_of: dict, subgenre_of: dict, cluster_of_song: dict, k: int) -> dict[str, list[dict]]:
    """Per method, each evaluated playlist's metrics (per_playlist), in the order of `truths`."""
    return {name: [per_playlist(songs, truth, label, genre_of, subgenre_of, cluster_of_song, k)
                   for songs, truth, label in zip(lists, truths, playlist_labels)]
            for name, lists in answers.items()}


def summarise(rows: dict[str, list[dict]], answers: dict[str, list[list[str]]], resamples: int, seed: int,
              reference: str = "title_knn") -> dict:
    """Per method the mean of each metric, distinct_top10_share, most_common_top10_share (the share of titles given
    the commonest top-10 list) and commonest_song_top10_share (the share of top-10 lists holding the commonest
    song); per compared method
    a paired bootstrap 95% interval of (method - reference) for each headline metric. `rows` may pool the
    playlists of several splits (pooled): the intervals then resample all of them."""
    methods = {}
    for name, per in rows.items():
        methods[name] = {metric: round(mean([r[metric] for r in per]), 4) for metric in per[0]}
        distinct, commonest = top_list_diversity(answers[name], 10)
        methods[name]["distinct_top10_share"] = round(distinct, 4)
        methods[name]["most_common_top10_share"] = round(commonest, 4)
        methods[name]["commonest_song_top10_share"] = round(commonest_item_share(answers[name], 10), 4)
    intervals = {name: {metric: paired_bootstrap([r[metric] for r in rows[name]], [r[metric] for r in rows[reference]],
                                                 resamples, seed)
                        for metric in rows[name][0]}
                 for name in rows if name != reference and name != "popularity"}
    return {"methods": methods, f"ci95_vs_{reference}": intervals,
            "ci95_vs_strongest_baseline": vs_strongest(rows, resamples, seed),
            "ci95_vs_title_profile": {name: {m: paired_bootstrap([r[m] for r in rows[name]],
                                                                 [r[m] for r in rows["title_profile"]], resamples, seed)
                                             for m in rows[name][0]}
                                      for name in MODEL_METHODS if name in rows and "title_profile" in rows}}


def vs_strongest(rows: dict[str, list[dict]], resamples: int, seed: int, baselines=BASELINES,
                 metrics: tuple[str, ...] | None = None) -> dict:
    """Per metric (`metrics`, or every one but labelled@K; higher must be better), the baseline with the best mean
    (those of `baselines` present in `rows`) and the paired bootstrap 95% interval of each model method minus it:
    the comparison a method has to win. Also used by `playlistgen challenge`."""
    baselines = [name for name in baselines if name in rows]
    if not baselines:
        return {}
    out = {}
    for metric in metrics or [m for m in rows[baselines[0]][0] if not m.startswith("labelled")]:
        best = max(baselines, key=lambda name: mean([r[metric] for r in rows[name]]))
        out[metric] = {"baseline": best, **{
            name: paired_bootstrap([r[metric] for r in rows[name]], [r[metric] for r in rows[best]], resamples, seed)
            for name in MODEL_METHODS if name in rows}}
    return out


def score_methods(answers: dict[str, list[list[str]]], truths: list[list[str]], playlist_labels: list[dict],
                  genre_of: dict, subgenre_of: dict, cluster_of_song: dict, k: int, resamples: int, seed: int,
                  reference: str = "title_knn") -> dict:
    """summarise of one split's playlist_rows."""
    rows = playlist_rows(answers, truths, playlist_labels, genre_of, subgenre_of, cluster_of_song, k)
    return summarise(rows, answers, resamples, seed, reference)


def pooled(splits: list[tuple[dict[str, list[dict]], dict[str, list[list[str]]]]], resamples: int, seed: int,
           reference: str = "title_knn") -> dict:
    """summarise over the playlists of several splits together: `splits` holds each split's (playlist_rows,
    answers). Each split scores its playlists against its own training playlists' labels; pooling only gives the
    mean and the interval more playlists (realdev/params.yaml's seeds)."""
    names = [name for name in splits[0][0] if all(name in rows for rows, _ in splits)]
    rows = {name: [r for split_rows, _ in splits for r in split_rows[name]] for name in names}
    answers = {name: [a for _, split_answers in splits for a in split_answers[name]] for name in names}
    return summarise(rows, answers, resamples, seed, reference)


def oracle_clusters(evaluated_songs: list[list[str]], train, cluster_of_song: dict, max_clusters: int) -> list[list[str]]:
    """The oracle ceiling's clusters: each evaluated playlist's own clusters, most characteristic first (the
    corpus stage's target order, TF-IDF against the training playlists), as if the model had generated exactly the
    truth's clusters. Ranking their songs as the model's are ranked gives the best any cluster generator can do with
    these semantic IDs and this song order."""
    from playlistgen.data.corpus import Example, order_targets

    def example(i, songs):
        return Example(str(i), "", [cluster_of_song[s] for s in songs if s in cluster_of_song], list(songs))

    splits = {"train": [example(i, e.song_ids) for i, e in enumerate(train)],
              "val": [example(i, songs) for i, songs in enumerate(evaluated_songs)], "test": []}
    order_targets(splits, "characteristic", max_clusters)
    return [e.clusters for e in splits["val"]]


def tokenization(song_ids: list[str], codes, genre_of: dict, subgenre_of: dict) -> dict:
    """How the semantic IDs' prefixes agree with the playlists' genres (collisions.prefix_report), over the songs
    that carry a label (those of the training playlists)."""
    from playlistgen.ids.collisions import prefix_report

    return {field: prefix_report(codes, [label_of.get(s) for s in song_ids])
            for field, label_of in (("genre", genre_of), ("subgenre", subgenre_of))}


def redraw_variety(first: dict[str, list[list[str]]], second: dict[str, list[list[str]]], k: int) -> dict:
    """How much asking again changes a drawn playlist: per method, over titles, the mean Jaccard overlap of the first
    `k` songs of two draws of the same title (1 = the same songs every time, 0 = none shared) and the share of titles
    whose two draws hold the same songs; `titles` keeps the count for pooled_redraw."""
    out = {}
    for name, lists in first.items():
        pairs = [(set(a[:k]), set(b[:k])) for a, b in zip(lists, second[name])]
        out[name] = {"jaccard": round(mean([jaccard(a, b) for a, b in pairs]), 4),
                     "identical_share": round(mean([float(a == b) for a, b in pairs]), 4), "titles": len(pairs)}
    return out


def pooled_redraw(parts: list[dict]) -> dict:
    """redraw_variety of several splits together: each method's means weighted by the splits' title counts."""
    out = {}
    for name in parts[0]:
        n = sum(p[name]["titles"] for p in parts)
        out[name] = {m: round(sum(p[name][m] * p[name]["titles"] for p in parts) / max(n, 1), 4)
                     for m in ("jaccard", "identical_share")}
        out[name]["titles"] = n
    return out
