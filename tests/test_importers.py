"""MPD and creative_emb importers on small hand-made files with defects, and the whole DAG on MPD-format data."""
import json
import pickle
import subprocess

import numpy as np
import pytest

from helpers import TINY_PARAMS, copy_project, project_env, set_params
from playlistgen.data.catalog import LoadReport, load_catalog
from playlistgen.data.importers import import_mpd_catalog, normalize_mpd_title, read_creative_emb, read_mpd
from playlistgen.common.io import DataError

GENRES = {"chill": ["Chill Vibes!!", "chill", "Lazy Sunday"], "rock": ["ROCK anthems", "rock!", "Guitar"],
          "rap": ["rap caviar", "Hip-Hop", "🔥🔥"]}


def track(genre: str, i: int) -> dict:
    return {"pos": 0, "track_uri": f"spotify:track:{genre}{i}", "track_name": f"{genre} song {i}",
            "artist_name": f"{genre} artist {i % 4}", "artist_uri": "a", "album_name": f"{genre} album",
            "album_uri": "b", "duration_ms": 1000}


def write_mpd(directory, playlists_per_slice=60, slices=2, seed=0):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    pid = 0
    for s in range(slices):
        playlists = []
        for _ in range(playlists_per_slice):
            genre = list(GENRES)[pid % 3]
            chosen = rng.choice(20, size=int(rng.integers(6, 11)), replace=False)
            playlists.append({"pid": pid, "name": GENRES[genre][pid % 3 if pid % 7 else 0], "num_tracks": len(chosen),
                              "tracks": [track(genre, int(i)) for i in chosen]})
            pid += 1
        # defects: a nameless playlist, a track without a uri, a repeated track
        playlists.append({"pid": 10_000 + s, "name": "  ", "tracks": [track("rap", 1)]})
        playlists[0]["tracks"].append({"pos": 9, "track_name": "no uri"})
        playlists[1]["tracks"].append(dict(playlists[1]["tracks"][0]))
        (directory / f"mpd.slice.{s * 1000}-{s * 1000 + 999}.json").write_text(
            json.dumps({"info": {"slice": s}, "playlists": playlists}))
    return directory


def test_titles_normalised_like_the_challenge_baseline():
    assert normalize_mpd_title("Chill Vibes!!") == "chill vibes"
    assert normalize_mpd_title("Hip-Hop  (2018)") == "hip hop 2018"
    assert normalize_mpd_title("🔥🔥") == "🔥🔥"  # nothing left after stripping: keep it rather than empty


def test_mpd_slices_import_with_counted_defects(tmp_path):
    write_mpd(tmp_path / "mpd")
    report = LoadReport()
    songs, playlists = read_mpd([str(tmp_path / "mpd" / "mpd.slice.*.json")], report, 1)
    assert len(playlists) == 120
    assert len(songs) == len({s["song_id"] for s in songs}) <= 60  # deduplicated by URI
    assert report.skipped["MPD playlists without a name"] == 2
    assert report.skipped["MPD tracks without a track_uri"] == 2
    assert all(len(p["song_ids"]) == len(set(p["song_ids"])) for p in playlists)
    assert {p["raw_title"] for p in playlists} >= {"Chill Vibes!!", "ROCK anthems"}
    pop = {s["song_id"]: s["popularity"] for s in songs}
    assert max(pop.values()) > 1
    _, filtered = read_mpd([str(tmp_path / "mpd" / "*.json")], LoadReport(), min_track_frequency=1000)
    assert filtered == []


def test_track_frequency_filter_counts_training_playlists_and_keeps_held_out_truth(tmp_path):
    write_mpd(tmp_path / "mpd")
    paths = [str(tmp_path / "mpd" / "*.json")]
    _, everything = read_mpd(paths, LoadReport(), 1)
    held_out = {p["playlist_id"] for p in everything[::3]}
    songs, playlists = read_mpd(paths, LoadReport(), 1000, counted=lambda pid: pid not in held_out)
    # every training playlist lost all its tracks (none is in 1000 playlists); held-out ones keep their full list
    assert {p["playlist_id"] for p in playlists} == held_out
    full = {p["playlist_id"]: p["song_ids"] for p in everything}
    assert all(p["song_ids"] == full[p["playlist_id"]] for p in playlists)
    assert {s["song_id"] for s in songs} == {s for p in playlists for s in p["song_ids"]}  # their songs stay listed
    # a track's count comes from training playlists only
    songs, _ = read_mpd(paths, LoadReport(), 1, counted=lambda pid: pid not in held_out)
    train_count = {s: sum(s in p["song_ids"] for p in everything if p["playlist_id"] not in held_out) for s in full["0"]}
    assert all({x["song_id"]: x["popularity"] for x in songs}[s] == c for s, c in train_count.items())


def test_truncated_or_foreign_slice_is_one_clear_error(tmp_path):
    bad = tmp_path / "mpd.slice.0-999.json"
    bad.write_text('{"info": {}, "playlists": [{"pid": 1, "na')
    with pytest.raises(DataError, match="mpd.slice.0-999.json: not valid JSON.*truncated"):
        read_mpd([str(bad)], LoadReport(), 1)
    bad.write_text('{"info": {}, "playlists": [{"name": "x", "tracks": []}]}')
    with pytest.raises(DataError, match=r"playlists\[0\]: needs 'pid'"):
        read_mpd([str(bad)], LoadReport(), 1)
    with pytest.raises(DataError, match="no MPD slice matches"):
        read_mpd([str(tmp_path / "nothing*.json")], LoadReport(), 1)


@pytest.mark.parametrize("method", ["ppmi", "svd"])
def test_collaborative_vectors_use_training_playlists_and_separate_genres(tmp_path, method):
    """Both collab methods (data.embed.collab_method) place songs that playlists hold together near each other."""
    write_mpd(tmp_path / "mpd", playlists_per_slice=150)
    import_mpd_catalog([str(tmp_path / "mpd" / "*.json")], tmp_path / "catalog", 1, 8, method, 0, 0.05, 0.1)
    catalog = load_catalog(tmp_path / "catalog")
    from playlistgen.data.corpus import split_of

    train = [p for p in catalog.playlists if split_of(p.playlist_id, 0, 0.05, 0.1) == "train"]
    assert len(train) < len(catalog.playlists)
    for song in catalog.songs.values():  # popularity counts training playlists only (no test leak)
        assert song.popularity == sum(song.song_id in p.song_ids for p in train)
    collab = catalog.features["collab"]
    x = collab.vectors / np.linalg.norm(collab.vectors, axis=1, keepdims=True)
    genre = np.array([s.split(":")[2].rstrip("0123456789") for s in collab.song_ids])
    sims = x @ x.T
    same = sims[genre[:, None] == genre[None, :]].mean()
    other = sims[genre[:, None] != genre[None, :]].mean()
    assert same > other + 0.3, (method, same, other)


def test_ppmi_refuses_what_memory_cannot_hold_and_names_svd(monkeypatch):
    from playlistgen.data import embed
    from playlistgen.data.catalog import Playlist

    playlists = [Playlist(str(i), "t", [f"s{(i + k) % 50}" for k in range(20)]) for i in range(40)]
    monkeypatch.setattr(embed, "COOCCURRENCE_BYTES_PER_PAIR", 1e12)  # as if the pairs needed a terabyte each
    with pytest.raises(DataError, match="set data.embed.collab_method: svd"):
        embed.collaborative_vectors(playlists, 4, 0, "ppmi")
    ids, vectors = embed.collaborative_vectors(playlists, 4, 0, "svd")
    assert len(ids) == 50 and vectors.shape == (50, 4)


def test_creative_emb_parts_and_pickle(tmp_path):
    root = tmp_path / "creative_emb"
    (root / "emb_81_4").mkdir(parents=True)
    (root / "emb_81_4" / "part-00000").write_text("\n".join([
        json.dumps({"anonymous_cid": 1, "emb": [1, 0, 0, 0]}),
        json.dumps({"anonymous_cid": 2, "emb": [0, 1, 0]}),            # wrong length
        json.dumps({"anonymous_cid": 3, "emb": [0, float("nan"), 0, 0]}),
        '{"anonymous_cid": 4, "emb": [0, 0',                             # truncated line
    ]) + "\n")
    (root / "emb_81_4" / "part-00001").write_text(json.dumps({"anonymous_cid": 5, "emb": [0, 0, 1, 0]}) + "\n")
    report = LoadReport()
    ids, vectors = read_creative_emb(root, "81", report)
    assert ids.tolist() == ["1", "5"] and vectors.shape == (2, 4)
    assert report.skipped == {"feature 81: vectors not of length 4": 1, "feature 81: vectors holding NaN or inf": 1,
                              "feature 81: malformed lines": 1}
    with open(root / "emb_82_4.pkl", "wb") as f:
        pickle.dump({7: np.ones(4), 8: np.zeros(3)}, f)
    with pytest.raises(DataError, match="pickle runs code.*--trust-pickle"):
        read_creative_emb(root, "82", LoadReport())
    ids, _ = read_creative_emb(root, "82", LoadReport(), trust_pickle=True)
    assert ids.tolist() == ["7"]
    with pytest.raises(DataError, match="no emb_83_<dim>"):
        read_creative_emb(root, "83", LoadReport())


@pytest.mark.slow  # the whole pipeline: about 50 s on 2 cores
def test_whole_pipeline_runs_on_mpd_data(tmp_path):
    write_mpd(tmp_path / "mpd", playlists_per_slice=150)
    project = tmp_path / "project"
    project.mkdir()
    copy_project(project)
    set_params(project / "params.yaml", {
        **TINY_PARAMS, ("data", "source"): "mpd", ("quantize", "features"): ["collab", "text"],
        ("quantize", "codebook_size"): 4, ("quantize", "num_levels"): 2, ("quantize", "max_points_per_centroid"): 64,
        ("quantize", "init_points_per_centroid"): 8, ("corpus", "min_songs"): 2,
    })
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"]["mpd"].update(paths=[str(tmp_path / "mpd" / "*.json")], min_track_frequency=1)
    params["data"]["embed"]["collab_dim"] = 8
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = subprocess.run(["dvc", "repro"], cwd=project, env=project_env(), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    assert metrics["decoding"]["test_playlists"] > 0
    assert metrics["model"]["expansion_f1"] > 0
    assert (project / "data/bundle/manifest.json").exists()
    assert (project / "data/raw/features/text.npz").exists()


def test_text_vectors_place_similar_song_texts_together():
    from playlistgen.data.embed import text_vectors

    songs = [{"song_id": "a", "title": "Rainy Sunday Piano", "artist": "Calm Keys"},
             {"song_id": "b", "title": "Piano for a rainy day", "artist": "Calm Keys"},
             {"song_id": "c", "title": "Thrash Metal Inferno", "artist": "Skull Riot"}]
    ids, x = text_vectors(songs, dim=384, seed=0)
    assert ids == ["a", "b", "c"] and x.shape == (3, 384)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2


def test_text_vectors_encode_one_list_of_texts_once_per_process(monkeypatch):
    from playlistgen.data import embed

    calls = []

    class Fake:
        def encode(self, texts, **_):
            calls.append(list(texts))
            return np.array([[float(len(t)), 1.0, 0.0] for t in texts])

    monkeypatch.setattr(embed, "sentence_model", lambda: Fake())
    monkeypatch.setenv("PLAYLISTGEN_CACHE_DIR", "")  # a fake model's vectors must not reach the shared cache
    monkeypatch.setattr(embed, "_ENCODED", {})
    songs = [{"song_id": "a", "title": "Rain"}, {"song_id": "b", "title": "Thunderstorm", "artist": "Sky"}]
    first = embed.text_vectors(songs, dim=3, seed=0)[1]
    first[:] = -1  # the caller's array is its own: the kept vectors stay as encoded
    ids, again = embed.text_vectors(songs, dim=3, seed=0)
    assert len(calls) == 1 and ids == ["a", "b"]
    assert again.tolist() == [[4.0, 1.0, 0.0], [18.0, 1.0, 0.0]]
    embed.text_vectors(songs[:1], dim=3, seed=0)  # other texts: encoded, and the earlier list let go
    assert len(calls) == 2 and len(embed._ENCODED) == 1


def test_sentence_cache_encodes_each_text_once_and_is_keyed_by_model_and_text(tmp_path, monkeypatch):
    from playlistgen.data.embed import SentenceCache

    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.array([[float(len(t)), 1.0] for t in texts])

    first = SentenceCache(tmp_path, "model-a").encode(["rain", "sun", "rain"], encode)
    assert calls == [["rain", "sun"]] and first.tolist() == [[4, 1], [3, 1], [4, 1]]
    again = SentenceCache(tmp_path, "model-a").encode(["sun", "rain"], encode)  # a new process: read from disk
    assert len(calls) == 1 and again.tolist() == [[3, 1], [4, 1]]
    SentenceCache(tmp_path, "model-a").encode(["sun", "snow"], encode)  # a grown catalog: only the new text
    assert calls[-1] == ["snow"]
    SentenceCache(tmp_path, "model-b").encode(["sun"], encode)  # another model never reads model-a's vectors
    assert calls[-1] == ["sun"]
    SentenceCache(tmp_path, "model-a").path.write_bytes(b"not a zip")  # damaged: encoded again, not trusted
    assert SentenceCache(tmp_path, "model-a").encode(["sun"], encode).tolist() == [[3, 1]]
    assert calls[-1] == ["sun"] and len(calls) == 4


def test_streamed_synthetic_slices_import_as_the_whole_world(tmp_path):
    """synth --mpd-out writes the playlists as they are generated (one slice in memory): the slices hold exactly the
    world generate_world builds at once, and the importer reads them back to the same playlists and distinct tracks
    (one string per track, however many playlists hold it)."""
    from helpers import TINY_WORLD
    from playlistgen.data.synth import generate_world, stream_world, write_mpd_slices

    args = {**TINY_WORLD, "feature_dims": {}, "feature_noise": {}, "missing_share": {}}
    world = generate_world(seed=3, **args)
    songs, _, playlists = stream_world(seed=3, **args)
    paths = write_mpd_slices(songs, playlists, tmp_path / "mpd", per_slice=70)
    assert [p.name for p in paths][:2] == ["mpd.slice.0-69.json", "mpd.slice.70-139.json"] and len(paths) == 5
    report = LoadReport()
    read_songs, read_playlists = read_mpd([str(tmp_path / "mpd" / "*.json")], report, 1)
    assert [[s.split(":")[-1] for s in p["song_ids"]] for p in read_playlists] == [p["song_ids"] for p in world.playlists]
    assert [p["raw_title"] for p in read_playlists] == [p["title"] for p in world.playlists]
    by_uri = {}
    for p in read_playlists:
        for s in p["song_ids"]:
            assert by_uri.setdefault(s, s) is s  # the same string object wherever the track occurs
    assert len(read_songs) == len(by_uri)
