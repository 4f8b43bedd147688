"""Scoring of recommendations against held-out playlists: cluster expansion, cluster-level and ranking metrics."""
from __future__ import annotations

from .baselines import Recommendation
from .clusters import ClusterIndex
from .corpus import Example
from .metrics import mean, ndcg_at_k, r_precision, recall_at_k, set_precision_recall_f1


def score(recs: list[Recommendation], examples: list[Example], index: ClusterIndex, ks: list[int],
          catalog_size: int) -> dict:
    """Macro-averaged metrics of one method over the test playlists.

    expansion_*: union of all songs of the recommended clusters vs the playlist's song set (design doc 000).
    cluster_*: distinct recommended clusters vs the clusters of the playlist's songs.
    r_precision, ndcg@K, recall@K: the ranked song list vs the playlist's songs (denominator min(|truth|, K)).
    coverage@K: distinct songs in all top-K lists / catalog size.
    """
    rows: dict[str, list[float]] = {}
    covered: dict[int, set] = {k: set() for k in ks}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    for rec, example in zip(recs, examples):
        truth = set(example.song_ids)
        truth_clusters = {index.cluster_of_song[s] for s in example.song_ids if s in index.cluster_of_song}
        expansion = index.expand(rec.clusters)
        p, r, f = set_precision_recall_f1(expansion, truth)
        add("expansion_precision", p)
        add("expansion_recall", r)
        add("expansion_f1", f)
        add("expansion_size", len(expansion))
        cp, cr, cf = set_precision_recall_f1(set(rec.clusters), truth_clusters)
        add("cluster_precision", cp)
        add("cluster_recall", cr)
        add("cluster_f1", cf)
        add("r_precision", r_precision(rec.songs, truth))
        for k in ks:
            add(f"ndcg@{k}", ndcg_at_k(rec.songs, truth, k))
            add(f"recall@{k}", recall_at_k(rec.songs, truth, k))
            covered[k].update(rec.songs[:k])
    out = {name: round(mean(values), 4) for name, values in rows.items()}
    for k in ks:
        out[f"coverage@{k}"] = round(len(covered[k]) / catalog_size, 4)
    return out


def model_recommendations(sequences: list[list[str]], index: ClusterIndex, n_songs: int,
                          weights: dict[str, float]) -> list[Recommendation]:
    """The model's clusters (distinct, generated order) and its top `n_songs` songs: `weights` (ranking_weights)
    discounted by the rank of the song's cluster (ClusterIndex.ranked_songs)."""
    from .clusters import distinct

    return [Recommendation(distinct(seq), index.ranked_songs(seq, n_songs, weights)) for seq in sequences]


def sampled_playlist_metrics(sequences: list[list[str]], examples: list[Example], index: ClusterIndex,
                             artist_of_song: dict[str, str], seed: int, vector_of_song: dict | None = None) -> dict:
    """What a user gets: one sampled song per generated cluster. Precision of that playlist (hits / its length),
    its length, distinct artists per playlist, intra-list diversity of the songs' feature vectors (mean pairwise
    cosine distance, when vectors are given), and how much two samplings of the same clusters differ (Jaccard)."""
    import numpy as np

    from .clusters import sample_playlist
    from .metrics import intra_list_diversity, jaccard

    rng = np.random.default_rng(seed)
    precision, length, artists, overlap, diversity = [], [], [], [], []
    for seq, example in zip(sequences, examples):
        first = [s for s, _ in sample_playlist(seq, index, rng)]
        second = [s for s, _ in sample_playlist(seq, index, rng)]
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


def decode_all(model, tokenizer, vocab, constraint, titles, cfg, max_source_tokens, batch_size, accelerator,
               title_encoder=None):
    """Generate for all titles, sharded across processes; returns (sequences in input order, invalid, total)."""
    from accelerate.utils import gather_object

    from .decode import generate_clusters

    with accelerator.split_between_processes(list(enumerate(titles))) as shard:
        local, invalid, total = [], 0, 0
        for start in range(0, len(shard), batch_size):
            chunk = shard[start:start + batch_size]
            seqs, bad, n = generate_clusters(model, tokenizer, vocab, constraint, [t for _, t in chunk], cfg,
                                             max_source_tokens, title_encoder=title_encoder)
            local += [(i, s[0]) for (i, _), s in zip(chunk, seqs)]
            invalid, total = invalid + bad, total + n
    gathered = sorted(gather_object(local))
    counts = gather_object([(invalid, total)])
    return [s for _, s in gathered], sum(c[0] for c in counts), sum(c[1] for c in counts)


def format_samples(test, sequences, index, songs, count, seed) -> str:
    """Markdown for eyeballing: each test title, its generated clusters and sampled songs (✓ = in the truth)."""
    import numpy as np

    from .clusters import distinct, sample_playlist

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
