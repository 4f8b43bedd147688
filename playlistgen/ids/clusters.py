"""The cluster index: which songs each concept cluster holds, and expansion of generated clusters to songs."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playlistgen.common.io import DataError, read_json


@dataclass
class ClusterIndex:
    cluster_levels: int
    codebook_size: int
    songs_in_cluster: dict[str, list[str]]  # cluster key -> its songs, most popular first
    cluster_of_song: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.cluster_of_song = {s: key for key, songs in self.songs_in_cluster.items() for s in songs}

    @classmethod
    def load(cls, path: str | Path) -> "ClusterIndex":
        data = read_json(path)
        for key in ("cluster_levels", "codebook_size", "clusters"):
            if key not in data:
                raise DataError(f"{path}: missing '{key}'; regenerate it with the quantize stage.")
        return cls(data["cluster_levels"], data["codebook_size"], data["clusters"])

    def expand(self, keys) -> set[str]:
        """All songs of all given clusters (the design's cluster expansion)."""
        return {s for key in set(keys) for s in self.songs_in_cluster.get(key, ())}

    def ranked_songs(self, keys: list[str], limit: int | None = None, popularity: dict[str, float] | None = None,
                     title_scores=None, title_weight: float = 0.0, rank_discount: float = 1.0,
                     neighbours: dict[str, float] | None = None, fusion_weight: float = 0.0,
                     cluster_scores: dict[str, float] | None = None, score_power: float = 1.0,
                     scored_clusters: int = 0, named: list[str] | None = None) -> list[str]:
        """Songs of the distinct clusters, best first, at most `limit`.

        With `popularity`, a song scores its popularity divided by (1 + the rank of its cluster among the generated
        ones)^rank_discount, so a popular song of the third cluster can beat a rare one of the first (on validation
        splits this beat round-robin on every ranking metric; docs/guide.md, "Evaluation"). rank_discount says how much the
        model's cluster order is trusted: 1 on the default data, 0 on the real playlists (validation, docs/results.md).
        With `title_scores` (song ids -> cosine of the title with each song's title profile,
        recommend.SongTitleProfiles) the score is also multiplied by exp(title_weight x cosine), so that the title,
        not only popularity, orders a cluster's songs. With `neighbours` (song -> its summed title similarity over
        the nearest training titles, baselines.TitleKnnBaseline.neighbour_scores) and `fusion_weight`, the songs of
        those neighbours join the candidates (ranked after the last generated cluster) and every score is
        multiplied by fusion_factors (the model_knn method). With `cluster_scores` (cluster -> the model's
        probability of it, decode.first_cluster_distribution) the songs of the `scored_clusters` likeliest clusters
        join the candidates too, and the cluster factor is that probability^score_power instead of the rank
        discount. With `named` (the songs of the artists the title names, mentions.ArtistMentions) those songs join
        the candidates and come before all others, in their score order. Without any of these, or between equal
        scores: round-robin, the first song of each cluster in the given order, then the second of each, and so
        on."""
        import math

        keys = list(dict.fromkeys(keys))
        if cluster_scores is not None:
            keys += [k for k in sorted(cluster_scores, key=cluster_scores.get, reverse=True)[:scored_clusters]
                     if k not in keys]
        pools = [self.songs_in_cluster.get(key, []) for key in keys]
        if neighbours and fusion_weight:
            inside = {s for pool in pools for s in pool}
            pools.append([s for s in neighbours if s not in inside and s in self.cluster_of_song])
        named_order = list(dict.fromkeys(named or ()))  # the given order: a set's would change with each process's
        named = set(named_order)                          # string hashing, and with it how ties are broken
        if named:
            inside = {s for pool in pools for s in pool}
            pools.append([s for s in named_order if s not in inside and s in self.cluster_of_song])
        popularity = popularity or {}
        songs = [s for pool in pools for s in pool]
        if not songs:
            return []
        rank = np.repeat(np.arange(len(pools)), [len(pool) for pool in pools])  # (songs,) the pool's index
        depth = np.concatenate([np.arange(len(pool)) for pool in pools])  # (songs,) position in its pool
        boost = np.ones(len(songs))
        if title_scores is not None and title_weight:  # math.exp: the very scores the tuple sort used to order
            boost = np.array([math.exp(title_weight * float(c)) for c in title_scores(songs)])
        if neighbours and fusion_weight:
            boost = boost * np.array(fusion_factors(neighbours, songs, fusion_weight))
        if cluster_scores is not None:
            boost = boost * np.array([cluster_scores.get(self.cluster_of_song[s], 0.0) ** score_power for s in songs])
            rank_discount = 0.0
        weight = np.array([popularity.get(s, 0.0) for s in songs])
        score = -weight * boost / (1.0 + rank) ** rank_discount
        unnamed = np.array([s not in named for s in songs])
        # round-robin is the order (depth in its cluster, cluster rank); the score only comes first. (rank, depth)
        # names one entry, so the sort never needs the song id; np.lexsort sorts by its last key first
        order = np.lexsort((rank, depth, score, unnamed))
        return [songs[i] for i in order[:limit]]


FUSION_SCALE = 10.0  # a neighbour score at 1/10 of the title's largest doubles a song's weight before the exponent


def fusion_factors(neighbours: dict[str, float], song_ids: list[str], fusion_weight: float) -> list[float]:
    """(1 + FUSION_SCALE x neighbour score / the largest) ^ fusion_weight per song: 1 for a song no near training
    title holds, up to 11^fusion_weight for the song the nearest titles share most (evaluate.knn_fusion)."""
    top = max(neighbours.values(), default=0.0) or 1.0
    return [(1.0 + FUSION_SCALE * neighbours.get(s, 0.0) / top) ** fusion_weight for s in song_ids]


def ranking_weights(playlist_counts: dict[str, int], popularity: dict[str, float]) -> dict[str, float]:
    """The weight ranked_songs orders by: how many training playlists hold the song, ties broken by the catalog's
    popularity (scaled below one count). On the default data's validation split, ranking by these counts beat the
    catalog's own popularity (NDCG@10 0.090 vs 0.075, R-precision 0.074 vs 0.059): they measure what playlists
    actually pick. Songs no training playlist holds (added later) fall back to popularity alone."""
    top = max(popularity.values(), default=0.0) or 1.0
    return {s: playlist_counts.get(s, 0) + 0.5 * max(p, 0.0) / top for s, p in popularity.items()}


def distinct(keys: list[str]) -> list[str]:
    """Keys in first-seen order without repeats."""
    return list(dict.fromkeys(keys))


def draw_keys(keys: list[str], index: "ClusterIndex", named: list[str] | None = None) -> list[str]:
    """The clusters a drawn playlist takes one song from: with `named` (the songs of the artists the title names,
    best first) the clusters holding them come first, in that order (each as often as `keys` repeats it, once at
    least: ranked slots keep their count), then the other keys."""
    if not named:
        return list(keys)
    front = distinct([index.cluster_of_song[s] for s in named if s in index.cluster_of_song])
    taken, count = set(front), Counter(keys)
    return [k for k in front for _ in range(max(1, count[k]))] + [k for k in keys if k not in taken]


def ranked_slots(ranked: list[str], index: "ClusterIndex", generated: list[str]) -> list[str]:
    """The clusters a drawn playlist takes its songs from when it follows the ranked list (evaluate.draw_slots
    ranked): the cluster of each ranked song, in rank order and repeated as often as the list holds its songs (a
    playlist holding several songs of one cluster repeats that cluster's ID, design doc 000), then the generated
    clusters not among them as spares for used-up ones. With a few dozen coarse clusters, one song from each of 20
    distinct generated clusters spreads a playlist over a third of the catalog; this keeps the ranked list's mix."""
    slots = [index.cluster_of_song[s] for s in ranked if s in index.cluster_of_song]
    taken = set(slots)
    return slots + [k for k in distinct(generated) if k not in taken]


def sample_playlist(keys: list[str], index: ClusterIndex, rng, popularity: dict[str, float] | None = None,
                    named: list[str] | None = None) -> list[tuple[str, str]]:
    """One song per cluster occurrence in `keys` (the generated clusters, or ranked_slots), no song twice:
    (song_id, cluster key) pairs in order.

    Uniform within the cluster by default (design doc 000: 从该簇中随机采样一首); with `popularity`, weighted by it.
    With `named` (songs of the artists the title names) a cluster holding some of them draws among those only;
    draw_keys puts their clusters first. A cluster whose songs are all taken already is skipped, so the playlist
    falls through to the next cluster.
    """
    taken: set[str] = set()
    named = set(named or ())
    out = []
    for key in keys:
        pool = [s for s in index.songs_in_cluster.get(key, ()) if s not in taken]
        if not pool:
            continue
        pool = [s for s in pool if s in named] or pool
        if popularity:
            w = [max(popularity.get(s, 0.0), 1e-6) for s in pool]
            total = sum(w)
            song = pool[int(rng.choice(len(pool), p=[x / total for x in w]))]
        else:
            song = pool[int(rng.integers(len(pool)))]
        taken.add(song)
        out.append((song, key))
    return out


def cluster_key(codes) -> str:
    """The string form of a cluster id (a sequence of ints): its codes joined by '-', e.g. '12-3'. The one place
    the format is written; parse_cluster_key reads it back."""
    return "-".join(str(int(c)) for c in codes)


def parse_cluster_key(key: str) -> tuple[int, ...]:
    return tuple(int(c) for c in key.split("-"))


def songs_in_cluster(song_ids: list[str], codes, cluster_levels: int,
                     popularity: dict[str, float] | None = None) -> dict[str, list[str]]:
    """`codes`: (songs, levels) int array. Cluster index: cluster key (first `cluster_levels` codes) -> its songs, most popular first (ties and no
    popularity: input order); keys sorted by code tuple."""
    order = range(len(song_ids))
    if popularity:
        order = sorted(order, key=lambda i: -popularity.get(song_ids[i], 0.0))
    index: dict[tuple[int, ...], list[str]] = {}
    prefixes = codes[:, :cluster_levels].tolist()
    for i in order:
        index.setdefault(tuple(prefixes[i]), []).append(song_ids[i])
    return {cluster_key(k): index[k] for k in sorted(index)}
