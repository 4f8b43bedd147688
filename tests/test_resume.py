"""Checkpoints: a training killed with SIGKILL resumes on the next `dvc repro` and ends where an uninterrupted
run ends; other params start fresh."""
import json
import os
import signal
import subprocess
import time

import yaml

from helpers import TINY_PARAMS, copy_project, project_env, set_params


def test_killed_training_resumes_to_the_same_result(tiny_project, tmp_path):
    dest = tmp_path / "project"
    dest.mkdir()
    copy_project(dest)
    set_params(dest / "params.yaml", {**TINY_PARAMS, ("train", "checkpoint_every"): 3})
    env = project_env()
    subprocess.run(["dvc", "repro", "corpus"], cwd=dest, env=env, check=True, capture_output=True, timeout=600)
    latest = dest / "data/work/train_checkpoints/latest.json"
    proc = subprocess.Popen(["dvc", "repro", "train"], cwd=dest, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:  # kill in the middle of the first epoch, after a mid-epoch checkpoint
        if latest.exists() and json.loads(latest.read_text())["progress"]["step"] >= 6:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(latest.read_text())["progress"]
    assert killed_at["step"] >= 6 and not (dest / "metrics/train.json").exists()

    out = subprocess.run(["dvc", "repro"], cwd=dest, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"resumed from step_{killed_at['step']:07d}" in out.stdout + out.stderr
    resumed = json.loads((dest / "metrics/train.json").read_text())
    uninterrupted = json.loads((tiny_project / "metrics/train.json").read_text())
    assert resumed["steps"] == uninterrupted["steps"]
    assert resumed["best_val_loss"] == uninterrupted["best_val_loss"]  # bit-for-bit the same training

    # a param change invalidates the checkpoint: the next run starts fresh
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["train"]["lr"] = params["train"]["lr"] / 2
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = subprocess.run(["dvc", "repro", "train"], cwd=dest, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "starting fresh" in out.stdout + out.stderr
    assert "resumed from" not in out.stdout + out.stderr
