import json

import numpy as np
import pytest

from playlistgen.data.catalog import LoadReport, clean_title, load_catalog, load_feature_set, load_playlists, load_songs
from playlistgen.common.io import DataError


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_synthetic_catalog_loads_with_counts(catalog_dir):
    catalog = load_catalog(catalog_dir)
    assert len(catalog.songs) == 1200
    assert len(catalog.playlists) == 300
    assert set(catalog.features) == {"audio", "lyrics"}
    assert catalog.features["audio"].vectors.dtype == np.float32
    # some songs lack a set, as the contract allows
    assert len(catalog.features["lyrics"].song_ids) < 1200


def test_duplicate_song_id_names_file_and_line(tmp_path):
    path = tmp_path / "songs.jsonl"
    write_lines(path, ['{"song_id": "a", "title": "x", "artist": "y"}', '{"song_id": "a", "title": "z", "artist": "y"}'])
    with pytest.raises(DataError, match=r"songs.jsonl, line 2: duplicate song_id 'a'"):
        load_songs(path)


def test_malformed_json_line_is_one_clear_error(tmp_path):
    path = tmp_path / "songs.jsonl"
    write_lines(path, ['{"song_id": "a", "title": "x", "artist": "y"}', '{"song_id": "b", "title": '])
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        load_songs(path)


def test_missing_key_and_wrong_type(tmp_path):
    path = tmp_path / "songs.jsonl"
    write_lines(path, ['{"song_id": "a", "artist": "y"}'])
    with pytest.raises(DataError, match="missing required key 'title'"):
        load_songs(path)
    write_lines(path, ['{"song_id": [1], "title": "t", "artist": "y"}'])
    with pytest.raises(DataError, match=r"line 1: 'song_id' must be str or int, got list"):
        load_songs(path)
    write_lines(path, ['{"song_id": "a", "title": 5, "artist": "y"}'])
    with pytest.raises(DataError, match=r"'title' must be str, got int"):
        load_songs(path)
    write_lines(path, ['{"song_id": "a", "title": "t", "artist": "y", "popularity": "high"}'])
    with pytest.raises(DataError, match="'popularity' must be a finite number"):
        load_songs(path)


def test_playlists_skip_unknown_songs_and_empty_titles(tmp_path):
    path = tmp_path / "playlists.jsonl"
    write_lines(path, [
        json.dumps({"playlist_id": 1, "title": "rainy piano", "song_ids": ["a", "ghost", "b"]}),
        json.dumps({"playlist_id": 2, "title": "   \t ", "song_ids": ["a"]}),
        json.dumps({"playlist_id": 3, "title": "only ghosts", "song_ids": ["ghost"]}),
    ])
    report = LoadReport()
    playlists = load_playlists(path, {"a": 1, "b": 1}, report)
    assert [p.song_ids for p in playlists] == [["a", "b"]]
    assert report.skipped == {"unknown song ids in playlists": 2, "playlists with an empty title": 1,
                              "playlists with no known songs": 1}


def test_feature_rows_with_nan_or_unknown_ids_are_skipped(tmp_path):
    path = tmp_path / "audio.npz"
    vectors = np.ones((3, 4), dtype=np.float32)
    vectors[1, 2] = np.nan
    np.savez(path, song_ids=np.array(["a", "b", "zzz"]), vectors=vectors)
    report = LoadReport()
    fs = load_feature_set(path, {"a": 1, "b": 1}, report)
    assert fs.song_ids == ["a"]
    assert report.skipped == {"audio: vectors holding NaN or inf": 1, "audio: vectors of unknown songs": 1}


def test_feature_file_defects(tmp_path):
    path = tmp_path / "audio.npz"
    np.savez(path, ids=np.array(["a"]), vectors=np.ones((1, 4)))
    with pytest.raises(DataError, match="needs arrays 'song_ids' and 'vectors'"):
        load_feature_set(path, {"a": 1}, LoadReport())
    np.savez(path, song_ids=np.array(["a", "b"]), vectors=np.ones((3, 4)))
    with pytest.raises(DataError, match="one row per song id"):
        load_feature_set(path, {"a": 1}, LoadReport())
    np.savez(path, song_ids=np.array(["a", "a"]), vectors=np.ones((2, 4)))
    with pytest.raises(DataError, match="appears twice"):
        load_feature_set(path, {"a": 1}, LoadReport())
    path.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_feature_set(path, {"a": 1}, LoadReport())
    with pytest.raises(DataError, match="not found"):
        load_feature_set(tmp_path / "lyrics.npz", {"a": 1}, LoadReport())


def test_clean_title_strips_control_characters_keeps_languages():
    assert clean_title("  rainy\x00 sunday\t\npiano ") == "rainy sunday piano"
    assert clean_title("深夜学习 🎧") == "深夜学习 🎧"
    assert clean_title("\x07\x1b") == ""
