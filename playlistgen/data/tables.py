"""Plain tables into the data contract: songs, playlists and song vectors as CSV/TSV, JSON lines or Parquet.

    python -m playlistgen.data.importers files --songs songs.csv --playlists playlists.parquet \
        [--vectors audio=audio.parquet --vectors lyrics=lyrics.csv] --output data/catalog

Songs: one row per song with `song_id`, `title`, `artist` and optional `album`, `tags` (a list, or `|`-separated
text), `popularity`. Playlists, either wide (one row per playlist: `playlist_id`, `title`, `song_ids` as a list or
as `|`/space-separated text) or long (one row per playlist entry: `playlist_id`, `title`, `song_id`, optional
`position`). Vectors: `song_id` plus either one `vector` column (a list, or numbers separated by spaces, commas or
`|`) or one numeric column per dimension.

Defects that can be skipped (duplicate ids, empty titles, unknown song ids, vectors of the wrong length or holding
NaN) are counted in the LoadReport with examples; a file that cannot be read, or lacks a required column, is one
DataError naming the file and the row.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import re
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np

from playlistgen.data.catalog import LoadReport, clean_title
from playlistgen.common.io import DataError, read_jsonl

log = logging.getLogger(__name__)

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
            ".parquet": "parquet", ".pq": "parquet"}
_SPLIT = re.compile(r"[|,\s]+")


def table_format(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    fmt = SUFFIXES.get(suffixes[-1].lower() if suffixes else "")
    if fmt is None:
        raise DataError(f"{path}: unknown table format; use .csv, .tsv, .jsonl or .parquet.")
    return fmt


def read_rows(path: str | Path) -> Iterator[tuple[str, dict]]:
    """(where, row) for each row of a table; `where` names the file and the line (CSV/JSONL) or row (Parquet)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found; check data.files in params.yaml.")
    fmt = table_format(path)
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow).") from None
        try:
            table = pq.ParquetFile(path)
            row = 0
            for batch in table.iter_batches(batch_size=65536):
                for record in batch.to_pylist():
                    row += 1
                    yield f"{path}, row {row}", record
        except (OSError, ValueError) as e:  # pyarrow.ArrowInvalid is a ValueError
            raise DataError(f"{path}: not a readable Parquet file ({e}); write it again.") from None
        return
    if fmt == "jsonl":
        for line_no, record in read_jsonl(path):
            yield f"{path}, line {line_no}", record
        return
    yield from _read_delimited(path, "\t" if fmt == "tsv" else ",")


def not_utf8(path: Path) -> DataError:
    """The error for a text file with bytes that are not UTF-8, naming the first bad line and byte."""
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
        return DataError(f"{path}: not UTF-8 text; save the file as UTF-8.")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return DataError(f"{path}, line {line}: not UTF-8 text ({e.reason}, byte 0x{data[e.start]:02x}); save the "
                         "file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).")


def _read_delimited(path: Path, delimiter: str) -> Iterator[tuple[str, dict]]:
    """CSV/TSV rows; a row with too many or too few fields, a quoted field running over several lines (an
    unbalanced quote swallows the rows after it) or bytes that are not UTF-8 are one DataError naming the line."""
    line = 1
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            if not reader.fieldnames:
                raise DataError(f"{path}: empty; a table needs a header row.")
            width = len(reader.fieldnames)
            line = reader.line_num
            for record in reader:
                start, line = line + 1, reader.line_num
                spread = sum(v.count("\n") for v in record.values() if isinstance(v, str))
                where = f"{path}, line {start}"
                if spread:
                    raise DataError(f"{where}: a quoted field runs over lines {start}-{line} (an unbalanced quote "
                                    "swallows the rows after it); close the quote or remove it.")
                if None in record:
                    raise DataError(f"{where}: more fields than the header's {width}; quote fields that hold "
                                    "the delimiter.")
                if any(v is None for v in record.values()):
                    got = sum(v is not None for v in record.values())
                    raise DataError(f"{where}: {got} field(s) where the header has {width}; fill the missing ones "
                                    "(an empty field is two delimiters in a row).")
                yield where, record
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except csv.Error as e:
        raise DataError(f"{path}, line {line + 1}: not readable as CSV ({e}).") from None


def _require_columns(path, where: str, record: dict, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in record]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; {Path(path).name} needs {list(columns)} "
                        f"(found {sorted(record)}).")


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def _id_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value if _text(v)]
    text = _text(value)
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except json.JSONDecodeError:
            pass
    return [v for v in re.split(r"[|\s]+", text) if v]


def _tag_list(value) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value if _text(v)]
    return [t.strip() for t in _text(value).split("|") if t.strip()]


def read_songs_table(path: str | Path, report: LoadReport) -> list[dict]:
    """Songs as contract records; duplicate ids keep the first row, rows without a song_id are skipped."""
    songs: dict[str, dict] = {}
    for where, record in read_rows(path):
        _require_columns(path, where, record, ("song_id", "title", "artist"))
        song_id = _text(record["song_id"])
        if not song_id:
            report.skip("songs without a song_id", where)
            continue
        if song_id in songs:
            report.skip("duplicate song ids (first row kept)", f"{where}: {song_id}")
            continue
        popularity = record.get("popularity")
        try:
            popularity = float(popularity) if _text(popularity) else 0.0
        except ValueError:
            popularity = math.nan
        if not math.isfinite(popularity):
            report.skip("song popularity that is not a finite number (set to 0)", f"{where}: {record['popularity']!r:.40}")
            popularity = 0.0
        tags = record.get("tags")
        songs[song_id] = {"song_id": song_id, "title": _text(record["title"]), "artist": _text(record["artist"]),
                          "album": _text(record.get("album")), "tags": _tag_list(tags),
                          "popularity": popularity}
    if not songs:
        raise DataError(f"{path}: holds no songs; a catalog needs at least one.")
    log.info("read %d songs from %s", len(songs), path)
    return list(songs.values())


def read_playlists_table(path: str | Path, known_song_ids: set[str], report: LoadReport) -> list[dict]:
    """Playlists (wide or long layout) as contract records; empty titles, unknown songs and repeated playlist ids
    are counted skips. Titles keep their raw form in `raw_title` when cleaning changed them."""
    entries: dict[str, dict] = {}
    long_layout = None
    for where, record in read_rows(path):
        if long_layout is None:
            long_layout = "song_id" in record and "song_ids" not in record
        _require_columns(path, where, record, ("playlist_id", "title", "song_id" if long_layout else "song_ids"))
        pid = _text(record["playlist_id"])
        if not pid:
            report.skip("playlist rows without a playlist_id", where)
            continue
        if long_layout:
            entry = entries.setdefault(pid, {"where": where, "raw_title": _text(record["title"]), "songs": []})
            position = record.get("position")
            try:
                position = float(position) if _text(position) else len(entry["songs"])
            except ValueError:
                report.skip("playlist rows with a position that is not a number (kept in file order)", where)
                position = len(entry["songs"])
            entry["songs"].append((position, len(entry["songs"]), _text(record["song_id"])))
        elif pid in entries:
            report.skip("duplicate playlist ids (first row kept)", f"{where}: {pid}")
        else:
            songs = _id_list(record["song_ids"])
            entries[pid] = {"where": where, "raw_title": _text(record["title"]),
                            "songs": [(i, i, s) for i, s in enumerate(songs)]}
    playlists = []
    for pid, entry in entries.items():
        title = clean_title(entry["raw_title"])
        if not title:
            report.skip("playlists with an empty title", entry["where"])
            continue
        song_ids = []
        for _, _, song_id in sorted(entry["songs"]):
            if song_id not in known_song_ids:
                report.skip("unknown song ids in playlists", f"{pid}: {song_id!r:.40}")
            elif song_id not in song_ids:
                song_ids.append(song_id)
        if not song_ids:
            report.skip("playlists with no known songs", entry["where"])
            continue
        record = {"playlist_id": pid, "title": title, "song_ids": song_ids}
        if title != entry["raw_title"]:
            record["raw_title"] = entry["raw_title"]
        playlists.append(record)
    if not playlists:
        raise DataError(f"{path}: no usable playlist (see the skipped counts above); a corpus needs playlists with a "
                        "title and known songs.")
    log.info("read %d playlists from %s (%s layout)", len(playlists), path, "long" if long_layout else "wide")
    return playlists


def _vector_of(record: dict, columns: list[str] | None):
    if columns is None:
        value = record["vector"]
        if isinstance(value, str):
            text = value.strip().strip("[]")
            return [float(v) for v in _SPLIT.split(text) if v]
        return value
    return [record[c] for c in columns]


def read_vectors_table(path: str | Path, name: str, known_song_ids: set[str] | None,
                       report: LoadReport) -> tuple[np.ndarray, np.ndarray]:
    """(song ids, float32 vectors) of one feature set. The dimension is the commonest row length; rows of another
    length, with NaN/inf or non-numbers, of unknown songs or repeating an id are counted and skipped."""
    ids, rows, seen = [], [], set()
    columns = None
    for where, record in read_rows(path):
        if "song_id" not in record:
            raise DataError(f"{where}: missing column 'song_id'; a vectors table needs song_id and a 'vector' column "
                            "(or one numeric column per dimension).")
        if columns is None and "vector" not in record:
            columns = [c for c in record if c != "song_id"]
            if not columns:
                raise DataError(f"{where}: no vector columns; add a 'vector' column or one column per dimension.")
        song_id = _text(record["song_id"])
        if song_id in seen:
            report.skip(f"{name}: repeated song ids (first row kept)", f"{where}: {song_id}")
            continue
        seen.add(song_id)
        if known_song_ids is not None and song_id not in known_song_ids:
            report.skip(f"{name}: vectors of unknown songs", f"{where}: {song_id}")
            continue
        try:
            arr = np.asarray(_vector_of(record, columns), dtype=np.float64)
        except (TypeError, ValueError, KeyError):
            report.skip(f"{name}: vectors that are not numbers", where)
            continue
        if arr.ndim != 1:
            report.skip(f"{name}: vectors that are not flat lists", where)
        elif not np.isfinite(arr).all():
            report.skip(f"{name}: vectors holding NaN or inf", where)
        else:
            ids.append(song_id)
            rows.append((where, arr))
    if not rows:
        raise DataError(f"{path}: no usable vector (see the skipped counts above).")
    dim = Counter(len(a) for _, a in rows).most_common(1)[0][0]
    keep = []
    for song_id, (where, arr) in zip(ids, rows):
        if len(arr) == dim:
            keep.append((song_id, arr))
        else:
            report.skip(f"{name}: vectors not of length {dim}", f"{where} (length {len(arr)})")
    log.info("read feature set '%s': %d vectors of dim %d from %s", name, len(keep), dim, path)
    return (np.array([s for s, _ in keep], dtype=str),
            np.stack([a for _, a in keep]).astype(np.float32))


def standardize_columns(vectors: np.ndarray) -> np.ndarray:
    """Each column to zero mean and unit variance over the rows (constant columns become 0): raw feature tables mix
    units (duration in ms beside shares in [0, 1]) and would otherwise be averaged and clustered by scale alone."""
    x = vectors.astype(np.float64)
    std = x.std(0)
    return ((x - x.mean(0)) / np.where(std > 0, std, 1.0)).astype(np.float32)
