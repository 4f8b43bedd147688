"""The export bundle: everything inference needs, in one folder, nothing else read.

    manifest.json            format version, library versions, the decode defaults and params it was built with
    model/                   T5 weights and config (save_pretrained, safetensors)
    tokenizer/               title + code tokenizer
    clusters.json            cluster key -> songs (most popular first)
    codebooks.safetensors    frozen RQ codebooks: encode new songs' vectors into the same semantic IDs
    songs.jsonl              display metadata: song_id, title, artist, album, popularity, playlist_count
    title_profiles.npz       song -> mean sentence vector of its training playlists' titles (title-aware order)
    song_semantic_ids.jsonl  song -> full semantic ID (regenerated from features + codebooks when missing)
    train.jsonl              training titles, songs and clusters: the nearest titles' songs model_knn fuses
                             (evaluate.knn_fusion), or the retrieved clusters a model reads (retrieval.py)
"""
from __future__ import annotations

import platform
import shutil
from pathlib import Path

from playlistgen.common.io import DataError, atomic_dir, write_json, write_jsonl

FORMAT_VERSION = 1


# Files that never change after export (songs.jsonl and the semantic ID file grow with add-songs): their sha256 is
# in the manifest and checked at every load, so a truncated or corrupted copy is named instead of failing deep inside.
FROZEN = ("model/*", "tokenizer/*", "clusters.json", "codebooks.safetensors", "title_profiles.npz", "train.jsonl",
          "title_vectors.npz")


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksums(bundle_dir: Path) -> dict[str, str]:
    bundle_dir = Path(bundle_dir)
    return {p.relative_to(bundle_dir).as_posix(): _sha256(p)
            for pattern in FROZEN for p in sorted(bundle_dir.glob(pattern)) if p.is_file()}


def verify_bundle(bundle_dir: Path, manifest: dict) -> None:
    """DataError naming the first frozen file that is missing or differs from the manifest's checksum (bundles
    exported before checksums existed are not checked)."""
    bundle_dir = Path(bundle_dir)
    for rel, digest in (manifest.get("checksums") or {}).items():
        path = bundle_dir / rel
        if not path.is_file():
            raise DataError(f"{path}: missing from the bundle; export it again (`dvc repro export`) or copy the "
                            "whole folder.")
        if _sha256(path) != digest:
            raise DataError(f"{path}: truncated or corrupt (its checksum differs from manifest.json); export the "
                            "bundle again (`dvc repro export`) or copy the whole folder again.")


def check_destination(out_dir: Path) -> None:
    """Refuse to replace a folder that holds something other than a bundle: the atomic swap would delete it."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir())
                                                      and not (out_dir / "manifest.json").exists())):
        raise DataError(f"{out_dir}: exists and is not a playlistgen bundle; exporting would replace it. Point "
                        "export.bundle_dir at a new or empty folder, or at an earlier bundle.")


def export_bundle(out_dir: str | Path, model_dir: Path, tokenizer_dir: Path, clusters_path: Path, codebooks_path: Path,
                  semantic_ids_path: Path, songs: dict, decode_defaults: dict, params: dict,
                  data_dir: str | None = None, playlist_counts: dict[str, int] | None = None,
                  title_profiles=None, train_examples_path: Path | None = None,
                  title_vectors: tuple[list[str], "np.ndarray"] | None = None) -> None:
    """Copy the stage outputs into a bundle folder, atomically; `data_dir` is recorded as the catalog to generate
    semantic IDs from if the bundle's ID file goes missing; `playlist_counts` (training playlists holding each song)
    order the songs of generated clusters (clusters.ranking_weights); `title_profiles` (recommend.SongTitleProfiles)
    let the title order them too; `train_examples_path` (corpus train.jsonl) is what model_knn takes the nearest
    training titles' songs from, and a model trained with retrieved clusters retrieves from; `title_vectors`
    (unique training titles, their sentence vectors) tell a title how familiar it is (familiar.py)."""
    playlist_counts = playlist_counts or {}
    import accelerate
    import tokenizers
    import torch
    import transformers

    check_destination(out_dir)
    with atomic_dir(out_dir) as tmp:
        shutil.copytree(model_dir, tmp / "model")
        shutil.copytree(tokenizer_dir, tmp / "tokenizer")
        shutil.copy2(clusters_path, tmp / "clusters.json")
        shutil.copy2(codebooks_path, tmp / "codebooks.safetensors")
        shutil.copy2(semantic_ids_path, tmp / "song_semantic_ids.jsonl")
        if train_examples_path is not None:
            shutil.copy2(train_examples_path, tmp / "train.jsonl")
        write_jsonl(tmp / "songs.jsonl", ({"song_id": s.song_id, "title": s.title, "artist": s.artist,
                                           "album": s.album, "tags": s.tags, "popularity": s.popularity,
                                           "playlist_count": playlist_counts.get(s.song_id, 0)}
                                          for s in songs.values()))
        if title_profiles is not None:
            import numpy as np

            from playlistgen.common.io import save_npz

            save_npz(tmp / "title_profiles.npz", song_ids=np.asarray(list(title_profiles.row), dtype=str),
                     vectors=title_profiles.vectors.astype(np.float16))
        if title_vectors is not None:
            from playlistgen.inference.familiar import FILE, TitleFamiliarity

            TitleFamiliarity.save(tmp / FILE, *title_vectors)
        write_json(tmp / "manifest.json", {
            "format_version": FORMAT_VERSION,
            "checksums": checksums(tmp),
            "decode": decode_defaults,
            "params": params,
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "transformers": transformers.__version__, "accelerate": accelerate.__version__,
                         "tokenizers": tokenizers.__version__},
            "songs": len(songs),
            "data_dir": data_dir,
        })
