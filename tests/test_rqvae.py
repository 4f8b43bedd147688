import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from helpers import planted_clusters
from playlistgen.ids.quantize import load_quantizer
from playlistgen.ids.rqvae import RQVAEConfig, train_rq_vae
from playlistgen.ids.semantic_ids import generate_semantic_ids, main as semantic_ids_main

SMALL = dict(num_levels=2, codebook_size=8, epochs=30, batch_size=256, hidden_dim=64, latent_dim=16)


def test_recovers_planted_grouping():
    x, labels = planted_clusters(n_clusters=8, per_cluster=200)
    _, codes, history = train_rq_vae(x, RQVAEConfig(input_dim=16, **SMALL), seed=0)
    assert adjusted_rand_score(labels, codes[:, 0]) > 0.95
    assert history[-1]["loss"] < history[0]["loss"]


def test_every_level_uses_its_codebook_on_structured_data():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, 16)).astype(np.float32)
    x = centres[rng.integers(0, 200, 4000)] + 0.3 * rng.normal(size=(4000, 16)).astype(np.float32)
    _, codes, _ = train_rq_vae(x, RQVAEConfig(input_dim=16, num_levels=3, codebook_size=32, epochs=10,
                                              batch_size=512), seed=1)
    for level in range(3):
        assert len(np.unique(codes[:, level])) >= 0.95 * 32


def test_reload_gives_identical_codes_and_same_seed_same_codes(tmp_path):
    x, _ = planted_clusters(seed=3)
    q, codes, _ = train_rq_vae(x, RQVAEConfig(input_dim=16, **SMALL), seed=5)
    q.save(tmp_path / "codebooks.safetensors")
    np.testing.assert_array_equal(load_quantizer(tmp_path / "codebooks.safetensors").encode(x), codes)
    _, again, _ = train_rq_vae(x, RQVAEConfig(input_dim=16, **SMALL), seed=5)
    np.testing.assert_array_equal(again, codes)


def test_standalone_command_writes_semantic_id_dict(catalog_dir, tmp_path):
    out = tmp_path / "out"
    rc = semantic_ids_main(["--data-dir", str(catalog_dir), "--output-dir", str(out), "--levels", "2",
                            "--codebook-size", "16", "--epochs", "3"])
    assert rc == 0
    ids = json.loads((out / "semantic_id_dict.json").read_text())
    songs = [json.loads(line)["song_id"] for line in (catalog_dir / "songs.jsonl").open()]
    assert 0.95 * len(songs) < len(ids) < len(songs)  # a few songs have no features and get no ID
    assert all(len(c) == 2 and all(0 <= v < 16 for v in c) for c in ids.values())
    # frozen codebooks: encode only, same IDs
    rc = semantic_ids_main(["--data-dir", str(catalog_dir), "--output-dir", str(tmp_path / "again"),
                            "--codebooks", str(out / "codebooks.safetensors")])
    assert rc == 0
    assert json.loads((tmp_path / "again" / "semantic_id_dict.json").read_text()) == ids


def test_missing_feature_directory_is_a_clear_error(tmp_path, catalog_dir):
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "songs.jsonl").write_text((catalog_dir / "songs.jsonl").read_text())
    from playlistgen.common.io import DataError

    with pytest.raises(DataError, match="no feature sets found"):
        generate_semantic_ids(tmp_path / "bare")
