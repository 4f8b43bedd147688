"""The export bundle: everything inference needs, in one folder, nothing else read.

    manifest.json            format version, library versions, the decode defaults and params it was built with
    model/                   T5 weights and config (save_pretrained, safetensors)
    tokenizer/               title + code tokenizer
    clusters.json            cluster key -> songs (most popular first)
    codebooks.safetensors    frozen RQ codebooks: encode new songs' vectors into the same semantic IDs
    songs.jsonl              display metadata: song_id, title, artist, album, popularity, playlist_count
    title_profiles.npz       song -> mean sentence vector of its training playlists' titles (title-aware order)
    song_semantic_ids.jsonl  song -> full semantic ID (regenerated from features + codebooks when missing)
"""
from __future__ import annotations

import platform
import shutil
from pathlib import Path

from .io import atomic_dir, write_json, write_jsonl

FORMAT_VERSION = 1


def export_bundle(out_dir: str | Path, model_dir: Path, tokenizer_dir: Path, clusters_path: Path, codebooks_path: Path,
                  semantic_ids_path: Path, songs: dict, decode_defaults: dict, params: dict,
                  data_dir: str | None = None, playlist_counts: dict[str, int] | None = None,
                  title_profiles=None) -> None:
    """Copy the stage outputs into a bundle folder, atomically; `data_dir` is recorded as the catalog to generate
    semantic IDs from if the bundle's ID file goes missing; `playlist_counts` (training playlists holding each song)
    order the songs of generated clusters (clusters.ranking_weights); `title_profiles` (recommend.SongTitleProfiles)
    let the title order them too."""
    playlist_counts = playlist_counts or {}
    import accelerate
    import tokenizers
    import torch
    import transformers

    with atomic_dir(out_dir) as tmp:
        shutil.copytree(model_dir, tmp / "model")
        shutil.copytree(tokenizer_dir, tmp / "tokenizer")
        shutil.copy2(clusters_path, tmp / "clusters.json")
        shutil.copy2(codebooks_path, tmp / "codebooks.safetensors")
        shutil.copy2(semantic_ids_path, tmp / "song_semantic_ids.jsonl")
        write_jsonl(tmp / "songs.jsonl", ({"song_id": s.song_id, "title": s.title, "artist": s.artist,
                                           "album": s.album, "tags": s.tags, "popularity": s.popularity,
                                           "playlist_count": playlist_counts.get(s.song_id, 0)}
                                          for s in songs.values()))
        if title_profiles is not None:
            import numpy as np

            from .io import save_npz

            save_npz(tmp / "title_profiles.npz", song_ids=np.asarray(list(title_profiles.row), dtype=str),
                     vectors=title_profiles.vectors.astype(np.float16))
        write_json(tmp / "manifest.json", {
            "format_version": FORMAT_VERSION,
            "decode": decode_defaults,
            "params": params,
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "transformers": transformers.__version__, "accelerate": accelerate.__version__,
                         "tokenizers": tokenizers.__version__},
            "songs": len(songs),
            "data_dir": data_dir,
        })
