"""Collision report: how many songs share each semantic ID (the design's debug_collisions).

A shared ID is a concept cluster, so the report is about cluster health: how many clusters, how big, how much of the
catalog sits in oversized ones, how evenly each level uses its codebook (perplexity), and how well the codes
reconstruct the vectors. Run `python -m playlistgen.ids.collisions [report.json]` to print it as a table.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HISTOGRAM_EDGES = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000]


def collision_report(
    codes: np.ndarray,
    cluster_levels: int,
    codebook_size: int,
    reconstruction_mse: float,
    large_cluster_size: int,
) -> dict:
    """Summary of cluster sizes and code usage for (n, L) codes; clusters use the first `cluster_levels` codes."""
    _, sizes = np.unique(codes[:, :cluster_levels], axis=0, return_counts=True)
    _, full_sizes = np.unique(codes, axis=0, return_counts=True)
    levels = []
    for level in range(codes.shape[1]):
        counts = np.bincount(codes[:, level], minlength=codebook_size)
        p = counts[counts > 0] / counts.sum()
        levels.append({
            "level": level,
            "codes_used": int((counts > 0).sum()),
            "usage": round(float((counts > 0).mean()), 4),
            "perplexity": round(float(np.exp(-(p * np.log(p)).sum())), 2),
        })
    return {
        "songs": int(len(codes)),
        "clusters": int(len(sizes)),
        "cluster_levels": cluster_levels,
        "songs_per_cluster": {
            "min": int(sizes.min()),
            "median": float(np.median(sizes)),
            "mean": round(float(sizes.mean()), 2),
            "p90": float(np.percentile(sizes, 90)),
            "max": int(sizes.max()),
        },
        f"share_songs_in_clusters_over_{large_cluster_size}": round(float(sizes[sizes > large_cluster_size].sum() / sizes.sum()), 4),
        "singleton_clusters": int((sizes == 1).sum()),
        "distinct_full_ids": int(len(full_sizes)),
        "songs_sharing_full_id": round(float(full_sizes[full_sizes > 1].sum() / len(codes)), 4),
        "levels": levels,
        "reconstruction_mse": round(float(reconstruction_mse), 6),
    }


def prefix_report(codes: np.ndarray, labels: list | None = None) -> list[dict]:
    """Per prefix length 1..L: how many songs a prefix holds (median, max), and with `labels` (one per row of
    `codes`, None for songs without one) how well the prefixes agree with them: normalised mutual information and
    the majority share (the share of labelled songs whose prefix's commonest label is theirs; 1 = pure prefixes).
    Songs share a prefix by design (a concept cluster), so a prefix must be coherent, not only the full ID."""
    from collections import Counter, defaultdict

    rows = []
    keep = [] if labels is None else [i for i, x in enumerate(labels) if x is not None]
    for length in range(1, codes.shape[1] + 1):
        keys, sizes = np.unique(codes[:, :length], axis=0, return_counts=True)
        row = {"prefix_length": length, "prefixes": int(len(keys)), "songs_per_prefix_median": float(np.median(sizes)),
               "songs_per_prefix_max": int(sizes.max())}
        if labels is not None and keep:
            from sklearn.metrics import normalized_mutual_info_score

            prefix = [tuple(codes[i, :length]) for i in keep]
            truth = [labels[i] for i in keep]
            votes: dict = defaultdict(Counter)
            for key, label in zip(prefix, truth):
                votes[key][label] += 1
            row["label_nmi"] = round(float(normalized_mutual_info_score(truth, [str(k) for k in prefix])), 4)
            row["label_majority_share"] = round(sum(c.most_common(1)[0][1] for c in votes.values()) / len(truth), 4)
        rows.append(row)
    return rows


def size_histogram(codes: np.ndarray, cluster_levels: int) -> list[dict]:
    """Rows for a DVC bar plot: how many clusters fall in each size bucket [lo, next lo)."""
    _, sizes = np.unique(codes[:, :cluster_levels], axis=0, return_counts=True)
    edges = HISTOGRAM_EDGES + [max(int(sizes.max()) + 1, HISTOGRAM_EDGES[-1] + 1)]
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        n = int(((sizes >= lo) & (sizes < hi)).sum())
        rows.append({"cluster_size": f"{lo}-{hi - 1}" if hi - 1 > lo else str(lo), "clusters": n})
    return rows


def format_report(report: dict) -> str:
    s = report["songs_per_cluster"]
    lines = [
        f"songs            {report['songs']}",
        f"clusters         {report['clusters']} (first {report['cluster_levels']} levels)",
        f"songs/cluster    min {s['min']}  median {s['median']:g}  mean {s['mean']:g}  p90 {s['p90']:g}  max {s['max']}",
    ]
    lines += [f"{k:<16} {v}" for k, v in report.items() if k.startswith("share_songs")]
    lines += [
        f"singletons       {report['singleton_clusters']}",
        f"full IDs         {report['distinct_full_ids']} distinct; {report['songs_sharing_full_id']:.1%} of songs share one",
        f"reconstruction   MSE {report['reconstruction_mse']}",
        "",
        "level  codes used  usage  perplexity",
    ]
    lines += [f"{lv['level']:>5}  {lv['codes_used']:>10}  {lv['usage']:>5.0%}  {lv['perplexity']:>10}" for lv in report["levels"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the collision report of a quantize run as a table.")
    parser.add_argument("report", nargs="?", default="metrics/quantize.json", help="collision report JSON")
    args = parser.parse_args(argv)
    path = Path(args.report)
    if not path.exists():
        print(f"error: {path} not found; run `dvc repro quantize` first or pass the report's path.", file=sys.stderr)
        return 2
    print(format_report(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
