"""kill -9 at any moment never leaves a partial output where a good one stood: every writer (the quantize and export
stages, the table importer, add-songs) is killed at several points; each output file left is whole (parses), only
hidden temporaries may be extra, and running the same command again succeeds and sweeps them."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import project_env

pytestmark = pytest.mark.slow


def whole(path) -> bool:
    """Whether a file parses as what its name says."""
    try:
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".jsonl":
            for line in path.read_text().splitlines():
                json.loads(line)
        elif path.suffix == ".npz":
            with np.load(path) as z:
                [z[k] for k in z.files]
        elif path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            load_file(str(path))
        return True
    except Exception:  # noqa: BLE001 - any failure to parse is the finding
        return False


def check_outputs(folder) -> list:
    """Visible files that do not parse (hidden temporaries of a killed run are allowed)."""
    return [p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                    p.relative_to(folder).parts) and not whole(p)]


def kill_after(cmd, cwd, seconds):
    proc = subprocess.Popen(cmd, cwd=cwd, env=project_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(seconds)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def project(tiny_project, tmp_path):
    dest = tmp_path / "p"
    shutil.copytree(tiny_project, dest, ignore=shutil.ignore_patterns(".dvc", "train_checkpoints"))
    return dest


@pytest.mark.parametrize("seconds", [2.5, 5.0])
@pytest.mark.parametrize("stage,folder", [("stages.quantize", "data/work/quantize"), ("stages.export", "data/bundle")])
def test_stage_killed_leaves_whole_files_and_reruns(project, stage, folder, seconds):
    kill_after([sys.executable, "-m", stage], project, seconds)
    assert check_outputs(project / folder) == []
    out = subprocess.run([sys.executable, "-m", stage], cwd=project, env=project_env(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert check_outputs(project / folder) == []
    assert not list((project / folder).parent.glob(f".{(project / folder).name}.*.tmp"))  # swept


@pytest.mark.parametrize("seconds", [1.5, 3.0])
def test_importer_killed_leaves_whole_files_and_reruns(tmp_path, seconds):
    songs = tmp_path / "songs.csv"
    songs.write_text("song_id,title,artist\n" + "".join(f"s{i},Song {i},Artist {i % 50}\n" for i in range(3000)))
    rng = np.random.default_rng(0)
    (tmp_path / "playlists.csv").write_text("playlist_id,title,song_ids\n" + "".join(
        f"p{i},mix {i % 40},{'|'.join(f's{j}' for j in rng.choice(3000, 12, replace=False))}\n" for i in range(800)))
    out = tmp_path / "catalog"
    cmd = [sys.executable, "-m", "playlistgen.data.importers", "files", "--songs", str(songs), "--playlists",
           str(tmp_path / "playlists.csv"), "--output", str(out), "--collab-dim", "16", "--params",
           str(Path(__file__).resolve().parent.parent / "params.yaml")]
    kill_after(cmd, tmp_path, seconds)
    if out.exists():
        assert check_outputs(out) == []
    done = subprocess.run(cmd, cwd=tmp_path, env=project_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert check_outputs(out) == [] and (out / "features" / "collab.npz").exists()


@pytest.mark.parametrize("seconds", [3.0, 5.0])
def test_add_songs_killed_then_rerun_completes(project, tmp_path, seconds):
    bundle = project / "data/bundle"
    manifest = json.loads((bundle / "manifest.json").read_text())
    ids = [f"new{i}" for i in range(200)]
    (tmp_path / "new.jsonl").write_text("".join(json.dumps({"song_id": s, "title": s, "artist": "A"}) + "\n"
                                                for s in ids))
    feats = tmp_path / "feats"
    feats.mkdir()
    for name in manifest["params"]["quantize"]["features"]:
        with np.load(project / "data/raw/features" / f"{name}.npz") as z:
            dim = z["vectors"].shape[1]
        with open(feats / f"{name}.npz", "wb") as f:
            np.savez(f, song_ids=np.array(ids), vectors=np.random.default_rng(1).normal(size=(200, dim)).astype("f4"))
    cmd = [sys.executable, "-m", "playlistgen", "add-songs", "--bundle", str(bundle), "--songs",
           str(tmp_path / "new.jsonl"), "--features-dir", str(feats)]
    kill_after(cmd, project, seconds)
    assert check_outputs(bundle) == []
    catalog = {json.loads(line)["song_id"] for line in (bundle / "songs.jsonl").read_text().splitlines()}
    if not set(ids) <= catalog:  # killed before the catalog was written: the same command finishes the job
        done = subprocess.run(cmd, cwd=project, env=project_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    catalog = {json.loads(line)["song_id"] for line in (bundle / "songs.jsonl").read_text().splitlines()}
    with_id = {json.loads(line)["song_id"] for line in (bundle / "song_semantic_ids.jsonl").read_text().splitlines()}
    assert set(ids) <= catalog and set(ids) <= with_id
