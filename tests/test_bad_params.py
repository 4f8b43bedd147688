"""Bad params.yaml values: one DataError naming the key, the value and what is allowed, before any stage works."""
import copy
from pathlib import Path

import pytest
import yaml

from playlistgen.common.io import DataError
from playlistgen.common.params import validate

ROOT = Path(__file__).resolve().parent.parent
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())

# (key, bad value, words the message must hold)
CASES = [
    ("quantize.codebook_size", 0, "whole number from 2"),
    ("quantize.codebook_size", "big", "quantize.codebook_size = 'big'"),
    ("quantize.num_levels", 0, "quantize.num_levels = 0"),
    ("quantize.cluster_levels", 4, "at most quantize.num_levels"),
    ("quantize.method", "pq", "rq_kmeans | rq_vae"),
    ("quantize.features", [], "feature set names"),
    ("quantize.features", ["../../x"], "feature set names"),
    ("quantize.features", "audio", "feature set names"),
    ("quantize.kmeans_iters", 2.5, "quantize.kmeans_iters"),
    ("quantize.max_songs_per_code", 0, "or null"),
    ("quantize.rq_vae.lr", 0, "quantize.rq_vae.lr"),
    ("quantize.normalize", "yes", "true or false"),
    ("corpus.val_share", 1.5, "corpus.val_share = 1.5"),
    ("corpus.val_share", -0.1, "corpus.val_share"),
    ("corpus.test_share", 0.96, "summing below 1"),
    ("corpus.min_songs", 0, "corpus.min_songs"),
    ("corpus.target_order", "random", "characteristic | playlist"),
    ("corpus.vocab_size", 10, "corpus.vocab_size"),
    ("train.epochs", -1, "train.epochs = -1"),
    ("train.epochs", None, "train.epochs = None"),
    ("train.batch_size", 0, "train.batch_size = 0"),
    ("train.lr", float("nan"), "train.lr"),
    ("train.lr", float("inf"), "train.lr"),
    ("train.dropout", 1.0, "train.dropout"),
    ("train.d_model", 130, "a multiple of train.num_heads"),
    ("train.mixed_precision", "fp8", "auto | no | bf16 | fp16"),
    ("train.num_processes", 0, "or auto"),
    ("train.loader_workers", "many", "or auto"),
    ("train.title_encoder", "bert", "minilm | none"),
    ("train.schedule", "step", "cosine | linear"),
    ("train.retrieval.ngram", [4, 2], "min <= max"),
    ("train.retrieval.clusters", -1, "train.retrieval.clusters"),
    ("train.max_source_tokens", 1, "train.max_source_tokens"),
    ("train.compile", 1, "true or false"),
    ("evaluate.num_beams", 0, "evaluate.num_beams"),
    ("evaluate.temperature", 0, "evaluate.temperature"),
    ("evaluate.top_p", 0, "evaluate.top_p"),
    ("evaluate.top_p", 1.5, "evaluate.top_p"),
    ("evaluate.playlist_length", 0, "evaluate.playlist_length"),
    ("evaluate.decode", "greedy", "beam | sample"),
    ("evaluate.ks", [], "evaluate.ks"),
    ("evaluate.ks", [0], "evaluate.ks"),
    ("evaluate.knn_ngram", [2], "evaluate.knn_ngram"),
    ("evaluate.bootstrap_resamples", 0, "evaluate.bootstrap_resamples"),
    ("evaluate.cluster_score_power", -0.5, "evaluate.cluster_score_power"),
    ("evaluate.scored_clusters", -1, "evaluate.scored_clusters"),
    ("evaluate.scored_clusters", 2.5, "evaluate.scored_clusters"),
    ("data.size", "huge", "default | tiny"),
    ("data.source", "s3", "synthetic | mpd | files"),
    ("data.world", "v3", "v1 | v2"),
    ("data.primary_share", 0.9, "summing to at most 1"),
    ("data.mpd.min_track_frequency", 0, "data.mpd.min_track_frequency"),
    ("data.embed.collab_dim", 1, "data.embed.collab_dim"),
    ("data.files.vectors", {"../../x": "v.csv"}, "data.files.vectors key '../../x'"),
    ("data.files.vectors", {"/abs": "v.csv"}, "not a usable name"),
    ("data.files.vectors", ["audio"], "a mapping"),
    ("data.sizes", {"default": {"num_songs": 10, "num_playlists": 5}, "tiny": {}}, "data.sizes.default"),
    ("base.seed", -3, "base.seed"),
    ("base.work_dir", "", "non-empty"),
    ("export.bundle_dir", None, "export.bundle_dir"),
]


def set_key(params, key, value):
    node = params
    *path, last = key.split(".")
    for part in path:
        node = node[part]
    node[last] = value


@pytest.mark.parametrize("key,value,words", CASES, ids=[f"{k}={v!r}" for k, v, _ in CASES])
def test_bad_value_is_one_error_naming_key_and_allowed(key, value, words):
    params = copy.deepcopy(PARAMS)
    set_key(params, key, value)
    with pytest.raises(DataError) as err:
        validate(params)
    message = str(err.value)
    assert message.startswith("params.yaml: ")
    assert words in message
    assert "\n" not in message


@pytest.mark.parametrize("key", ["train.epochs", "quantize", "evaluate.ks", "base"])
def test_missing_key_is_named(key):
    params = copy.deepcopy(PARAMS)
    *path, last = key.split(".")
    node = params
    for part in path:
        node = node[part]
    del node[last]
    with pytest.raises(DataError, match=rf"params.yaml: {key.split('.')[0]}.* is missing"):
        validate(params)


@pytest.mark.parametrize("doc", [None, [], "text"])
def test_not_a_mapping(doc):
    with pytest.raises(DataError, match="expected a mapping"):
        validate(doc)


def test_shipped_params_and_the_profiles_we_use_are_valid():
    validate(copy.deepcopy(PARAMS))
    tiny = copy.deepcopy(PARAMS)
    set_key(tiny, "data.size", "tiny")
    validate(tiny)
    realdev = copy.deepcopy(PARAMS)
    overrides = yaml.safe_load((ROOT / "realdev" / "params.yaml").read_text())
    overrides.pop("realdev")  # where the data is and the split seeds: bench/realdev.py's, not a params block
    for block, values in overrides.items():
        for k, v in values.items():
            if isinstance(v, dict) and isinstance(realdev[block].get(k), dict):
                realdev[block][k].update(v)
            else:
                realdev[block][k] = v
    validate(realdev)
