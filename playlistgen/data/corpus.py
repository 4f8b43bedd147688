"""Playlists -> (title, cluster-ID sequence) examples, and a deterministic train/val/test split by playlist.

A playlist holding several songs of one cluster repeats that cluster's id, so the model learns its weight (design
doc 000). Songs without a semantic ID (no features) are dropped from the sequence and counted.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from playlistgen.data.catalog import Playlist

log = logging.getLogger(__name__)


@dataclass
class Example:
    playlist_id: str
    title: str
    clusters: list[str]   # cluster key per song, in playlist order, repeats kept, truncated to max_clusters
    song_ids: list[str]   # the playlist's full song list (the truth for evaluation)

    def to_json(self) -> dict:
        return {"playlist_id": self.playlist_id, "title": self.title, "clusters": self.clusters, "song_ids": self.song_ids}


def build_examples(
    playlists: list[Playlist], cluster_of_song: dict[str, str], max_clusters: int | None, min_songs: int
) -> tuple[list[Example], dict]:
    """One example per playlist with at least `min_songs` songs that have a cluster; returns examples and counts.
    Clusters stay in playlist order, cut to `max_clusters` (None: all; order_targets cuts later). `song_ids` stays
    the whole playlist, songs without a semantic ID included: they are part of the truth a held-out playlist is
    scored against (misses no method can avoid), not targets (see recommendable for the training side)."""
    examples, dropped_songs, too_short = [], 0, 0
    for playlist in playlists:
        with_id = [s for s in playlist.song_ids if s in cluster_of_song]
        without_id = len(playlist.song_ids) - len(with_id)
        if len(with_id) < min_songs:
            too_short += 1
            continue
        dropped_songs += without_id
        clusters = [cluster_of_song[s] for s in with_id]
        if max_clusters is not None:
            clusters = clusters[:max_clusters]
        examples.append(Example(playlist.playlist_id, playlist.title, clusters, list(playlist.song_ids)))
    stats = {
        "playlists_in": len(playlists),
        "examples": len(examples),
        "skipped_too_short": too_short,
        "songs_without_semantic_id": dropped_songs,  # kept in the truth, never a target or a candidate
    }
    if dropped_songs or too_short:
        log.warning("%d playlist songs have no semantic ID (no features): no target, but still in the truth of "
                    "held-out playlists; skipped %d playlists under %d songs with one", dropped_songs, too_short,
                    min_songs)
    return examples, stats


def recommendable(examples: list[Example], cluster_of_song: dict[str, str]) -> list[Example]:
    """The examples with only songs that have a semantic ID: training playlists as every method's candidate
    catalog, so no baseline can answer with a song the model cannot."""
    from dataclasses import replace

    return [replace(e, song_ids=[s for s in e.song_ids if s in cluster_of_song]) for e in examples]


def split_of(playlist_id: str, seed: int, val_share: float, test_share: float) -> str:
    """'train', 'val' or 'test' for one playlist, from a seeded hash of its id alone: the same playlist lands in
    the same split whatever else is in the catalog, so stages before the corpus (collaborative embeddings) can
    leave out the evaluation playlists."""
    digest = hashlib.sha256(f"{seed}:{playlist_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2 ** 64  # uniform in [0, 1)
    return "test" if u < test_share else "val" if u < test_share + val_share else "train"


def split_examples(examples: list[Example], val_share: float, test_share: float, seed: int) -> dict[str, list[Example]]:
    """Seeded split by playlist id (see split_of); each split keeps the input order."""
    splits: dict[str, list[Example]] = {"train": [], "val": [], "test": []}
    for e in examples:
        splits[split_of(e.playlist_id, seed, val_share, test_share)].append(e)
    return splits


def order_targets(splits: dict[str, list[Example]], order: str, max_clusters: int) -> None:
    """Set each example's target clusters (in place), at most `max_clusters`:

    - `playlist`: playlist order, repeats kept (design doc 000: a repeated cluster carries its weight);
    - `characteristic`: distinct clusters, most characteristic of the playlist first, scored by TF-IDF over the
      training playlists: count in the playlist x (1 + ln((1 + N) / (1 + playlists holding it))). The first clusters
      the model learns to emit are then what sets this playlist apart, not what it happened to start with, nor the
      popular clusters every playlist holds. Ties keep playlist order.
    """
    import math
    from collections import Counter

    if order == "playlist":
        for rows in splits.values():
            for e in rows:
                e.clusters = e.clusters[:max_clusters]
        return
    if order != "characteristic":
        raise ValueError(f"corpus.target_order must be playlist or characteristic, not {order!r}.")
    holding = Counter(c for e in splits["train"] for c in set(e.clusters))
    n = len(splits["train"])
    for rows in splits.values():
        for e in rows:
            count = Counter(e.clusters)
            first = {c: i for i, c in reversed(list(enumerate(e.clusters)))}
            score = {c: k * (1 + math.log((1 + n) / (1 + holding[c]))) for c, k in count.items()}
            e.clusters = sorted(count, key=lambda c: (-score[c], first[c]))[:max_clusters]


def read_examples(path) -> list[Example]:
    """Examples from a split file written by the corpus stage."""
    from playlistgen.common.io import read_jsonl

    return [Example(r["playlist_id"], r["title"], r["clusters"], r["song_ids"]) for _, r in read_jsonl(path)]
