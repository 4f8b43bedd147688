"""Constrained beam search against the same `generate` call without constraints, in the same run.

    python bench/generate_latency.py                       # beam 10, 20 clusters (41 tokens), batch 32
    python bench/generate_latency.py --beams 4 --batch 1   # one interactive request

Both calls generate exactly the same number of tokens (EOS is masked until the end), so the ratio is the cost of
the constraint: the vectorised cluster-validity mask, and with --max-repeats the per-cluster repeat cap. Also times
one warm `PlaylistGenerator.generate` request of 20 songs and the bundle's load time.
"""
from __future__ import annotations

import time

import torch

from playlistgen.data.corpus import read_examples
from playlistgen.inference.decode import ClusterConstraint, DecodeConfig, generate_clusters

from _common import ROOT, bundle_parser, median_seconds


def main() -> None:
    parser = bundle_parser(__doc__)
    parser.add_argument("--beams", type=int, default=10)
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when there is a GPU)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    from playlistgen import PlaylistGenerator

    gen = PlaylistGenerator(args.bundle, device=args.device)
    load_s = time.perf_counter() - t0
    titles = [e.title for e in read_examples(ROOT / "data/work/corpus/test.jsonl")[: args.batch]]
    keys = list(gen.index.songs_in_cluster)
    n = args.clusters
    cfg = DecodeConfig(num_beams=args.beams, max_clusters=n, min_clusters=n)
    free = DecodeConfig(num_beams=args.beams, max_clusters=n, min_clusters=n, constrained=False)
    run = lambda c, constraint: generate_clusters(gen.model, gen.tokenizer, gen.vocab, constraint, titles, c,
                                                  gen.max_source_tokens)
    t_free = median_seconds(lambda: run(free, None), args.repeats)
    t_mask = median_seconds(lambda: run(cfg, ClusterConstraint(gen.vocab, keys, n, n)), args.repeats)
    t_cap = median_seconds(lambda: run(cfg, ClusterConstraint(gen.vocab, keys, n, n, max_repeats=1)), args.repeats)
    per = lambda t: 1000 * t / len(titles)
    print(f"device {gen.device}, {torch.get_num_threads()} threads; beam {args.beams}, {n} clusters "
          f"({n * gen.vocab.num_levels + 1} tokens), batch {len(titles)}, median of {args.repeats}")
    print(f"unconstrained generate:             {per(t_free):7.1f} ms per playlist")
    print(f"constrained (valid clusters):       {per(t_mask):7.1f} ms per playlist, ratio {t_mask / t_free:.2f}x")
    print(f"constrained + repeat cap 1:         {per(t_cap):7.1f} ms per playlist, ratio {t_cap / t_free:.2f}x")
    warm = median_seconds(lambda: gen.generate("rainy sunday piano", n=20), args.repeats)
    print(f"bundle load: {load_s:.2f} s; warm generate-playlist request, 20 songs: {1000 * warm:.0f} ms")


if __name__ == "__main__":
    main()
