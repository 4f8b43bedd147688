"""End to end: `dvc repro` on the tiny profile, then generate-playlist on the exported bundle."""
import json
import subprocess
import sys

import yaml

from helpers import project_env

STAGE_OUTPUTS = [
    "data/raw/songs.jsonl", "data/raw/playlists.jsonl", "data/raw/features/audio.npz",
    "data/work/quantize/song_semantic_ids.jsonl", "data/work/quantize/clusters.json",
    "data/work/quantize/codebooks.safetensors", "metrics/quantize.json", "metrics/cluster_sizes.json",
    "data/work/corpus/train.jsonl", "data/work/corpus/test.jsonl", "data/work/corpus/tokenizer/tokenizer.json",
    "metrics/corpus.json", "data/work/train/model/model.safetensors", "metrics/train.json", "metrics/train_log.csv",
    "metrics/evaluate.json", "metrics/samples.md", "data/bundle/manifest.json", "data/bundle/model/config.json",
    "metrics/plots/train_loss.png", "metrics/plots/val_loss.png", "metrics/plots/cluster_sizes.png",
    "metrics/plots/ndcg_at_k.png",
]


def test_every_stage_writes_its_outputs(tiny_project):
    missing = [p for p in STAGE_OUTPUTS if not (tiny_project / p).exists()]
    assert not missing
    lock = yaml.safe_load((tiny_project / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"data", "quantize", "corpus", "train", "evaluate", "export", "plots"}
    for png in (tiny_project / "metrics/plots").glob("*.png"):  # real images, viewable offline
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, png
    metrics = json.loads((tiny_project / "metrics/evaluate.json").read_text())
    assert {"model", "popularity", "title_knn", "decoding"} <= set(metrics)
    assert metrics["decoding"]["constrained_invalid_rate"] == 0.0
    methods = ("model", "model_knn", "popularity", "title_knn", "title_knn_dense", "tfidf_word_knn", "minilm_knn")
    assert all(metrics[m]["expansion_f1"] > 0 for m in methods)  # every method's clusters hold held-out songs
    # the tiny world's titles name its concepts: a title lookup's clusters beat the title-blind popular ones
    assert metrics["title_knn"]["expansion_f1"] > metrics["popularity"]["expansion_f1"]
    # model_knn keeps the model's clusters and is measured against the baselines only, never against the model
    assert metrics["model_knn"]["cluster_f1"] == metrics["model"]["cluster_f1"]
    for key in ("ci95", "ci95_model_knn"):
        assert {v["baseline"] for v in metrics[key].values()}.isdisjoint({"model", "model_knn"})
    assert "ci95_model_knn" in json.loads((tiny_project / "metrics/evaluate_val.json").read_text())
    assert set(metrics["sampled"]) >= {"sampled_precision", "sampled_length", "resample_jaccard"}


def test_second_repro_does_nothing_and_outputs_are_deterministic(tiny_project):
    env = project_env()
    status = subprocess.run(["dvc", "status"], cwd=tiny_project, env=env, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
    before = yaml.safe_load((tiny_project / "dvc.lock").read_text())["stages"]
    subprocess.run(["dvc", "repro", "-f", "-s", "data"], cwd=tiny_project, env=env, check=True, capture_output=True)
    subprocess.run(["dvc", "repro", "-f", "-s", "quantize"], cwd=tiny_project, env=env, check=True, capture_output=True)
    subprocess.run(["dvc", "repro", "-f", "-s", "corpus"], cwd=tiny_project, env=env, check=True, capture_output=True)
    after = yaml.safe_load((tiny_project / "dvc.lock").read_text())["stages"]
    for stage in ("data", "quantize", "corpus"):
        assert before[stage]["outs"] == after[stage]["outs"], stage


def test_generate_playlist_returns_real_songs(tiny_project):
    songs = {json.loads(line)["song_id"] for line in (tiny_project / "data/raw/songs.jsonl").open()}
    cmd = [sys.executable, "-m", "playlistgen.serving.cli", "rainy sunday piano", "-n", "8", "--format", "json", "--seed", "3",
           "--bundle", str(tiny_project / "data/bundle")]
    out = subprocess.run(cmd, env=project_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    tracks = json.loads(out.stdout)["tracks"]
    assert 1 <= len(tracks) <= 8
    assert {t["song_id"] for t in tracks} <= songs
    assert len({t["song_id"] for t in tracks}) == len(tracks)
    again = subprocess.run(cmd, env=project_env(), capture_output=True, text=True, timeout=120)
    assert json.loads(again.stdout)["tracks"] == tracks  # --seed makes it repeatable
