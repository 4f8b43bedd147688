"""Decoding speed (the evaluate stage's ms/title) by torch thread count, alone and beside a busy process.

    python bench/threads.py [--titles 128] [--bundle data/bundle]

Decodes test titles with the bundle (20-song policy, beam 4, batch 64) with 1 thread and with as many as the
process has cores, first on an otherwise idle machine, then while a second process spins on one core. Prints ms per
title for each, the ratio of each to the reference (the configured setting on an idle machine), and which one
playlistgen.common.threads.configure() picks in each situation. On 2 cores torch's default of one thread per core slows
several-fold as soon as another process runs.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spin(stop) -> None:
    while not stop.is_set():
        pass


def ms_per_title(gen, titles: list[str], threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    gen.generate_clusters_batch(titles[:8], 20)  # warm-up
    t0 = time.perf_counter()
    for start in range(0, len(titles), 64):
        gen.generate_clusters_batch(titles[start:start + 64], 20)
    return 1000 * (time.perf_counter() - t0) / len(titles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=str(ROOT / "data/bundle"))
    parser.add_argument("--titles", type=int, default=128)
    args = parser.parse_args()
    from playlistgen import PlaylistGenerator
    from playlistgen.common import threads

    gen = PlaylistGenerator(args.bundle)
    configured = threads.configure()
    cores = threads.available_cores()
    titles = [json.loads(line)["title"] for line in open(ROOT / "data/work/corpus/test.jsonl", encoding="utf-8")]
    titles = titles[:args.titles]
    rows, picks = {}, {}
    for label, busy in (("idle", False), ("beside a busy process", True)):
        stop = multiprocessing.Event()
        worker = multiprocessing.Process(target=spin, args=(stop,)) if busy else None
        if worker:
            worker.start()
            time.sleep(0.5)
        try:
            adaptive = threads.configure()  # what every stage and the CLI would pick right now
            for n in sorted({1, cores}):
                rows[(label, n)] = ms_per_title(gen, titles, n)
            picks[label] = adaptive
        finally:
            if worker:
                stop.set()
                worker.join()
    reference = rows[("idle", configured)]
    print(f"{cores} cores available; playlistgen.common.threads sets {configured} thread(s) (reference: that, idle, "
          f"{reference:.1f} ms/title)")
    for (label, n), ms in rows.items():
        mark = "  <- playlistgen.common.threads.configure() picks this" if picks[label] == n else ""
        print(f"  {label:>22}, {n} thread(s): {ms:7.1f} ms/title  ({ms / reference:.2f}x the reference){mark}")


if __name__ == "__main__":
    main()
