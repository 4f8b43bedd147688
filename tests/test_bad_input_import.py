"""Bad input to the table and MPD importers (`python -m playlistgen.data.importers`): each case exits 2 with one
`error:` line naming the culprit, no traceback, and the output catalog exactly as it was before."""
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from playlistgen.data.importers import main as importers_main
from playlistgen.common.io import DataError

SONGS = "song_id,title,artist\ns1,Rain,Calm Keys\ns2,Storm,Calm Keys\ns3,Thrash,Skull Riot\ns4,Night,Lo Fi\n"
PLAYLISTS = "playlist_id,title,song_ids\np1,rain,s1|s2\np2,metal,s3|s4\np3,night,s4|s1\n"
VECTORS = "song_id,a,b\ns1,1,0\ns2,0.9,0.1\ns3,0,1\ns4,0.1,0.9\n"


def snapshot(folder):
    if not folder.exists():
        return None
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def good(tmp_path):
    """A catalog imported from good tables, and the paths of those tables."""
    (tmp_path / "songs.csv").write_text(SONGS)
    (tmp_path / "playlists.csv").write_text(PLAYLISTS)
    (tmp_path / "audio.csv").write_text(VECTORS)
    out = tmp_path / "catalog"
    assert run(tmp_path, out) == (0, "")
    return tmp_path, out


def run(tmp_path, out, songs="songs.csv", playlists="playlists.csv", vectors=("audio=audio.csv",), extra=()):
    import contextlib
    import io

    args = ["files", "--songs", str(tmp_path / songs), "--playlists", str(tmp_path / playlists),
            "--output", str(out), "--no-embed", *extra]
    for v in vectors:
        name, _, path = v.partition("=")
        args += ["--vectors", f"{name}={tmp_path / path}" if path else v]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = importers_main(args)
    return code, err.getvalue()


# (file to write, its content as bytes or text, words the error must hold)
CASES = {
    "songs_not_utf8": ("songs.csv", SONGS.encode() + "s5,Caf\xe9,X\n".encode("latin-1"), "songs.csv, line 6: not UTF-8"),
    "playlists_not_utf8": ("playlists.csv", b"playlist_id,title,song_ids\np1,\xff\xfe,s1|s2\n", "playlists.csv, line 2: not UTF-8"),
    "vectors_not_utf8": ("audio.csv", b"song_id,a,b\ns1,\x80,0\n", "audio.csv, line 2: not UTF-8"),
    "songs_row_missing_fields": ("songs.csv", SONGS + "s5,Only title\n", "songs.csv, line 6: 2 field(s) where the header has 3"),
    "playlists_row_missing_fields": ("playlists.csv", "playlist_id,title,song_ids\np1,rain\n", "playlists.csv, line 2: 2 field(s)"),
    "songs_row_extra_fields": ("songs.csv", SONGS + "s5,a,b,c,d\n", "songs.csv, line 6: more fields than the header"),
    "songs_unbalanced_quote": ("songs.csv", SONGS.replace("s2,Storm", 's2,"Storm') + "s5,a,b\n", "songs.csv, line 3: a quoted field runs over lines"),
    "playlists_unbalanced_quote_tsv": ("playlists.tsv", 'playlist_id\ttitle\tsong_ids\np1\t"rain\ts1|s2\np2\tmetal\ts3|s4\n', "playlists.tsv, line 2: a quoted field runs over"),
    "songs_empty_file": ("songs.csv", "", "songs.csv: empty; a table needs a header row"),
    "songs_header_only": ("songs.csv", "song_id,title,artist\n", "songs.csv: holds no songs"),
    "playlists_empty_file": ("playlists.csv", "", "playlists.csv: empty"),
    "playlists_header_only": ("playlists.csv", "playlist_id,title,song_ids\n", "no usable playlist"),
    "playlists_only_unknown_songs": ("playlists.csv", "playlist_id,title,song_ids\np1,rain,x1|x2\n", "no usable playlist"),
    "songs_missing_column": ("songs.csv", "song_id,name\ns1,x\n", "missing column(s) ['title', 'artist']"),
    "playlists_missing_column": ("playlists.csv", "playlist_id,name\np1,x\n", "playlists.csv, line 2: missing column"),
    "songs_unknown_format": ("songs.xlsx", "whatever", "unknown table format"),
    "songs_truncated_jsonl": ("songs.jsonl", '{"song_id": "s1", "title": "a", "artist": "b"}\n{"song_id": "s2", "ti', "songs.jsonl, line 2: not valid JSON"),
    "songs_jsonl_not_object": ("songs.jsonl", '["s1", "a", "b"]\n', "songs.jsonl, line 1: expected a JSON object"),
    "songs_parquet_garbage": ("songs.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
    "vectors_all_nan": ("audio.csv", "song_id,a,b\ns1,nan,0\ns2,nan,1\n", "audio.csv"),
    "vectors_no_known_song": ("audio.csv", "song_id,a,b\nx1,1,0\nx2,0,1\n", "audio.csv"),
    "vectors_not_numeric": ("audio.csv", "song_id,a,b\ns1,loud,0\ns2,soft,1\n", "audio.csv"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_table_is_one_error_and_the_catalog_is_untouched(good, case):
    tmp_path, out = good
    name, content, words = CASES[case]
    target = tmp_path / name
    target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    before = snapshot(out)
    kwargs = {"songs": name} if name.startswith("songs") else {"playlists": name} if name.startswith("playlists") \
        else {}
    code, err = run(tmp_path, out, **kwargs)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert words in err
    assert snapshot(out) == before


@pytest.mark.parametrize("vector", ["../../x=audio.csv", "/abs/x=audio.csv", ".hidden=audio.csv", "a b=audio.csv",
                                    "=audio.csv", "audio"])
def test_feature_set_names_cannot_leave_the_catalog(good, vector):
    tmp_path, out = good
    before = snapshot(out)
    code, err = run(tmp_path, out, vectors=(vector,))
    assert code == 2 and "Traceback" not in err and "--vectors" in err
    assert snapshot(out) == before
    assert not (tmp_path / "x.npz").exists() and not list(tmp_path.parent.glob("x.npz"))


@pytest.mark.parametrize("flags", [["--val-share", "1.5"], ["--test-share", "-0.1"],
                                   ["--val-share", "0.6", "--test-share", "0.5"], ["--collab-dim", "0"]])
def test_bad_numbers_are_refused_before_reading(good, flags):
    tmp_path, out = good
    before = snapshot(out)
    code, err = run(tmp_path, out, extra=flags)
    assert code == 2 and "Traceback" not in err and flags[-2] in err
    assert snapshot(out) == before


def test_left_out_options_come_from_params_yaml(good, tmp_path_factory):
    """--seed, the shares and --collab-dim default to params.yaml's values (the split the corpus stage makes);
    without a params file they must be given, and the error says so."""
    import argparse

    from playlistgen.data.importers import fill_defaults

    args = argparse.Namespace(params=str(Path(__file__).resolve().parent.parent / "params.yaml"), seed=None,
                              val_share=None, test_share=0.3, collab_dim=None, min_track_frequency=None)
    fill_defaults(args)
    params = yaml.safe_load((Path(__file__).resolve().parent.parent / "params.yaml").read_text())
    assert (args.seed, args.val_share, args.test_share, args.collab_dim, args.min_track_frequency) == (
        params["base"]["seed"], params["corpus"]["val_share"], 0.3, params["data"]["embed"]["collab_dim"],
        params["data"]["mpd"]["min_track_frequency"])
    missing = argparse.Namespace(params=str(tmp_path_factory.mktemp("x") / "params.yaml"), seed=None, val_share=0.1,
                                 test_share=0.1, collab_dim=8)
    with pytest.raises(DataError, match="no such params file; run from the project folder or pass --params"):
        fill_defaults(missing)


def test_missing_input_file_is_named(good):
    tmp_path, out = good
    code, err = run(tmp_path, out, songs="nope.csv")
    assert code == 2 and "nope.csv: file not found" in err


MPD_OK = {"info": {}, "playlists": [{"pid": 1, "name": "rain", "tracks": [
    {"track_uri": "spotify:track:1", "track_name": "a", "artist_name": "b", "album_name": "c"}]}]}


@pytest.mark.parametrize("content,words", [
    (b'{"info": {}, "playlists": [{"pid": 1, "na', "not valid JSON"),
    (json.dumps(MPD_OK).replace('"a"', '"\\u00e9"').encode().replace(b"\\u00e9", "\xe9".encode("latin-1")), "not UTF-8"),
    (b'{"playlists": {}}', "not an MPD slice"),
    (b'[1, 2, 3]', "not an MPD slice"),
    (json.dumps({"playlists": [{"name": "x", "tracks": []}]}).encode(), "needs 'pid'"),
    (json.dumps({"playlists": [{"pid": 1, "name": "x", "tracks": [{"track_name": "no uri"}]}]}).encode(),
     "no usable playlist"),
])
def test_bad_mpd_slice_is_one_error(tmp_path, content, words):
    import contextlib
    import io

    (tmp_path / "mpd.slice.0-999.json").write_bytes(content)
    out = tmp_path / "catalog"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = importers_main(["mpd", "--input", str(tmp_path / "mpd.slice.*.json"), "--output", str(out)])
    assert code == 2 and "Traceback" not in err.getvalue() and words in err.getvalue(), err.getvalue()
    assert not out.exists()


@pytest.mark.parametrize("case", ["truncated_array", "object_ids", "not_zip", "missing_arrays"])
def test_bad_feature_file_is_named_with_the_right_reason(tmp_path, case):
    import io
    import zipfile

    import numpy as np

    from playlistgen.data.catalog import LoadReport, load_feature_set
    from playlistgen.common.io import DataError

    path = tmp_path / "audio.npz"
    if case == "truncated_array":  # a whole zip whose .npy member is cut short
        buf = io.BytesIO()
        np.save(buf, np.ones((50, 8), dtype=np.float32))
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("vectors.npy", buf.getvalue()[:300])
            ids = io.BytesIO()
            np.save(ids, np.array([f"s{i}" for i in range(50)]))
            z.writestr("song_ids.npy", ids.getvalue())
        words = "truncated or corrupt"
    elif case == "object_ids":
        np.savez(path, song_ids=np.array(["s1", 2], dtype=object), vectors=np.ones((2, 3)))
        words = "without pickle"
    elif case == "not_zip":
        path.write_bytes(b"\x93NUMPY garbage")
        words = "not a readable .npz"
    else:
        np.savez(path, ids=np.array(["s1"]), vecs=np.ones((1, 3)))
        words = "needs arrays 'song_ids' and 'vectors'"
    with pytest.raises(DataError, match=words):
        load_feature_set(path, {"s1"}, LoadReport())
