"""Recommendation metrics as pure functions. Each states its range and denominator.

Ranking metrics follow the RecSys Challenge 2018 (title-only playlist continuation) definitions, with relevance
binary: a song is relevant when it is in the held-out playlist.
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def set_precision_recall_f1(predicted: set, truth: set) -> tuple[float, float, float]:
    """Precision |P∩T|/|P|, recall |P∩T|/|T|, F1 their harmonic mean; each in [0, 1], 0 when a set is empty.

    This is the design's cluster-expansion metric when P is the union of the songs of all generated clusters.
    """
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def precision_at_k(ranked: Sequence, truth: set, k: int) -> float:
    """Hits in the first k items / k; in [0, 1]. The denominator is k even when fewer than k items are ranked."""
    return sum(1 for item in ranked[:k] if item in truth) / k


def recall_at_k(ranked: Sequence, truth: set, k: int) -> float:
    """Hits in the first k items / |truth|: the share of the playlist found (at most k / |truth| when the playlist
    is longer than k; precision_at_k is the other side)."""
    if not truth:
        return 0.0
    return sum(1 for item in ranked[:k] if item in truth) / len(truth)


def r_precision(ranked: Sequence, truth: set) -> float:
    """Hits in the first |truth| items / |truth|; in [0, 1] (RecSys Challenge 2018)."""
    if not truth:
        return 0.0
    return sum(1 for item in ranked[:len(truth)] if item in truth) / len(truth)


def ndcg_at_k(ranked: Sequence, truth: set, k: int) -> float:
    """DCG of the first k items over the ideal DCG of min(|truth|, k) hits, gain 1/log2(rank+1); in [0, 1].

    Repeated items count once (a second occurrence earns no gain).
    """
    if not truth:
        return 0.0
    seen, dcg = set(), 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in truth and item not in seen:
            dcg += 1.0 / math.log2(rank + 1)
        seen.add(item)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(truth), k) + 1))
    return dcg / ideal


def intra_list_diversity(vectors) -> float:
    """Mean pairwise cosine distance (1 - cos) between the items' vectors; in [0, 2], 0 for fewer than 2 items."""
    import numpy as np

    x = np.asarray(vectors, dtype=np.float64)
    if len(x) < 2:
        return 0.0
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sims = x @ x.T
    n = len(x)
    return float(1.0 - (sims.sum() - np.trace(sims)) / (n * (n - 1)))


def jaccard(a: set, b: set) -> float:
    """|a∩b| / |a∪b|; in [0, 1], 1 for two empty sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def mean(values: Sequence[float]) -> float:
    """Macro average over playlists; 0 for none."""
    return float(sum(values) / len(values)) if values else 0.0


def label_precision_at_k(ranked: Sequence, label_of_item: dict, label, k: int) -> float:
    """Share of the first k items whose label equals `label` (e.g. genre@20: answered songs of the playlist's
    genre); in [0, 1]. The denominator is k: items without a label, or missing from a list shorter than k, miss."""
    return sum(1 for item in ranked[:k] if label_of_item.get(item) == label) / k


def commonest_item_share(lists: Sequence[Sequence], k: int) -> float:
    """The share of lists whose first k items hold the item most lists hold there, in [0, 1] (0 for no lists): one
    song in every top 10 gives 1, whatever the rest of the lists. The check that a cluster's most popular song does
    not answer every title."""
    from collections import Counter

    if not lists:
        return 0.0
    counts = Counter(item for items in lists for item in dict.fromkeys(items[:k]))
    return counts.most_common(1)[0][1] / len(lists) if counts else 0.0


def top_list_diversity(lists: Sequence[Sequence], k: int) -> tuple[float, float]:
    """(distinct top-k lists / lists, share of lists equal to the commonest top-k list); both in (0, 1].
    A model that ignores its input gives one list to everyone: (1/n, 1)."""
    from collections import Counter

    if not lists:
        return 0.0, 0.0
    counts = Counter(tuple(items[:k]) for items in lists)
    return len(counts) / len(lists), counts.most_common(1)[0][1] / len(lists)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], resamples: int, seed: int,
                     level: float = 0.95) -> dict:
    """Mean of a - b over paired per-playlist values and its percentile bootstrap interval (Efron & Tibshirani
    1993), resampling playlists with replacement: {"diff", "lo", "hi"}. An interval above 0 means a beats b."""
    import numpy as np

    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if diff.size == 0:
        return {"diff": 0.0, "lo": 0.0, "hi": 0.0}
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(resamples, diff.size))].mean(1)
    tail = (1 - level) / 2 * 100
    return {"diff": round(float(diff.mean()), 4), "lo": round(float(np.percentile(means, tail)), 4),
            "hi": round(float(np.percentile(means, 100 - tail)), 4)}
