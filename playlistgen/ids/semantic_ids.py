"""Semantic IDs for a catalog directory, standalone (the design's `train_rqvae.py --data_dir --output_dir`).

    python -m playlistgen.ids.semantic_ids --data-dir data/raw --output-dir out/ [--method rq_vae|rq_kmeans]
        [--features audio,lyrics] [--codebooks path]   # frozen codebooks: encode only, IDs match a trained model

Writes `semantic_id_dict.json` (song id -> list of codes) and, when it trained new ones, `codebooks.safetensors`.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playlistgen.data.catalog import FEATURES_DIR, load_songs
from playlistgen.data.features import read_song_vectors
from playlistgen.common.io import DataError, write_json

log = logging.getLogger(__name__)


@dataclass
class GenerationResult:
    semantic_ids: dict[str, list[int]]
    quantizer: object
    songs_without_features: list[str]
    catalog_songs: int
    seconds: float

    @property
    def coverage(self) -> float:
        return len(self.semantic_ids) / max(self.catalog_songs, 1)


def load_song_vectors(data_dir: str | Path, feature_names: list[str] | None, normalize_each: bool):
    """Songs of a catalog directory and their averaged feature vectors (songs lacking every set are listed)."""
    data_dir = Path(data_dir)
    songs = load_songs(data_dir / "songs.jsonl")
    names = feature_names or sorted(p.stem for p in (data_dir / FEATURES_DIR).glob("*.npz"))
    if not names:
        raise DataError(f"{data_dir / FEATURES_DIR}: no feature sets found; song vectors are needed for semantic IDs.")
    log.info("loading feature sets %s for %d songs", names, len(songs))
    return songs, read_song_vectors(data_dir / FEATURES_DIR, songs, names, normalize_each)


def generate_semantic_ids(data_dir: str | Path, feature_names: list[str] | None = None, quantizer=None,
                          method: str = "rq_vae", num_levels: int = 4, codebook_size: int = 256, seed: int = 0,
                          normalize_each: bool = True, normalize: bool = False, rqvae_overrides: dict | None = None,
                          kmeans: dict | None = None) -> GenerationResult:
    """Encode every song with features: with a frozen `quantizer` when given, else by training a new one. The
    defaults are design document 002's on-demand RQ-VAE (4 x 256 codes); `kmeans` (quantize.kmeans_options of a
    params.yaml quantize block) is needed for method rq_kmeans."""
    t0 = time.perf_counter()
    songs, vectors = load_song_vectors(data_dir, feature_names, normalize_each)
    log.info("%d songs with features, dim %d", len(vectors.song_ids), vectors.vectors.shape[1])
    if quantizer is not None:
        codes = quantizer.encode(vectors.vectors)
    elif method == "rq_vae":
        from playlistgen.ids.rqvae import RQVAEConfig, train_rq_vae

        cfg = RQVAEConfig(input_dim=vectors.vectors.shape[1], num_levels=num_levels, codebook_size=codebook_size,
                          normalize=normalize, **(rqvae_overrides or {}))
        quantizer, codes, _ = train_rq_vae(vectors.vectors, cfg, seed)
    elif method == "rq_kmeans":
        from playlistgen.ids.quantize import train_rq_kmeans

        if kmeans is None:
            raise DataError("rq_kmeans needs the k-means options of a params.yaml quantize block (--params).")
        quantizer, codes = train_rq_kmeans(vectors.vectors, num_levels, codebook_size, seed=seed, normalize=normalize,
                                           **kmeans)
    else:
        raise DataError(f"unknown method '{method}'; use rq_vae or rq_kmeans.")
    ids = {s: [int(c) for c in row] for s, row in zip(vectors.song_ids, np.asarray(codes).tolist())}
    return GenerationResult(ids, quantizer, vectors.songs_without_features, len(songs), time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate semantic IDs for a catalog directory.")
    parser.add_argument("--data-dir", required=True, help="catalog directory (songs.jsonl, features/<name>.npz)")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--features", default=None, help="comma-separated feature set names (default: all)")
    parser.add_argument("--method", choices=["rq_vae", "rq_kmeans"], default="rq_vae")
    parser.add_argument("--codebooks", default=None, help="frozen codebooks to encode with (no training)")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--codebook-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=20, help="RQ-VAE epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", default="params.yaml", help="rq_kmeans: the quantize block's k-means options")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from playlistgen.common.params import load
    from playlistgen.ids.quantize import kmeans_options, load_quantizer

    try:
        frozen = load_quantizer(args.codebooks) if args.codebooks else None
        kmeans = kmeans_options(load(args.params)["quantize"]) if args.method == "rq_kmeans" and not frozen else None
        result = generate_semantic_ids(args.data_dir, args.features.split(",") if args.features else None, frozen,
                                       args.method, args.levels, args.codebook_size, args.seed,
                                       rqvae_overrides={"epochs": args.epochs}, kmeans=kmeans)
        out = Path(args.output_dir)
        write_json(out / "semantic_id_dict.json", result.semantic_ids, indent=None)
        if frozen is None:
            result.quantizer.save(out / "codebooks.safetensors")
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote semantic IDs of {len(result.semantic_ids)} songs ({result.coverage:.1%} of the catalog) to "
          f"{out / 'semantic_id_dict.json'} in {result.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
