"""The data contract: songs, playlists and named song feature sets, loaded and validated.

Layout of a catalog directory (what the `data` stage writes and what importers produce):

    songs.jsonl          one JSON object per line: song_id, title, artist, [album], [tags], [popularity]
    playlists.jsonl      one JSON object per line: playlist_id, title, song_ids (ordered list)
    features/<name>.npz  arrays `song_ids` (str, n) and `vectors` (float32, n x d); one file per feature set

Errors a user must fix (malformed JSON, a missing key, a duplicate id, a feature file that is not a matrix) raise
DataError with the file and line. Records that can sensibly be dropped (a playlist with an empty title, song ids
the catalog does not know, a vector holding NaN) are skipped, counted in `LoadReport` and logged.
"""
from __future__ import annotations

import logging
import math
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playlistgen.common.io import DataError, read_jsonl

log = logging.getLogger(__name__)

SONGS_FILE = "songs.jsonl"
PLAYLISTS_FILE = "playlists.jsonl"
FEATURES_DIR = "features"


@dataclass
class Song:
    song_id: str
    title: str
    artist: str
    album: str = ""
    tags: list[str] = field(default_factory=list)
    popularity: float = 0.0


@dataclass
class Playlist:
    playlist_id: str
    title: str
    song_ids: list[str]


@dataclass
class FeatureSet:
    """One named feature set: row i of `vectors` (float32, n x d) belongs to song `song_ids[i]`."""

    name: str
    song_ids: list[str]
    vectors: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass
class LoadReport:
    """Counts of what was skipped while loading, with a few examples of each kind for the log."""

    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, kind: str, example: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < 3:
            shown.append(example)

    def log(self) -> None:
        for kind, count in sorted(self.skipped.items()):
            log.warning("skipped %d: %s (e.g. %s)", count, kind, "; ".join(self.examples[kind]))


def clean_title(text: str) -> str:
    """Drop control characters and collapse whitespace; any language is kept as written."""
    kept = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return " ".join(kept.split())


def _require(record: dict, key: str, kind: type, path: Path, line_no: int):
    if key not in record:
        raise DataError(f"{path}, line {line_no}: missing required key '{key}'; every record needs it.")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        wanted = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(
            f"{path}, line {line_no}: '{key}' must be {wanted}, got {type(value).__name__} ({value!r:.60})."
        )
    return value


def load_songs(path: str | Path) -> dict[str, Song]:
    path = Path(path)
    songs: dict[str, Song] = {}
    for line_no, record in read_jsonl(path):
        song_id = str(_require(record, "song_id", (str, int), path, line_no))
        if song_id in songs:
            raise DataError(f"{path}, line {line_no}: duplicate song_id '{song_id}'; song ids must be unique.")
        popularity = record.get("popularity", 0.0)
        if not isinstance(popularity, (int, float)) or not math.isfinite(popularity):
            raise DataError(f"{path}, line {line_no}: 'popularity' must be a finite number, got {popularity!r:.60}.")
        tags = record.get("tags", [])
        if not isinstance(tags, list):
            raise DataError(f"{path}, line {line_no}: 'tags' must be a list of strings.")
        songs[song_id] = Song(
            song_id=song_id,
            title=str(_require(record, "title", str, path, line_no)),
            artist=str(_require(record, "artist", str, path, line_no)),
            album=str(record.get("album", "") or ""),
            tags=[str(t) for t in tags],
            popularity=float(popularity),
        )
    if not songs:
        raise DataError(f"{path}: holds no songs; a catalog needs at least one.")
    log.info("read %d songs from %s", len(songs), path)
    return songs


def load_playlists(path: str | Path, known_song_ids: set[str] | dict, report: LoadReport) -> list[Playlist]:
    """Read playlists; unknown song ids and empty titles are counted skips, duplicates an error."""
    path = Path(path)
    playlists: list[Playlist] = []
    seen: set[str] = set()
    for line_no, record in read_jsonl(path):
        playlist_id = str(_require(record, "playlist_id", (str, int), path, line_no))
        if playlist_id in seen:
            raise DataError(f"{path}, line {line_no}: duplicate playlist_id '{playlist_id}'; ids must be unique.")
        seen.add(playlist_id)
        title = clean_title(_require(record, "title", str, path, line_no))
        song_ids = _require(record, "song_ids", list, path, line_no)
        if not title:
            report.skip("playlists with an empty title", f"line {line_no}")
            continue
        known = []
        for song_id in song_ids:
            if str(song_id) in known_song_ids:
                known.append(str(song_id))
            else:
                report.skip("unknown song ids in playlists", f"line {line_no}: {song_id!r:.40}")
        if not known:
            report.skip("playlists with no known songs", f"line {line_no}")
            continue
        playlists.append(Playlist(playlist_id, title, known))
    log.info("read %d playlists from %s", len(playlists), path)
    return playlists


def load_feature_set(path: str | Path, known_song_ids: set[str] | dict, report: LoadReport) -> FeatureSet:
    """Read one `<name>.npz` feature file (no pickle); NaN/inf rows and unknown ids are counted skips."""
    path = Path(path)
    name = path.stem
    if not path.exists():
        raise DataError(f"{path}: feature set '{name}' not found; check quantize.features in params.yaml.")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (truncated or another format); regenerate it.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "song_ids" not in npz or "vectors" not in npz:
                raise DataError(f"{path}: needs arrays 'song_ids' and 'vectors', found {sorted(npz.files)}.")
            song_ids = npz["song_ids"]
            vectors = npz["vectors"]
    except DataError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():  # an object array: only pickle could read it, and pickle runs code
            raise DataError(f"{path}: cannot be read without pickle ({e}); store song_ids as a str array.") from None
        raise DataError(f"{path}: an array in it is truncated or corrupt ({e}); regenerate the file.") from None
    except Exception as e:  # zipfile.BadZipFile, OSError: a truncated or foreign file
        raise DataError(f"{path}: not a readable .npz file ({e}); regenerate it.") from None
    if vectors.ndim != 2 or len(song_ids) != len(vectors):
        raise DataError(
            f"{path}: 'vectors' must be a matrix with one row per song id; got shape {vectors.shape} "
            f"for {len(song_ids)} ids."
        )
    if not np.issubdtype(vectors.dtype, np.number):
        raise DataError(f"{path}: 'vectors' must be numeric, got dtype {vectors.dtype}.")
    vectors = vectors.astype(np.float32, copy=False)
    finite = np.isfinite(vectors).all(axis=1)
    keep_ids, keep_rows, seen = [], [], set()
    for row, raw_id in enumerate(song_ids.tolist()):
        song_id = str(raw_id)
        if song_id in seen:
            raise DataError(f"{path}: song id '{song_id}' appears twice (row {row}); keep one vector per song.")
        seen.add(song_id)
        if song_id not in known_song_ids:
            report.skip(f"{name}: vectors of unknown songs", song_id)
        elif not finite[row]:
            report.skip(f"{name}: vectors holding NaN or inf", song_id)
        else:
            keep_ids.append(song_id)
            keep_rows.append(row)
    log.info("read feature set '%s': %d vectors of dim %d from %s", name, len(keep_ids), vectors.shape[1], path)
    return FeatureSet(name, keep_ids, np.ascontiguousarray(vectors[keep_rows]))


@dataclass
class Catalog:
    songs: dict[str, Song]
    playlists: list[Playlist]
    features: dict[str, FeatureSet]
    report: LoadReport


def load_catalog(directory: str | Path, feature_names: list[str] | None = None, with_playlists: bool = True) -> Catalog:
    """Load and validate a catalog directory; `feature_names` None means every file under features/."""
    directory = Path(directory)
    report = LoadReport()
    songs = load_songs(directory / SONGS_FILE)
    playlists = load_playlists(directory / PLAYLISTS_FILE, songs, report) if with_playlists else []
    if feature_names is None:
        feature_names = sorted(p.stem for p in (directory / FEATURES_DIR).glob("*.npz"))
    features = {name: load_feature_set(directory / FEATURES_DIR / f"{name}.npz", songs, report) for name in feature_names}
    report.log()
    return Catalog(songs, playlists, features, report)
