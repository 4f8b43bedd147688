"""Combine a song's feature sets into one vector: the mean of the sets it has (design doc 002: 多特征取平均)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playlistgen.data.catalog import FeatureSet
from playlistgen.common.io import DataError

log = logging.getLogger(__name__)


@dataclass
class SongVectors:
    song_ids: list[str]
    vectors: np.ndarray  # (n, d) float32
    songs_without_features: list[str]


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def feature_weights(spec) -> dict[str, float]:
    """quantize.features as {set name: weight}: a list weighs every set 1, a mapping gives each set its weight."""
    if isinstance(spec, dict):
        return {str(name): float(w) for name, w in spec.items()}
    return {str(name): 1.0 for name in spec}


def combine_feature_sets(
    feature_sets: list[FeatureSet], catalog_song_ids: list[str], normalize_each: bool,
    weights: dict[str, float] | None = None,
) -> SongVectors:
    """Weighted mean over the feature sets each song has, in catalog order; songs with none are left out and listed.

    All sets must share one dimension (averaging vectors of different spaces is meaningless). With
    `normalize_each`, every set's vectors are L2-normalised first so that no set dominates by scale. `weights`
    (set name -> weight, default 1 each) divide by the weights of the sets a song has, so a song lacking a
    heavily weighted set (a cold song without playlist context) is still a mean of what it has.
    """
    if not feature_sets:
        raise DataError("no feature sets given; list at least one under quantize.features in params.yaml.")
    dims = {fs.name: fs.dim for fs in feature_sets}
    if len(set(dims.values())) > 1:
        raise DataError(
            f"feature sets have different dimensions {dims}; use sets of one dimension, or quantize them separately."
        )
    dim = next(iter(dims.values()))
    row_of_song = {song_id: i for i, song_id in enumerate(catalog_song_ids)}
    total = np.zeros((len(catalog_song_ids), dim), dtype=np.float64)
    count = np.zeros(len(catalog_song_ids), dtype=np.float64)  # summed weights of the sets each song has
    for fs in feature_sets:
        weight = (weights or {}).get(fs.name, 1.0)
        vectors = l2_normalize(fs.vectors) if normalize_each else fs.vectors
        rows = np.fromiter((row_of_song[s] for s in fs.song_ids), dtype=np.int64, count=len(fs.song_ids))
        total[rows] += weight * vectors
        count[rows] += weight
    has = count > 0
    missing = [s for s, h in zip(catalog_song_ids, has) if not h]
    if missing:
        log.warning("%d songs have none of the feature sets %s and get no semantic ID (e.g. %s)",
                    len(missing), sorted(dims), ", ".join(missing[:3]))
    vectors = (total[has] / count[has, None]).astype(np.float32)
    song_ids = [s for s, h in zip(catalog_song_ids, has) if h]
    log.info("combined %d feature sets into %d song vectors of dim %d", len(feature_sets), len(song_ids), dim)
    return SongVectors(song_ids, vectors, missing)


def read_song_vectors(features_dir: str | Path, songs: dict, names, normalize_each: bool,
                      missing_ok: bool = False) -> SongVectors:
    """The one way song vectors are read: the named `<name>.npz` sets under `features_dir` for `songs` (unknown
    ids and NaN rows are counted skips, logged once), averaged per song (combine_feature_sets). `names`:
    quantize.features, a list of set names or a mapping of names to weights (feature_weights). With `missing_ok` an
    absent set is skipped with a warning (songs added later may come with fewer sets); none present is an error."""
    from playlistgen.data.catalog import LoadReport, load_feature_set

    features_dir = Path(features_dir)
    weights = feature_weights(names)
    names = list(weights)
    report = LoadReport()
    sets = []
    for name in names:
        path = features_dir / f"{name}.npz"
        if missing_ok and not path.exists():
            log.warning("feature set %s not found under %s; songs are encoded from the others", name, features_dir)
            continue
        sets.append(load_feature_set(path, songs, report))
    if names and not sets:
        raise DataError(f"{features_dir}: none of the feature sets {names} found; songs need vectors.")
    report.log()
    return combine_feature_sets(sets, list(songs), normalize_each, weights)
