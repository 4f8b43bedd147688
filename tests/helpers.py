"""Helpers the tests share (imported as `from helpers import ...`; conftest.py holds only fixtures and hooks)."""
import os

import numpy as np

TINY_WORLD = dict(
    num_songs=1200, num_playlists=300, latent_dim=16, feature_dims={"audio": 24, "lyrics": 24},
    feature_noise={"audio": 0.3, "lyrics": 0.4}, missing_share={"audio": 0.05, "lyrics": 0.2}, song_noise=0.5,
    popularity_zipf=0.8, concept_zipf=0.7, playlist_length=(5, 15), primary_share=0.7, secondary_share=0.2,
    secondary_prob=0.5, zh_share=0.2, title_noise=0.3,
)


def planted_clusters(n_clusters=8, per_cluster=200, dim=16, spread=0.05, seed=0):
    """Well-separated Gaussian blobs: (vectors, true labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim)) * 3
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    return (centres[labels] + rng.normal(scale=spread, size=(len(labels), dim))).astype(np.float32), labels


ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
TINY_PARAMS = {
    ("data", "size"): "tiny",
    ("train", "epochs"): 2,
    ("train", "batch_size"): 32,
    ("train", "warmup_share"): 0.1,
    ("train", "min_steps"): 0,
    ("train", "log_every"): 2,
    ("evaluate", "unconstrained_sample"): 20,
    ("evaluate", "num_beams"): 2,
}


def copy_project(dest):
    """The tracked project files (what a fresh clone has) in a new git repo at dest."""
    import shutil
    import subprocess

    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if rel.startswith(("data/", "metrics/", "realdev/")) or rel == "dvc.lock":  # realdev: real data, not here
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)


def set_params(path, overrides):
    import yaml

    params = yaml.safe_load(path.read_text())
    for (block, key), value in overrides.items():
        params[block][key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))


def project_env():
    import sys

    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["HF_HUB_OFFLINE"] = "1"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def kmeans_args(**overrides) -> dict:
    """train_rq_kmeans keywords: params.yaml's quantize block (seed 0, no normalising) with `overrides`."""
    import yaml

    from playlistgen.ids.quantize import kmeans_options

    block = yaml.safe_load((ROOT / "params.yaml").read_text())["quantize"]
    return {"seed": 0, "normalize": False, **kmeans_options(block), **overrides}
