"""Importers into the data contract (catalog.py): the Spotify Million Playlist Dataset, TAAC-style multimodal
embedding directories (`creative_emb/`, design document 002) and plain tables (tables.py).

    python -m playlistgen.data.importers mpd --input 'mpd/mpd.slice.*.json' --output data/mpd [--min-track-frequency 2]
    python -m playlistgen.data.importers creative-emb --input creative_emb --output data/catalog --feature-ids 81,82
        [--trust-pickle]
    python -m playlistgen.data.importers files --songs songs.csv --playlists playlists.csv [--vectors audio=a.parquet]
        --output data/catalog

Slices are read one at a time (a slice is ~30 MB; the full set is 1,000). Defects that can be skipped are counted and
summarised; a structural defect (not a slice, a record without a required key) is one error naming file and record.

Over 300 lines because the three importers share one command line, the split, the training-playlist popularity
and the embedded text/collab feature sets; each source's reader is a function of its own.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from playlistgen.data.catalog import FEATURES_DIR, PLAYLISTS_FILE, SONGS_FILE, LoadReport, Playlist
from playlistgen.common.io import DataError, save_npz, write_jsonl

log = logging.getLogger(__name__)

_PUNCTUATION = re.compile(r"[^\w\s]")


def normalize_mpd_title(name: str) -> str:
    """The RecSys Challenge 2018 baseline's normalisation: lower case, punctuation removed, spaces collapsed.
    A title that is only punctuation or emoji keeps its lower-cased raw form rather than becoming empty."""
    cleaned = " ".join(_PUNCTUATION.sub(" ", name.lower()).split())
    return cleaned or " ".join(name.lower().split())


def read_mpd(paths: list[str], report: LoadReport, min_track_frequency: int,
             counted=None) -> tuple[list[dict], list[dict]]:
    """Songs (deduplicated by track URI, popularity = playlists holding it; import_mpd_catalog narrows that to
    training playlists) and playlists from MPD slices.

    `counted(playlist_id)`: whether a playlist counts towards `min_track_frequency` (default: all). Only counted
    playlists lose their rare tracks; the others (validation and test) keep every track as their truth, so what is
    held out neither shapes the filter nor is shaped by it."""
    counted = counted or (lambda _pid: True)
    songs: dict[str, dict] = {}
    count: Counter = Counter()
    playlists = []
    # in the order of their numbers (mpd.slice.2000-2999 before mpd.slice.10000-10999), so playlists come in pid order
    files = sorted({p for pattern in paths for p in glob.glob(str(pattern))},
                   key=lambda f: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", f)])
    if not files:
        raise DataError(f"no MPD slice matches {paths}; put mpd.slice.*.json files there or fix data.mpd.paths.")
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); the slice is truncated or "
                            "corrupt, download it again.") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); MPD slices are UTF-8 JSON, "
                            "download it again.") from None
        if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
            raise DataError(f"{path}: not an MPD slice (expected an object with a 'playlists' list).")
        for n, p in enumerate(data["playlists"]):
            where = f"{path}, playlists[{n}]"
            if not isinstance(p, dict) or "pid" not in p or not isinstance(p.get("tracks", []), list):
                raise DataError(f"{where}: needs 'pid' and a list 'tracks'.")
            name = p.get("name")
            if not isinstance(name, str) or not name.strip():
                report.skip("MPD playlists without a name", where)
                continue
            track_ids, seen = [], set()
            for t, track in enumerate(p.get("tracks", [])):
                uri = track.get("track_uri") if isinstance(track, dict) else None
                if not isinstance(uri, str) or not uri:
                    report.skip("MPD tracks without a track_uri", f"{where}.tracks[{t}]")
                    continue
                song = songs.get(uri)
                if song is None:
                    song = songs[uri] = {"song_id": uri, "title": str(track.get("track_name", "")),
                                         "artist": str(track.get("artist_name", "")),
                                         "album": str(track.get("album_name", ""))}
                uri = song["song_id"]  # one string per distinct track, not one per entry: memory grows with tracks
                if uri not in seen:
                    seen.add(uri)
                    track_ids.append(uri)
            if counted(str(p["pid"])):
                count.update(track_ids)
            playlists.append({"playlist_id": str(p["pid"]), "title": normalize_mpd_title(name), "raw_title": name,
                              "song_ids": track_ids})
        del data  # the parsed slice: only what was kept above stays
        log.info("read %s: %d playlists so far, %d distinct tracks", path, len(playlists), len(songs))
    keep = {uri for uri, c in count.items() if c >= min_track_frequency}
    out_playlists, referenced = [], set()
    for p in playlists:
        kept = [s for s in p["song_ids"] if s in keep] if counted(p["playlist_id"]) else p["song_ids"]
        if len(kept) < len(p["song_ids"]):
            for s in p["song_ids"]:
                if s not in keep:
                    report.skip(f"tracks in fewer than {min_track_frequency} playlists", s)
        if kept:
            out_playlists.append({**p, "song_ids": kept})
            referenced.update(kept)
        else:
            report.skip("MPD playlists left empty", p["playlist_id"])
    out_songs = [{**songs[uri], "popularity": float(count[uri])} for uri in songs if uri in referenced]
    return out_songs, out_playlists


def _feature_sources(directory: Path, feature_id: str) -> tuple[int, Path]:
    """(dimension, path) of emb_<id>_<dim>/ or emb_<id>_<dim>.pkl under a creative_emb directory."""
    matches = sorted(directory.glob(f"emb_{feature_id}_*"))
    if not matches:
        raise DataError(f"{directory}: no emb_{feature_id}_<dim> folder or .pkl; available: "
                        f"{sorted(p.name for p in directory.glob('emb_*'))}.")
    path = matches[0]
    try:
        dim = int(path.name.split("_")[2].split(".")[0])
    except (IndexError, ValueError):
        raise DataError(f"{path}: name must be emb_<feature id>_<dimension>.") from None
    return dim, path


def read_creative_emb(directory: str | Path, feature_id: str, report: LoadReport,
                      trust_pickle: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of one feature id; rows of the wrong length or holding NaN/inf are counted and skipped."""
    directory = Path(directory)
    dim, path = _feature_sources(directory, feature_id)
    pairs: dict[str, list] = {}
    if path.suffix == ".pkl":
        if not trust_pickle:
            raise DataError(f"{path}: a pickle runs code when it is loaded; pass --trust-pickle only if you trust "
                            "where it came from, or convert it to JSON lines.")
        import pickle

        log.warning("loading %s with pickle (--trust-pickle was given)", path)
        with open(path, "rb") as f:
            data = pickle.load(f)
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected a dict of id -> vector, got {type(data).__name__}.")
        pairs = {str(k): v for k, v in data.items()}
    else:
        for part in sorted(p for p in path.iterdir() if p.is_file()):
            with open(part, encoding="utf-8") as f:
                for line_no, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                        pairs[str(record["anonymous_cid"])] = record["emb"]
                    except (json.JSONDecodeError, KeyError, TypeError):
                        report.skip(f"feature {feature_id}: malformed lines", f"{part.name}:{line_no}")
    ids, rows = [], []
    for item, vector in pairs.items():
        try:
            arr = np.asarray(vector, dtype=np.float32)
        except (TypeError, ValueError):
            report.skip(f"feature {feature_id}: vectors that are not numbers", item)
            continue
        if arr.shape != (dim,):
            report.skip(f"feature {feature_id}: vectors not of length {dim}", item)
        elif not np.isfinite(arr).all():
            report.skip(f"feature {feature_id}: vectors holding NaN or inf", item)
        else:
            ids.append(item)
            rows.append(arr)
    log.info("loaded feature %s: %d items of dim %d from %s", feature_id, len(ids), dim, path)
    return np.array(ids, dtype=str), np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)


def write_catalog(out_dir: str | Path, songs: list[dict] | None, playlists: list[dict] | None,
                  features: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Write the catalog; everything is checked first, so a refused import leaves the folder as it was."""
    from playlistgen.common.params import safe_name

    out_dir = Path(out_dir)
    if songs is not None and not songs:
        raise DataError("no usable songs: every row was skipped or the songs file is empty (see the skipped counts "
                        "above); nothing was written.")
    if playlists is not None and not playlists:
        raise DataError("no usable playlists: every row was skipped or the playlists file is empty (see the skipped "
                        "counts above); nothing was written.")
    for name in features:
        safe_name(name, "feature set name")
    if songs is not None:
        write_jsonl(out_dir / SONGS_FILE, songs)
    if playlists is not None:
        write_jsonl(out_dir / PLAYLISTS_FILE, playlists)
    for name, (ids, vectors) in features.items():
        save_npz(out_dir / FEATURES_DIR / f"{name}.npz", song_ids=np.asarray(ids, dtype=str), vectors=vectors)


def training_playlists(playlists: list[dict], seed: int, val_share: float, test_share: float) -> list[Playlist]:
    """The playlists the corpus stage will put in its training split (the split is a seeded hash of the id)."""
    from playlistgen.data.corpus import split_of

    return [Playlist(p["playlist_id"], p["title"], p["song_ids"]) for p in playlists
            if split_of(p["playlist_id"], seed, val_share, test_share) == "train"]


def set_training_popularity(songs: list[dict], train: list[Playlist]) -> None:
    """popularity = training playlists holding the song. Counting every playlist would leak the test playlists
    into the popularity baseline and into the popular-first order of songs within a cluster."""
    count = Counter(s for p in train for s in set(p.song_ids))
    for song in songs:
        song["popularity"] = float(count[song["song_id"]])


def embed_features(songs: list[dict], train: list[Playlist], collab_dim: int, collab_method: str, seed: int,
                   text_features: bool, context_features: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Feature sets for a catalog without song vectors: `collab` (PPMI + SVD of co-occurrence in the training
    playlists only, so evaluation does not leak), with `text_features` a `text` set (sentence embeddings of
    title, artist, album), and with `context_features` the context sets `title_context` (the titles of the
    training playlists holding a song) and `artist_collab` (artist co-occurrence), all of one dimension so that
    they can be averaged (quantize.features picks and weighs them)."""
    from playlistgen.data.embed import artist_collaborative_vectors, collaborative_vectors, text_vectors, title_context_vectors

    ids, vectors = collaborative_vectors(train, collab_dim, seed, collab_method)
    features = {"collab": (np.array(ids), vectors)}
    if text_features:
        text_ids, text = text_vectors(songs, collab_dim, seed)
        features["text"] = (np.array(text_ids), text)
    if context_features:
        set_ids, set_vectors = title_context_vectors(songs, train, collab_dim, seed)
        features["title_context"] = (np.array(set_ids), set_vectors)
        set_ids, set_vectors = artist_collaborative_vectors(songs, train, collab_dim, seed, collab_method)
        features["artist_collab"] = (np.array(set_ids), set_vectors)
    return features


def import_mpd_catalog(paths: list[str], out_dir: str | Path, min_track_frequency: int, collab_dim: int,
                       collab_method: str, seed: int,
                       val_share: float, test_share: float, text_features: bool = False,
                       context_features: bool = False) -> LoadReport:
    """MPD slices -> a catalog directory with the embedded feature sets (see embed_features)."""
    report = LoadReport()
    from playlistgen.data.corpus import split_of

    songs, playlists = read_mpd(paths, report, min_track_frequency,
                                counted=lambda pid: split_of(pid, seed, val_share, test_share) == "train")
    if not playlists:
        report.log()
        raise DataError(f"{paths}: no usable playlist (every one was skipped: see the counts above); nothing was "
                        "written.")
    train = training_playlists(playlists, seed, val_share, test_share)
    set_training_popularity(songs, train)
    features = embed_features(songs, train, collab_dim, collab_method, seed, text_features, context_features)
    write_catalog(out_dir, songs, playlists, features)
    report.log()
    log.info("wrote %d songs, %d playlists, %d collaborative vectors to %s", len(songs), len(playlists),
             len(features["collab"][0]), out_dir)
    return report


def import_files_catalog(songs_path: str | Path, playlists_path: str | Path, vectors: dict[str, str],
                         out_dir: str | Path, collab_dim: int, collab_method: str, seed: int, val_share: float,
                         test_share: float,
                         text_features: bool = False, standardize: bool = True, embed: bool = True,
                         context_features: bool = False) -> LoadReport:
    """Plain CSV/TSV/JSONL/Parquet tables (tables.py) -> a catalog directory. `vectors` maps a feature set name to
    its table; each numeric column is standardised (zero mean, unit variance over the songs) unless `standardize`
    is off, so that raw features of different units (duration_ms beside danceability) weigh alike. With `embed`
    (or when no table is given), the `collab` and (with `text_features`) `text` sets are embedded from the
    playlists and song text as for MPD, beside the given ones; `quantize.features` picks which sets are used."""
    from playlistgen.data.tables import read_playlists_table, read_songs_table, read_vectors_table, standardize_columns

    report = LoadReport()
    songs = read_songs_table(songs_path, report)
    known = {s["song_id"] for s in songs}
    playlists = read_playlists_table(playlists_path, known, report)
    train = training_playlists(playlists, seed, val_share, test_share)
    if not any(s["popularity"] for s in songs):
        log.info("no song popularity given: using the count of training playlists holding each song")
        set_training_popularity(songs, train)
    features = {}
    for name, path in vectors.items():
        ids, table = read_vectors_table(path, name, known, report)
        features[name] = (ids, standardize_columns(table) if standardize else table)
    if embed or not vectors:
        clashes = sorted(set(features) & {"collab", "text", "title_context", "artist_collab"})
        if clashes:
            raise DataError(f"vector tables named {clashes} clash with the embedded feature sets; rename them "
                            "(e.g. --vectors audio=...) or turn embedding off (data.embed.with_tables: false).")
        features.update(embed_features(songs, train, collab_dim, collab_method, seed, text_features, context_features))
    write_catalog(out_dir, songs, playlists, features)
    report.log()
    log.info("wrote %d songs, %d playlists, feature sets %s to %s", len(songs), len(playlists),
             {n: len(ids) for n, (ids, _) in features.items()}, out_dir)
    return report


def _named_paths(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise DataError(f"--vectors {item!r}: write NAME=PATH, e.g. audio=audio.parquet.")
        from playlistgen.common.params import safe_name

        out[safe_name(name, "--vectors")] = path
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Import data into the playlistgen catalog format.")
    sub = parser.add_subparsers(dest="source", required=True)
    mpd = sub.add_parser("mpd", help="Spotify Million Playlist Dataset slices")
    mpd.add_argument("--input", nargs="+", required=True, help="slice files or globs (quote them)")
    mpd.add_argument("--output", required=True)
    mpd.add_argument("--min-track-frequency", type=int, default=None,
                     help="default: data.mpd.min_track_frequency of --params")
    files = sub.add_parser("files", help="plain CSV/TSV/JSONL/Parquet tables of songs, playlists and vectors")
    files.add_argument("--songs", required=True)
    files.add_argument("--playlists", required=True)
    files.add_argument("--vectors", action="append", default=[], metavar="NAME=PATH",
                       help="a feature set table; repeat for several (each column standardised)")
    files.add_argument("--raw-vectors", action="store_true", help="keep vector columns as given (no standardising)")
    files.add_argument("--no-embed", action="store_true",
                       help="only the given vector tables (by default collab/text sets are embedded beside them)")
    files.add_argument("--output", required=True)
    for p in (mpd, files):  # defaults from the project's params.yaml: the corpus stage must split as the import did
        p.add_argument("--params", default="params.yaml", help="where the defaults below come from")
        p.add_argument("--collab-dim", type=int, default=None, help="default: data.embed.collab_dim")
        p.add_argument("--collab-method", choices=["ppmi", "svd"], default=None,
                       help="default: data.embed.collab_method (svd for MPD-size catalogs)")
        p.add_argument("--seed", type=int, default=None, help="default: base.seed")
        p.add_argument("--val-share", type=float, default=None, help="default: corpus.val_share")
        p.add_argument("--test-share", type=float, default=None, help="default: corpus.test_share")
        p.add_argument("--text-features", action="store_true", help="also a `text` set from song titles/artists")
        p.add_argument("--context-features", action="store_true",
                       help="also the context sets title_context and artist_collab (from the training playlists)")
    emb = sub.add_parser("creative-emb", help="creative_emb/ directories of per-feature-id embeddings")
    emb.add_argument("--input", required=True)
    emb.add_argument("--output", required=True, help="catalog directory; features/<id>.npz are written there")
    emb.add_argument("--feature-ids", required=True, help="comma-separated, e.g. 81,82")
    emb.add_argument("--trust-pickle", action="store_true", help="allow emb_<id>_<dim>.pkl files (pickle runs code)")
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks for errors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from playlistgen.common.entry import guarded

    return guarded(run_import, args, verbose=args.verbose)


DEFAULTS = {"seed": ("base", "seed"), "val_share": ("corpus", "val_share"), "test_share": ("corpus", "test_share"),
            "collab_dim": ("data", "embed", "collab_dim"), "collab_method": ("data", "embed", "collab_method"),
            "min_track_frequency": ("data", "mpd", "min_track_frequency")}


def fill_defaults(args) -> None:
    """Options left out take their value from --params (validated there), so that the split and the collab vectors
    of an import agree with the pipeline's; given ones are checked here."""
    missing = [name for name in DEFAULTS if getattr(args, name, 0) is None]
    if missing:
        from playlistgen.common.params import load

        params = load(args.params)
        for name in missing:
            value = params
            for key in DEFAULTS[name]:
                value = value[key]
            setattr(args, name, value)
    if not (0 <= args.val_share < 1 and 0 <= args.test_share < 1 and args.val_share + args.test_share < 1):
        raise DataError("--val-share and --test-share must be in [0, 1) and sum below 1.")
    if args.collab_dim < 2:
        raise DataError("--collab-dim must be at least 2.")
    if getattr(args, "min_track_frequency", 1) < 1:
        raise DataError("--min-track-frequency must be at least 1.")


def run_import(args) -> int:
    if args.source in ("mpd", "files"):
        fill_defaults(args)
    if args.source == "mpd":
        import_mpd_catalog(args.input, args.output, args.min_track_frequency, args.collab_dim, args.collab_method,
                           args.seed, args.val_share, args.test_share, args.text_features, args.context_features)
    elif args.source == "files":
        import_files_catalog(args.songs, args.playlists, _named_paths(args.vectors), args.output,
                             args.collab_dim, args.collab_method, args.seed, args.val_share, args.test_share,
                             args.text_features, standardize=not args.raw_vectors, embed=not args.no_embed,
                             context_features=args.context_features)
    else:
        report = LoadReport()
        feats = {f: read_creative_emb(args.input, f, report, args.trust_pickle)
                 for f in args.feature_ids.split(",")}
        write_catalog(args.output, None, None, feats)
        report.log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
