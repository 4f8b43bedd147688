"""Plain CSV/TSV/JSONL/Parquet tables into the catalog, with defects counted and structural errors named."""
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from playlistgen.data.catalog import LoadReport, load_catalog
from playlistgen.data.importers import import_files_catalog, main as importers_main
from playlistgen.common.io import DataError
from playlistgen.data.tables import read_playlists_table, read_songs_table, read_vectors_table

SONGS_CSV = """song_id,title,artist,album,tags,popularity
s1,Rain on Glass,Calm Keys,Quiet,piano|rainy day,10
s2,"Sunday, Slowly",Calm Keys,Quiet,piano,7
s3,Thrash Inferno,Skull Riot,,metal,
s1,Duplicate,Someone,,,3
,No id,Nobody,,,1
s4,Night Study,Lo Fi Desk,Notes,lofi|study,nan
"""


def write_songs(tmp_path):
    path = tmp_path / "songs.csv"
    path.write_text(SONGS_CSV)
    return path


def test_songs_csv_with_defects_counted(tmp_path):
    report = LoadReport()
    songs = read_songs_table(write_songs(tmp_path), report)
    assert [s["song_id"] for s in songs] == ["s1", "s2", "s3", "s4"]
    assert songs[0]["tags"] == ["piano", "rainy day"] and songs[0]["popularity"] == 10.0
    assert songs[1]["title"] == "Sunday, Slowly" and songs[2]["popularity"] == 0.0
    assert report.skipped == {"duplicate song ids (first row kept)": 1, "songs without a song_id": 1,
                              "song popularity that is not a finite number (set to 0)": 1}
    assert "songs.csv, line 5" in report.examples["duplicate song ids (first row kept)"][0]


def test_missing_column_and_ragged_row_name_file_and_line(tmp_path):
    path = tmp_path / "songs.csv"
    path.write_text("song_id,name\ns1,x\n")
    with pytest.raises(DataError, match=r"songs.csv, line 2: missing column\(s\) \['title', 'artist'\]"):
        read_songs_table(path, LoadReport())
    path.write_text("song_id,title,artist\ns1,a,b\ns2,a,b,c\n")
    with pytest.raises(DataError, match="songs.csv, line 3: more fields than the header"):
        read_songs_table(path, LoadReport())
    (tmp_path / "songs.xlsx").write_text("")
    with pytest.raises(DataError, match="unknown table format"):
        read_songs_table(tmp_path / "songs.xlsx", LoadReport())
    (tmp_path / "songs.jsonl").write_text('{"song_id": "s1", "title": "a", "artist": "b"}\n{"song_id": "s2", "ti')
    with pytest.raises(DataError, match="songs.jsonl, line 2: not valid JSON"):
        read_songs_table(tmp_path / "songs.jsonl", LoadReport())


def test_wide_and_long_playlists_agree(tmp_path):
    known = {"s1", "s2", "s3", "s4"}
    wide = tmp_path / "playlists.tsv"
    wide.write_text("playlist_id\ttitle\tsong_ids\n"
                    "p1\tRainy  Sunday\ts1|s2|ghost|s1\n"
                    "p2\t   \ts3\n"
                    "p1\tagain\ts4\n"
                    "p3\tmetal\tghost\n"
                    "p4\tstudy night\ts4 s1\n")
    report = LoadReport()
    out = read_playlists_table(wide, known, report)
    assert out == [{"playlist_id": "p1", "title": "Rainy Sunday", "song_ids": ["s1", "s2"], "raw_title": "Rainy  Sunday"},
                   {"playlist_id": "p4", "title": "study night", "song_ids": ["s4", "s1"]}]
    assert report.skipped == {"duplicate playlist ids (first row kept)": 1, "playlists with an empty title": 1,
                              "unknown song ids in playlists": 2, "playlists with no known songs": 1}
    long = tmp_path / "entries.jsonl"
    long.write_text("\n".join(json.dumps(r) for r in [
        {"playlist_id": "p4", "title": "study night", "song_id": "s1", "position": 2},
        {"playlist_id": "p1", "title": "Rainy  Sunday", "song_id": "s2", "position": 1},
        {"playlist_id": "p1", "title": "Rainy  Sunday", "song_id": "s1", "position": 0},
        {"playlist_id": "p4", "title": "study night", "song_id": "s4", "position": 1},
    ]) + "\n")
    assert read_playlists_table(long, known, LoadReport()) == out[::-1]  # first-seen playlist order


def test_vectors_from_parquet_list_column_and_csv_columns(tmp_path):
    known = {"s1", "s2", "s3", "s4"}
    pq.write_table(pa.table({"song_id": ["s1", "s2", "s3", "s4", "zz", "s1"],
                             "vector": [[1.0, 0, 0], [0, 1.0, 0], [0, float("nan"), 1], [1.0, 1.0], [0, 0, 1.0],
                                        [9.0, 9, 9]]}), tmp_path / "audio.parquet")
    report = LoadReport()
    ids, x = read_vectors_table(tmp_path / "audio.parquet", "audio", known, report)
    assert ids.tolist() == ["s1", "s2"] and x.dtype == np.float32 and x.shape == (2, 3)
    assert report.skipped == {"audio: vectors holding NaN or inf": 1, "audio: vectors not of length 3": 1,
                              "audio: vectors of unknown songs": 1, "audio: repeated song ids (first row kept)": 1}
    (tmp_path / "lyrics.csv").write_text("song_id,d0,d1\ns1,0.5,0.5\ns2,x,1\ns3,1,0\n")
    report = LoadReport()
    ids, x = read_vectors_table(tmp_path / "lyrics.csv", "lyrics", known, report)
    assert ids.tolist() == ["s1", "s3"] and x.tolist() == [[0.5, 0.5], [1.0, 0.0]]
    assert report.skipped == {"lyrics: vectors that are not numbers": 1}
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(DataError, match="bad.parquet: not a readable Parquet file"):
        read_vectors_table(tmp_path / "bad.parquet", "bad", known, LoadReport())


def test_files_import_writes_a_loadable_catalog_and_keeps_a_good_one_on_error(tmp_path):
    songs = write_songs(tmp_path)
    (tmp_path / "playlists.csv").write_text("playlist_id,title,song_ids\np1,rain,s1|s2\np2,metal,s3|s4\n")
    (tmp_path / "audio.jsonl").write_text("\n".join(json.dumps({"song_id": s, "vector": v}) for s, v in [
        ("s1", [1, 0]), ("s2", [0.9, 0.1]), ("s3", [0, 1]), ("s4", "0.1 0.9")]) + "\n")
    out = tmp_path / "catalog"
    assert importers_main(["files", "--songs", str(songs), "--playlists", str(tmp_path / "playlists.csv"),
                           "--vectors", f"audio={tmp_path / 'audio.jsonl'}", "--output", str(out), "--no-embed"]) == 0
    catalog = load_catalog(out)
    assert sorted(catalog.songs) == ["s1", "s2", "s3", "s4"] and len(catalog.playlists) == 2
    audio = catalog.features["audio"].vectors
    # standardised per column: [1, 0.9, 0, 0.1] has mean 0.5 and std 0.4528
    assert audio.shape == (4, 2) and np.allclose(audio.mean(0), 0, atol=1e-6) and np.allclose(audio.std(0), 1)
    assert audio[0, 0] == pytest.approx(0.5 / np.std([1, 0.9, 0, 0.1]), rel=1e-5)
    assert set(catalog.features) == {"audio"}
    before = (out / "songs.jsonl").read_bytes()
    (tmp_path / "broken.csv").write_text("playlist_id,title\np1,rain\n")
    with pytest.raises(DataError, match="missing column"):
        import_files_catalog(songs, tmp_path / "broken.csv", {}, out, 2, "ppmi", 0, 0.05, 0.1)
    assert (out / "songs.jsonl").read_bytes() == before
    assert importers_main(["files", "--songs", str(songs), "--playlists", str(tmp_path / "playlists.csv"),
                           "--vectors", "audio", "--output", str(out)]) == 2


def test_data_stage_reads_files_source_and_embeds_when_no_vectors(tmp_path, tiny_world):
    """params.yaml wiring: data.source files with vectors {} gets a collab feature set from training playlists."""
    import yaml

    from helpers import ROOT
    from stages.data import main as data_stage

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    rows = ["song_id,title,artist,popularity"] + [
        f"{s['song_id']},{s['title'].replace(',', ' ')},{s['artist'].replace(',', ' ')},{s.get('popularity', 0)}"
        for s in tiny_world.songs]
    (tmp_path / "songs.csv").write_text("\n".join(rows) + "\n")
    pq.write_table(pa.table({key: [p[key] for p in tiny_world.playlists] for key in ("playlist_id", "title", "song_ids")}),
                   tmp_path / "playlists.parquet")
    params["base"]["raw_dir"] = str(tmp_path / "raw")
    params["data"].update(source="files", files={"songs": str(tmp_path / "songs.csv"),
                                                 "playlists": str(tmp_path / "playlists.parquet"), "vectors": {},
                                                 "standardize": True},
                          embed={"collab_dim": 8, "collab_method": "ppmi", "text_features": False, "context_features": False,
                                 "with_tables": True})
    data_stage(params)
    catalog = load_catalog(tmp_path / "raw")
    assert len(catalog.playlists) == len(tiny_world.playlists)
    assert catalog.features["collab"].dim == 8 and len(catalog.features["collab"].song_ids) > 100
    # a given vector table (raw units: one column in thousands) comes standardised, beside the embedded set
    rows = ["song_id,danceability,duration_ms"] + [f"{s['song_id']},{i % 7 / 7},{180000 + 1000 * (i % 13)}"
                                                   for i, s in enumerate(tiny_world.songs)]
    (tmp_path / "audio.csv").write_text("\n".join(rows) + "\n")
    params["data"]["files"]["vectors"] = {"audio": str(tmp_path / "audio.csv")}
    data_stage(params)
    catalog = load_catalog(tmp_path / "raw")
    assert set(catalog.features) == {"audio", "collab"}
    assert np.allclose(catalog.features["audio"].vectors.std(0), 1, atol=1e-4)
