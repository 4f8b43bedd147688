"""Bad input and faults at inference: the CLI's arguments and titles, broken or tampered bundles, add-songs and
semantic-ID regeneration, exports over the wrong folder. Each ends in one `error:` line (or a clean result), no
traceback, and no file lost."""
import contextlib
import io
import json
import shutil
import subprocess
import sys

import pytest

from playlistgen.serving.cli import admin_main, main as cli_main, render
from playlistgen.common.io import DataError


@pytest.fixture(scope="module")
def bundle(tiny_project):
    return tiny_project / "data/bundle"


@pytest.fixture
def copy(bundle, tmp_path):
    dest = tmp_path / "bundle"
    shutil.copytree(bundle, dest)
    return dest


def call(main, args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:  # argparse refusing an argument
            code = e.code
    return code, out.getvalue(), err.getvalue()


ARGS = [["-n", "0"], ["-n", "-1"], ["-n", "501"], ["-n", "abc"], ["--beams", "0"], ["--beams", "-3"],
        ["--beams", "17"], ["--temperature", "0"], ["--temperature", "-1"], ["--temperature", "inf"],
        ["--temperature", "nan"], ["--temperature", "1e9"], ["--format", "xml"], ["--seed", "x"]]


@pytest.mark.parametrize("args", ARGS, ids=[" ".join(a) for a in ARGS])
def test_bad_arguments_are_refused_before_loading(bundle, args):
    code, out, err = call(cli_main, ["rain", "--bundle", str(bundle), *args])
    assert code == 2 and "Traceback" not in err and args[0] in err


def corrupt_truncate(b):
    p = b / "model" / "model.safetensors"
    p.write_bytes(p.read_bytes()[:1000])


def corrupt_flip(b):
    p = b / "model" / "model.safetensors"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def corrupt_config(b):
    (b / "model" / "config.json").write_text("{not json")


def corrupt_tokenizer(b):
    (b / "tokenizer" / "tokenizer.json").unlink()


def corrupt_clusters(b):
    (b / "clusters.json").write_text('{"cluster_levels": 2')


def corrupt_manifest(b):
    (b / "manifest.json").write_text("{")


def manifest_without_decode(b):
    m = json.loads((b / "manifest.json").read_text())
    del m["decode"]
    (b / "manifest.json").write_text(json.dumps(m))


def manifest_bad_decode(b):
    m = json.loads((b / "manifest.json").read_text())
    m["decode"]["num_beams"] = 0
    (b / "manifest.json").write_text(json.dumps(m))


def songs_cut_mid_line(b):
    p = b / "songs.jsonl"
    p.write_bytes(p.read_bytes()[:-20])


def ids_bad_line(b):
    p = b / "song_semantic_ids.jsonl"
    p.write_text(p.read_text() + '{"song_id": "x", "semantic_id": "not codes"}\n')


def profiles_garbage(b):
    (b / "title_profiles.npz").write_bytes(b"not a zip")


def no_manifest(b):
    (b / "manifest.json").unlink()


CORRUPTIONS = {
    corrupt_truncate: "model.safetensors: truncated or corrupt",
    corrupt_flip: "model.safetensors: truncated or corrupt",
    corrupt_config: "config.json: truncated or corrupt",
    corrupt_tokenizer: "tokenizer.json: missing from the bundle",
    corrupt_clusters: "clusters.json: truncated or corrupt",
    corrupt_manifest: "manifest.json: not valid JSON",
    manifest_without_decode: "no 'decode' entry",
    manifest_bad_decode: "num_beams",
    songs_cut_mid_line: "songs.jsonl, line",
    profiles_garbage: "title_profiles.npz: truncated or corrupt",
    no_manifest: "not a playlistgen bundle",
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS), ids=[f.__name__ for f in CORRUPTIONS])
def test_broken_bundle_is_named(copy, corrupt):
    corrupt(copy)
    code, out, err = call(cli_main, ["rain", "--bundle", str(copy), "-n", "3"])
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert CORRUPTIONS[corrupt] in err


def test_broken_id_file_falls_back_to_the_training_index_and_says_which_file(copy, caplog):
    ids_bad_line(copy)
    code, out, err = call(cli_main, ["rain", "--bundle", str(copy), "-n", "3", "--format", "csv"])
    assert code == 0 and len(out.splitlines()) == 4 and "Traceback" not in err
    assert "song_semantic_ids.jsonl" in caplog.text and "training-time cluster index" in caplog.text


def test_bundle_path_that_is_a_file_or_missing(tmp_path):
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "file", tmp_path / "missing"):
        code, _, err = call(cli_main, ["rain", "--bundle", str(path)])
        assert code == 2 and "not a playlistgen bundle" in err


@pytest.fixture(scope="module")
def gen(bundle):
    from playlistgen import PlaylistGenerator

    return PlaylistGenerator(bundle)


@pytest.mark.parametrize("title", ["", "   ", "\x1b\x07\n\t\x00", "\u200b\u200b", "\r\n"])
def test_empty_titles_are_refused(gen, title):
    from playlistgen.inference.generator import TitleError

    with pytest.raises(TitleError, match="the title is empty"):
        gen.generate(title, n=3)


def test_huge_and_odd_titles_still_give_a_playlist(gen, caplog):
    assert len(gen.generate("rain " * 200_000, n=3, seed=0)) == 3  # 1 MB: cut, with a warning
    assert "characters long" in caplog.text
    assert len(gen.generate("caf\udce9 night", n=3, seed=0)) == 3  # a non-UTF-8 byte from the command line
    assert len(gen.generate("🔥" * 50, n=3, seed=0)) == 3


@pytest.mark.parametrize("fmt", ["m3u", "csv", "table"])
def test_titles_and_catalog_fields_cannot_inject_lines_or_escapes(gen, fmt):
    from dataclasses import replace

    tracks = gen.generate("rain", n=3, seed=0)
    tracks[0] = replace(tracks[0], title="evil\n#EXTINF:-1,injected\nhttp://x", artist="\x1b]0;pwned\x07x")
    text = render(tracks, fmt, "party\nhttp://evil.example/\x1b[2J")
    assert "\x1b" not in text and "\x07" not in text
    lines = text.splitlines()
    expected = {"m3u": 2 + 2 * 3, "csv": 1 + 3, "table": 1 + 3}[fmt]
    assert len(lines) == expected
    assert not any(line.startswith("http://") for line in lines)


def test_json_output_escapes_control_characters(gen):
    tracks = gen.generate("rain", n=2, seed=0)
    text = render(tracks, "json", "a\nb\x1b")
    assert "\x1b" not in text and json.loads(text)["title"] == "a\nb\x1b"


def test_more_songs_than_the_clusters_hold_gives_a_shorter_playlist(gen):
    n_clusters = len(gen.index.songs_in_cluster)
    tracks = gen.generate("rain", n=min(500, n_clusters + 50), seed=0)
    assert 0 < len(tracks) <= n_clusters


def run_cli(args, **kw):
    from helpers import project_env

    return subprocess.run([sys.executable, "-m", "playlistgen.serving.cli", *args], env={**project_env(), **kw.pop("env", {})},
                          capture_output=True, timeout=180, **kw)


def test_output_piped_into_head_ends_quietly(bundle):
    from helpers import project_env

    out = subprocess.run(f"{sys.executable} -m playlistgen.serving.cli rain -n 40 --bundle {bundle} | head -1", shell=True,
                         env=project_env(), capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and out.stdout.count("\n") == 1
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr


def test_interactive_output_piped_into_head_ends_quietly_and_q_quits(bundle):
    from helpers import project_env

    out = subprocess.run(f"(echo rock; sleep 1; echo :q) | {sys.executable} -m playlistgen.serving.cli -i --bundle {bundle} "
                         "| head -1", shell=True, env=project_env(), capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and out.stdout.count("\n") == 1
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
    out = run_cli(["--bundle", str(bundle), "-i"], input=b"q\nrock\n")  # "q" quits: "rock" is never answered
    assert out.returncode == 0 and out.stdout.count(b"title>") == 1


def test_closed_stdin_and_non_utf8_title(bundle):
    out = run_cli(["--bundle", str(bundle), "-i"], stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and b"Traceback" not in out.stderr
    out = run_cli([b"caf\xe9 \xff night", "--bundle", str(bundle), "-n", "3", "--format", "csv"],
                  env={"LC_ALL": "C.UTF-8", "PYTHONUTF8": "1"})
    assert out.returncode == 0, out.stderr
    assert b"Traceback" not in out.stderr and len(out.stdout.splitlines()) == 4


def test_export_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path, bundle):
    from playlistgen.inference.bundle import check_destination

    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.jpg").write_bytes(b"jpeg")
    with pytest.raises(DataError, match="is not a playlistgen bundle; exporting would replace it"):
        check_destination(precious)
    assert (precious / "holiday.jpg").read_bytes() == b"jpeg"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(DataError, match="not a playlistgen bundle"):
        check_destination(tmp_path / "a_file")
    check_destination(tmp_path / "new")  # a new folder, an empty one and an earlier bundle are fine
    (tmp_path / "empty").mkdir()
    check_destination(tmp_path / "empty")
    check_destination(bundle)


def new_songs(tmp_path, ids, dim):
    import numpy as np

    songs = tmp_path / "new_songs.jsonl"
    songs.write_text("".join(json.dumps({"song_id": s, "title": f"new {s}", "artist": "Newcomer"}) + "\n"
                             for s in ids))
    feats = tmp_path / "new_features"
    feats.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for name, d in dim.items():
        with open(feats / f"{name}.npz", "wb") as f:
            np.savez(f, song_ids=np.array(ids), vectors=rng.normal(size=(len(ids), d)).astype("float32"))
    return songs, feats


def feature_dims(bundle, raw):
    """Dimension of each feature set the bundle quantizes, read from the project's catalog `raw`."""
    import numpy as np

    manifest = json.loads((bundle / "manifest.json").read_text())
    dims = {}
    for name in manifest["params"]["quantize"]["features"]:
        with np.load(raw / "features" / f"{name}.npz") as z:
            dims[name] = z["vectors"].shape[1]
    return dims


def test_add_songs_interrupted_then_retried_completes_and_regeneration_keeps_them(copy, tmp_path, tiny_project,
                                                                                   monkeypatch):
    import playlistgen.inference.on_demand as on_demand

    songs, feats = new_songs(tmp_path, ["n1", "n2"], feature_dims(copy, tiny_project / "data/raw"))
    real = on_demand.write_jsonl

    def killed(path, records):  # the process dies after the IDs are written, before the catalog is
        if str(path).endswith("songs.jsonl"):
            raise KeyboardInterrupt
        return real(path, records)

    monkeypatch.setattr(on_demand, "write_jsonl", killed)
    code, _, err = call(admin_main, ["add-songs", "--bundle", str(copy), "--songs", str(songs),
                                     "--features-dir", str(feats)])
    assert code == 130
    monkeypatch.setattr(on_demand, "write_jsonl", real)
    code, out, err = call(admin_main, ["add-songs", "--bundle", str(copy), "--songs", str(songs),
                                       "--features-dir", str(feats)])
    assert code == 0, err
    assert json.loads(out)["with_semantic_id"] == 2
    code, _, err = call(admin_main, ["add-songs", "--bundle", str(copy), "--songs", str(songs),
                                     "--features-dir", str(feats)])
    assert code == 2 and "already in the bundle" in err and "done already" in err
    # the README's regeneration from the catalog folder keeps the added songs
    code, _, err = call(admin_main, ["semantic-ids", "--bundle", str(copy), "--data-dir",
                                     str(tiny_project / "data/raw")])
    assert code == 0, err
    ids = {json.loads(line)["song_id"] for line in (copy / "song_semantic_ids.jsonl").open()}
    assert {"n1", "n2"} <= ids


@pytest.mark.parametrize("case", ["missing_songs", "missing_features", "wrong_dim", "not_a_bundle"])
def test_add_songs_bad_input_is_one_error(copy, tmp_path, tiny_project, case):
    songs, feats = new_songs(tmp_path, ["m1"], {k: (v + 3 if case == "wrong_dim" else v)
                                                 for k, v in feature_dims(copy, tiny_project / "data/raw").items()})
    before = (copy / "songs.jsonl").read_bytes()
    args = ["add-songs", "--bundle", str(copy if case != "not_a_bundle" else tmp_path), "--songs",
            str(songs if case != "missing_songs" else tmp_path / "none.jsonl"),
            "--features-dir", str(feats if case != "missing_features" else tmp_path / "nofeatures")]
    code, _, err = call(admin_main, args)
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err, err
    assert (copy / "songs.jsonl").read_bytes() == before
