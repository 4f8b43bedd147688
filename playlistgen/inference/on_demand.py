"""Song -> semantic-ID file of a bundle, generated on demand when missing (design doc 002, 按需生成semantic_id).

At inference start the bundle's `song_semantic_ids.jsonl` is loaded; when it is missing it is generated from the
catalog's feature sets with the bundle's frozen codebooks (so the IDs are the ones the model was trained on), saved
atomically under a file lock, and the next start just loads it. Only when the bundle has no codebooks is a fast
RQ-VAE trained instead, with a loud warning: its IDs are not the model's. `ALLOW_SEMANTIC_GENERATION=false`
(production) turns generation off and makes a missing file an error that says how to pre-generate it.
"""
from __future__ import annotations

import logging
import os
import resource
import time
from pathlib import Path

from filelock import FileLock

from playlistgen.common.io import DataError, read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)

IDS_FILE = "song_semantic_ids.jsonl"
ADDED_FILE = "added_song_ids.jsonl"  # songs given IDs by add-songs: kept when the ID file is regenerated
REPORT_FILE = "semantic_id_generation.json"
CODEBOOKS_FILE = "codebooks.safetensors"
LOCK_TIMEOUT_S = 900  # a second process waits this long for the first one's generation


def generation_allowed() -> bool:
    return os.environ.get("ALLOW_SEMANTIC_GENERATION", "true").strip().lower() not in ("0", "false", "no", "off")


def read_ids(path: Path) -> dict[str, list[int]]:
    out = {}
    for line_no, record in read_jsonl(path):
        codes = record.get("semantic_id")
        if "song_id" not in record or not isinstance(codes, list):
            raise DataError(f"{path}, line {line_no}: needs 'song_id' and a list 'semantic_id'; delete the file to "
                            "have it regenerated.")
        out[str(record["song_id"])] = [int(c) for c in codes]
    return out


def write_ids(path: Path, ids: dict[str, list[int]]) -> None:
    write_jsonl(path, ({"song_id": s, "semantic_id": c} for s, c in ids.items()))


def pregenerate_hint(bundle_dir: Path, data_dir: Path | None) -> str:
    return (f"pre-generate it with `playlistgen semantic-ids --bundle {bundle_dir} --data-dir {data_dir or 'DATA_DIR'}`"
            " before starting inference")


def load_or_generate(bundle_dir: Path, data_dir: Path | None, manifest: dict,
                     force: bool = False) -> dict[str, list[int]]:
    """The bundle's song -> semantic ID map: loaded, or generated and saved when missing (always with `force`,
    which is how an operator pre-generates it whatever ALLOW_SEMANTIC_GENERATION says)."""
    path = bundle_dir / IDS_FILE
    if force:
        with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
            return generate_and_save(bundle_dir, data_dir, manifest)
    if path.exists():
        ids = read_ids(path)
        log.info("loaded semantic IDs of %d songs from %s", len(ids), path)
        return ids
    if not generation_allowed():
        raise DataError(f"{path} is missing and ALLOW_SEMANTIC_GENERATION is off; {pregenerate_hint(bundle_dir, data_dir)}.")
    log.warning("no semantic ID file at %s; generating it", path)
    with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
        if path.exists():  # another process generated it while we waited for the lock
            return read_ids(path)
        return generate_and_save(bundle_dir, data_dir, manifest)


def generate_and_save(bundle_dir: Path, data_dir: Path | None, manifest: dict) -> dict[str, list[int]]:
    from playlistgen.ids.quantize import load_quantizer
    from playlistgen.ids.semantic_ids import generate_semantic_ids

    if data_dir is None or not Path(data_dir).exists():
        raise DataError(f"cannot generate semantic IDs: catalog directory {data_dir} not found; pass --data-dir "
                        "with the folder holding songs.jsonl and features/.")
    q = manifest["params"]["quantize"]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    codebooks = bundle_dir / CODEBOOKS_FILE
    if codebooks.exists():
        method = "frozen_codebooks"
        result = generate_semantic_ids(data_dir, q["features"], quantizer=load_quantizer(codebooks),
                                       normalize_each=q["normalize_each"])
    else:
        method = "rq_vae_fallback"
        log.warning("!" * 78)
        log.warning("the bundle has no codebooks: training a fast RQ-VAE. Its semantic IDs are NOT the ones the "
                    "model was trained on, so recommendations will be poor. Re-export the bundle to fix this.")
        log.warning("!" * 78)
        result = generate_semantic_ids(data_dir, q["features"], method="rq_vae", num_levels=q["num_levels"],
                                       codebook_size=q["codebook_size"], normalize_each=q["normalize_each"],
                                       normalize=q["normalize"])
    path = bundle_dir / IDS_FILE
    added = read_ids(bundle_dir / ADDED_FILE) if (bundle_dir / ADDED_FILE).exists() else {}
    kept = {s: c for s, c in added.items() if s not in result.semantic_ids}
    ids = {**result.semantic_ids, **kept}
    write_ids(path, ids)
    report = {
        "method": method,
        "catalog_songs": result.catalog_songs,
        "songs_with_id": len(ids),
        "added_songs_kept": len(kept),  # songs of `playlistgen add-songs`, not in the catalog folder
        "coverage": round(result.coverage, 4),
        "songs_without_features": len(result.songs_without_features),
        "seconds": round(result.seconds, 2),
        "peak_memory_increase_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_json(bundle_dir / REPORT_FILE, report)
    log.warning("generated semantic IDs of %d songs (%.1f%% of the catalog; %d added songs kept) in %.1f s, saved "
                "to %s", report["songs_with_id"], 100 * report["coverage"], len(kept), report["seconds"], path)
    return ids


def add_songs(bundle_dir: Path, songs_path: Path, features_dir: Path) -> dict:
    """Cold start: give songs added after training semantic IDs from the frozen codebooks and add them to the
    bundle's catalog, so they are recommendable at once without retraining. Returns counts."""
    from playlistgen.data.catalog import load_songs
    from playlistgen.data.features import read_song_vectors
    from playlistgen.common.io import read_json
    from playlistgen.ids.quantize import load_quantizer

    manifest = read_json(bundle_dir / "manifest.json")
    q = manifest["params"]["quantize"]
    new_songs = load_songs(songs_path)
    codebooks = bundle_dir / CODEBOOKS_FILE
    if not codebooks.exists():
        raise DataError(f"{codebooks} not found: new songs need the frozen codebooks the model was trained with.")
    ids_path = bundle_dir / IDS_FILE
    with FileLock(str(ids_path) + ".lock", timeout=LOCK_TIMEOUT_S):
        catalog = {str(r["song_id"]): r for _, r in read_jsonl(bundle_dir / "songs.jsonl")}
        clash = [s for s in new_songs if s in catalog]
        if clash:
            raise DataError(f"{songs_path}: {len(clash)} song ids already in the bundle (e.g. {clash[0]!r}); "
                            "new songs need new ids (a song added by an earlier run is done already).")
        vectors = read_song_vectors(features_dir, new_songs, q["features"], q["normalize_each"], missing_ok=True)
        codes = load_quantizer(codebooks).encode(vectors.vectors) if len(vectors.song_ids) else []
        ids = read_ids(ids_path) if ids_path.exists() else {}
        added = read_ids(bundle_dir / ADDED_FILE) if (bundle_dir / ADDED_FILE).exists() else {}
        for song_id, row in zip(vectors.song_ids, [list(map(int, r)) for r in codes]):
            ids[song_id] = added[song_id] = row
        for s in new_songs.values():
            catalog[s.song_id] = {"song_id": s.song_id, "title": s.title, "artist": s.artist, "album": s.album,
                                  "tags": s.tags, "popularity": s.popularity}
        # Three atomic writes, the catalog last: a kill before it leaves IDs of songs the bundle does not list yet
        # (ignored at load), and running the same add-songs again completes the addition.
        write_ids(bundle_dir / ADDED_FILE, added)
        write_ids(ids_path, ids)
        write_jsonl(bundle_dir / "songs.jsonl", catalog.values())
    counts = {"added": len(new_songs), "with_semantic_id": len(vectors.song_ids),
              "without_features": len(vectors.songs_without_features)}
    log.warning("added %d songs to %s: %d with a semantic ID, %d without features (not recommendable)",
                counts["added"], bundle_dir, counts["with_semantic_id"], counts["without_features"])
    return counts
