"""Sentence vectors from the on-disk cache (embed.SentenceCache) against encoding them, measured in the same run.

    python bench/embed_cache.py               # 3,000 song texts of the default catalog (data/raw, after dvc repro)
    python bench/embed_cache.py --texts 28000 --songs ../shared/data/spotify-songs-dev/songs.csv

Encodes the texts with all-MiniLM-L6-v2 into an empty cache folder (the reference: what a first data stage pays),
then asks for the same texts again from a new SentenceCache (what a re-run, another split or a grown catalog pays
for texts seen before), and a third time with 10% new texts (a grown catalog). Prints seconds and the ratio
cached / encoded: the cache's speed-up is its inverse. The vectors read back must equal the ones encoded.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def song_texts(path: Path, limit: int) -> list[str]:
    """"title — artist — album" of the first `limit` songs of a songs.jsonl or songs.csv, as text_vectors builds it."""
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    else:
        import json

        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [" — ".join(x for x in (r.get("title", ""), r.get("artist", ""), r.get("album", "")) if x) for r in rows]
    return list(dict.fromkeys(texts))[:limit]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", default=str(ROOT / "data" / "raw" / "songs.jsonl"))
    parser.add_argument("--texts", type=int, default=3000)
    args = parser.parse_args(argv)
    from playlistgen.data.embed import SentenceCache, sentence_model, sentence_model_id
    from playlistgen.common.threads import configure

    configure()
    path = Path(args.songs)
    if not path.exists():
        raise SystemExit(f"{path}: not found; run dvc repro first or pass --songs with a songs.jsonl or songs.csv")
    texts = song_texts(path, args.texts)
    grown_n = max(1, len(texts) // 10)
    known, extra = texts[:-grown_n], texts[-grown_n:]
    model = sentence_model()
    encode = lambda batch: model.encode(batch, batch_size=256, normalize_embeddings=True)  # noqa: E731
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        first = SentenceCache(Path(folder), sentence_model_id()).encode(known, encode)
        encoded_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = SentenceCache(Path(folder), sentence_model_id()).encode(known, encode)
        cached_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        SentenceCache(Path(folder), sentence_model_id()).encode(known + extra, encode)
        grown_s = time.perf_counter() - t0
    assert np.array_equal(first, again), "the cache returned other vectors than it stored"
    print(f"{len(known)} texts: encoded {encoded_s:.2f} s (reference), from the cache {cached_s:.3f} s "
          f"(ratio {cached_s / encoded_s:.4f}, {encoded_s / cached_s:.0f}x faster); with {len(extra)} new texts "
          f"{grown_s:.2f} s (ratio {grown_s / encoded_s:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
