"""Bulk playlists: titles/s decoded in batches (what `generate-playlist --titles-file` and POST /api/batch do)
against the same titles one by one, in the same run.

    python bench/batch_generate.py [--titles 128] [--batch 64] [--bundle data/bundle]
"""
from __future__ import annotations

import json
import time

from _common import ROOT, bundle_parser


def main() -> None:
    parser = bundle_parser(__doc__)
    parser.add_argument("--titles", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    from playlistgen import PlaylistGenerator

    gen = PlaylistGenerator(args.bundle)
    titles = [json.loads(line)["title"] for line in open(ROOT / "data/work/corpus/test.jsonl", encoding="utf-8")]
    titles = titles[:args.titles]
    gen.generate_clusters_batch(titles[:4], args.n)  # warm-up

    t0 = time.perf_counter()
    for start in range(0, len(titles), args.batch):
        chunk = titles[start:start + args.batch]
        clusters = gen.generate_clusters_batch(chunk, args.n, for_ranking=True)  # as --titles-file decodes
        for t, c in zip(chunk, clusters):
            gen.playlist_from_clusters(t, c, args.n, 0)
    batched = len(titles) / (time.perf_counter() - t0)

    gen._distributions.clear()  # the reference computes every title's again, one by one
    t0 = time.perf_counter()
    for t in titles:
        gen.generate(t, args.n, seed=0)
    single = len(titles) / (time.perf_counter() - t0)
    print(f"{len(titles)} titles, {args.n}-song playlists: batches of {args.batch} {batched:.1f} titles/s; "
          f"one by one (reference) {single:.1f} titles/s; {batched / single:.2f}x")


if __name__ == "__main__":
    main()
