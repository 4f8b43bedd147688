"""On-demand semantic IDs and cold-start songs, on a copy of the tiny pipeline's bundle."""
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import project_env
from playlistgen import PlaylistGenerator
from playlistgen.serving.cli import admin_main
from playlistgen.common.io import DataError
from playlistgen.inference.on_demand import IDS_FILE, REPORT_FILE


@pytest.fixture()
def bundle(tiny_project, tmp_path):
    dest = tmp_path / "bundle"
    shutil.copytree(tiny_project / "data/bundle", dest)
    return dest


def test_missing_id_file_is_regenerated_with_the_frozen_codebooks(bundle, tiny_project):
    original = (bundle / IDS_FILE).read_text()
    (bundle / IDS_FILE).unlink()
    gen = PlaylistGenerator(bundle, data_dir=tiny_project / "data/raw")
    assert (bundle / IDS_FILE).read_text() == original  # the model's own IDs, not new ones
    report = json.loads((bundle / REPORT_FILE).read_text())
    assert report["method"] == "frozen_codebooks"
    songs = len((bundle / "songs.jsonl").read_text().splitlines())
    with_id = len(original.splitlines())  # songs without any feature set get no ID
    assert report["coverage"] == pytest.approx(with_id / songs, abs=1e-3) and with_id > 0.9 * songs
    assert report["songs_without_features"] == songs - with_id
    assert len(gen.generate("rainy sunday piano", n=5, seed=0)) == 5


def test_generation_off_makes_a_missing_file_a_clear_error(bundle, tiny_project, monkeypatch):
    (bundle / IDS_FILE).unlink()
    monkeypatch.setenv("ALLOW_SEMANTIC_GENERATION", "false")
    with pytest.raises(DataError, match="ALLOW_SEMANTIC_GENERATION is off; pre-generate it with `playlistgen semantic-ids"):
        PlaylistGenerator(bundle, data_dir=tiny_project / "data/raw")
    assert admin_main(["semantic-ids", "--bundle", str(bundle), "--data-dir", str(tiny_project / "data/raw")]) == 0
    assert (bundle / IDS_FILE).exists()


def test_failed_generation_degrades_to_the_training_time_index(bundle, tmp_path, caplog):
    (bundle / IDS_FILE).unlink()
    gen = PlaylistGenerator(bundle, data_dir=tmp_path / "nowhere")
    assert "using the" in caplog.text and "training-time cluster index" in caplog.text
    assert len(gen.generate("workout", n=5, seed=1)) == 5
    assert not (bundle / IDS_FILE).exists()


def start_generator(bundle, data_dir):
    code = ("import sys; from playlistgen import PlaylistGenerator; "
            f"PlaylistGenerator({str(bundle)!r}, data_dir={str(data_dir)!r})")
    return subprocess.Popen([sys.executable, "-c", code], env=project_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def test_two_processes_starting_at_once_write_one_correct_file(bundle, tiny_project):
    original = (bundle / IDS_FILE).read_text()
    (bundle / IDS_FILE).unlink()
    procs = [start_generator(bundle, tiny_project / "data/raw") for _ in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert (bundle / IDS_FILE).read_text() == original
    assert sum("generating it" in e for e in errors) >= 1


def test_kill_during_generation_leaves_no_partial_file(bundle, tiny_project):
    original = (bundle / IDS_FILE).read_text()
    for delay in (1.0, 2.0, 3.0):
        (bundle / IDS_FILE).unlink(missing_ok=True)
        proc = start_generator(bundle, tiny_project / "data/raw")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (bundle / IDS_FILE).exists():  # killed after the rename: the file must be whole
            assert (bundle / IDS_FILE).read_text() == original
    # whatever the kill left (a stale lock file, a hidden temp file), the next start recovers
    (bundle / IDS_FILE).unlink(missing_ok=True)
    PlaylistGenerator(bundle, data_dir=tiny_project / "data/raw")
    assert (bundle / IDS_FILE).read_text() == original


def test_new_song_is_recommended_without_retraining(bundle, tiny_project, tmp_path):
    gen = PlaylistGenerator(bundle, data_dir=tiny_project / "data/raw")
    title = "rainy sunday piano"
    target = gen.generate_clusters(title, n=5, seed=0)[0]
    # features of the new song: the mean of that cluster's songs in each feature set
    new_features = tmp_path / "features"
    new_features.mkdir()
    members = set(gen.index.songs_in_cluster[target])
    for name in ("audio", "lyrics"):
        with np.load(tiny_project / f"data/raw/features/{name}.npz") as npz:
            rows = [i for i, s in enumerate(npz["song_ids"].tolist()) if s in members]
            if not rows:  # no member has this set: the new song lacks it too (encoded from the other)
                continue
            mean = npz["vectors"][rows].mean(0, keepdims=True)
        np.savez(new_features / f"{name}.npz", song_ids=np.array(["new_song_1"]), vectors=mean.astype(np.float32))
    songs = tmp_path / "new_songs.jsonl"
    songs.write_text(json.dumps({"song_id": "new_song_1", "title": "Brand New", "artist": "Newcomer",
                                 "popularity": 1e9}) + "\n")
    assert admin_main(["add-songs", "--bundle", str(bundle), "--songs", str(songs),
                       "--features-dir", str(new_features)]) == 0
    gen = PlaylistGenerator(bundle, data_dir=tiny_project / "data/raw")
    assert gen.index.cluster_of_song["new_song_1"] == target
    tracks = gen.generate(title, n=5, seed=0, popularity_weighted=True)
    assert "new_song_1" in [t.song_id for t in tracks]
    # adding it twice is refused, and the bundle is unchanged
    before = (bundle / "songs.jsonl").read_text()
    assert admin_main(["add-songs", "--bundle", str(bundle), "--songs", str(songs),
                       "--features-dir", str(new_features)]) == 2
    assert (bundle / "songs.jsonl").read_text() == before
