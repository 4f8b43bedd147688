"""Context feature sets (title_context, artist_collab), weighted feature sets, the no-leak guarantee of every song
vector and ID, and the tokenization report on labelled songs."""
import csv

import numpy as np
import pytest

from playlistgen.data import embed
from playlistgen.data.catalog import FeatureSet, Playlist, load_catalog
from playlistgen.ids.collisions import prefix_report
from playlistgen.data.features import combine_feature_sets, feature_weights


class FakeSentenceModel:
    """A stand-in for all-MiniLM-L6-v2: a title's vector counts a few telling words (fast, exact, offline)."""
    words = ("rock", "chill", "rap", "guitar", "sleep", "beats")

    def encode(self, texts, **_):
        x = np.array([[t.lower().count(w) for w in self.words] + [0.01 * len(t), 1.0] for t in texts], dtype=float)
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_propagate_context_fills_cold_songs_from_their_key_only():
    total = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    count = np.array([2.0, 1.0, 0.0, 0.0, 0.0])
    keys = ["a", "a", "a", "b", ""]  # song 2 shares key a with songs 0 and 1; 3 and 4 have no such neighbour
    out_total, out_count = embed.propagate_context(total, count, keys)
    assert out_total[2].tolist() == [0.5, 1.5] and out_count[2] == 1  # mean of (1, 0) and (0, 3)
    assert out_count[3] == out_count[4] == 0
    assert out_total[0].tolist() == [2.0, 0.0] and out_count[0] == 2  # songs with a context keep theirs
    assert total[2].tolist() == [0.0, 0.0]  # inputs are not changed


def songs_and_playlists():
    songs = [{"song_id": f"{g}{i}", "title": f"{g} tune {i}", "artist": f"{g} band {i % 3}", "album": f"{g} lp"}
             for g in ("rock", "chill") for i in range(12)]
    songs.append({"song_id": "lonely", "title": "lonely", "artist": "", "album": ""})
    playlists = [Playlist(f"p{g}{k}", f"{g} {'mix' if k % 2 else 'hits'}", [f"{g}{i}" for i in range(k, k + 6)])
                 for g in ("rock", "chill") for k in range(5)]
    return songs, playlists


def test_title_context_groups_songs_by_their_playlists_titles_and_reaches_cold_songs():
    songs, train = songs_and_playlists()
    ids, x = embed.title_context_vectors(songs, train, dim=4, seed=0,
                                         title_vectors=FakeSentenceModel().encode([p.title for p in train]))
    assert x.shape == (len(ids), 4)
    # rock10 and rock11 are in no training playlist: their album (rock lp) gives them a context; "lonely" has none
    assert "rock11" in ids and "chill11" in ids and "lonely" not in ids
    row = {s: i for i, s in enumerate(ids)}
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    same = unit[row["rock0"]] @ unit[row["rock11"]]
    other = unit[row["rock0"]] @ unit[row["chill0"]]
    assert same > other + 0.5


def test_artist_collab_gives_every_song_of_an_artist_its_vector():
    songs, train = songs_and_playlists()
    ids, x = embed.artist_collaborative_vectors(songs, train, dim=2, seed=0, method="ppmi")
    row = {s: i for i, s in enumerate(ids)}
    assert "lonely" not in ids and "rock11" in ids  # rock11 (cold) shares rock band 2 with rock2, rock5, rock8
    assert np.allclose(x[row["rock11"]], x[row["rock2"]])
    with pytest.raises(Exception, match="context_features"):
        embed.artist_collaborative_vectors(songs, train, dim=64, seed=0, method="ppmi")  # 6 artists cannot fill 64 dims


def test_weighted_feature_sets_by_hand():
    a = FeatureSet("a", ["x", "y"], np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32))
    b = FeatureSet("b", ["x"], np.array([[0.0, 1.0]], dtype=np.float32))
    out = combine_feature_sets([a, b], ["x", "y", "z"], True, {"a": 1.0, "b": 3.0})
    assert out.song_ids == ["x", "y"] and out.songs_without_features == ["z"]
    assert np.allclose(out.vectors, [[0.25, 0.75], [1.0, 0.0]])  # y lacks b: the mean of what it has
    assert feature_weights(["a", "b"]) == {"a": 1.0, "b": 1.0}
    assert feature_weights({"a": 2, "b": 0.5}) == {"a": 2.0, "b": 0.5}


@pytest.mark.parametrize("bad", [{"a": 0}, {"a": -1}, {}, {"../x": 1}, ["a", 3]])
def test_bad_feature_weights_are_refused_by_params(bad):
    from playlistgen.common.params import weighted_names

    assert weighted_names(bad) is not None
    assert weighted_names({"a": 2, "b": 1}) is None and weighted_names(["a"]) is None


def write_tables(directory, songs, playlists):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "songs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["song_id", "title", "artist", "album"])
        w.writeheader()
        w.writerows(songs)
    with open(directory / "playlists.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["playlist_id", "title", "song_ids"])
        w.writerows([[p.playlist_id, p.title, "|".join(p.song_ids)] for p in playlists])


def test_no_validation_or_test_playlist_reaches_any_song_vector_or_id(tmp_path, monkeypatch):
    """Import twice: the second time every validation and test playlist has another title and other songs. Every
    feature set, every popularity and every semantic ID must come out the same."""
    from playlistgen.data.corpus import split_of
    from playlistgen.data.importers import import_files_catalog
    from playlistgen.common.params import load
    from stages import quantize

    monkeypatch.setattr(embed, "sentence_model", lambda: FakeSentenceModel())
    monkeypatch.setenv("PLAYLISTGEN_CACHE_DIR", "")  # a fake model's vectors must not reach the shared cache
    monkeypatch.setattr(embed, "_ENCODED", {})
    rng = np.random.default_rng(0)
    songs = [{"song_id": f"s{i}", "title": f"{g} tune {i}", "artist": f"{g} band {i % 7}", "album": f"{g} lp {i % 5}"}
             for i, g in enumerate(["rock", "chill", "rap"] * 40)]
    genre_titles = {"rock": "rock guitar", "chill": "chill sleep", "rap": "rap beats"}
    playlists = [Playlist(f"pl{k}", f"{g} {k}", [s["song_id"] for s in rng.choice(songs[j::3], 8, replace=False)])
                 for k in range(90) for j, g in [(k % 3, list(genre_titles.values())[k % 3])]]
    held = [p for p in playlists if split_of(p.playlist_id, 0, 0.2, 0.2) != "train"]
    assert 10 < len(held) < 60
    changed = [p if p not in held else Playlist(p.playlist_id, "rap beats 🔥 guitar sleep",
                                                [s["song_id"] for s in songs[::-1][:10]]) for p in playlists]
    params = load("params.yaml")
    params["quantize"].update(features={"title_context": 2, "artist_collab": 1, "collab": 1, "text": 0.5},
                              codebook_size=4, num_levels=2, max_points_per_centroid=64, init_points_per_centroid=8)
    out = {}
    for name, pls in (("original", playlists), ("changed", changed)):
        write_tables(tmp_path / name, songs, pls)
        raw = tmp_path / name / "raw"
        import_files_catalog(tmp_path / name / "songs.csv", tmp_path / name / "playlists.csv", {}, raw, 8, "ppmi", 0, 0.2,
                             0.2, text_features=True, context_features=True)
        monkeypatch.chdir(tmp_path / name)
        params["base"].update(raw_dir=str(raw), work_dir=str(tmp_path / name / "work"))
        quantize.main(params)
        out[name] = (load_catalog(raw), (tmp_path / name / "work/quantize/song_semantic_ids.jsonl").read_text())
    (before, ids_before), (after, ids_after) = out["original"], out["changed"]
    assert set(before.features) == {"collab", "text", "title_context", "artist_collab"}
    for name, fs in before.features.items():
        assert fs.song_ids == after.features[name].song_ids and np.array_equal(fs.vectors, after.features[name].vectors)
    assert {s: v.popularity for s, v in before.songs.items()} == {s: v.popularity for s, v in after.songs.items()}
    assert ids_before == ids_after
    assert [p.title for p in after.playlists] != [p.title for p in before.playlists]  # the change did happen


def test_prefix_report_by_hand():
    codes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    pure = prefix_report(codes, ["a", "a", "b", "b"])
    assert [r["prefixes"] for r in pure] == [2, 4] and pure[0]["songs_per_prefix_max"] == 2
    assert pure[0]["label_nmi"] == pytest.approx(1.0) and pure[0]["label_majority_share"] == 1.0
    mixed = prefix_report(codes, ["a", "b", "a", None])  # prefix 0 holds a and b, prefix 1 holds a (+ unlabelled)
    assert mixed[0]["label_majority_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert mixed[1]["label_majority_share"] == 1.0  # every full ID holds one song
    assert "label_nmi" not in prefix_report(codes)[0]


def test_oracle_clusters_are_the_playlists_own_most_characteristic_ones():
    from playlistgen.data.corpus import Example
    from playlistgen.evaluation.realdev import oracle_clusters

    cluster_of_song = {"a": "0-0", "b": "0-0", "c": "1-1", "d": "2-2"}
    train = [Example("t1", "x", [], ["a", "c"]), Example("t2", "y", [], ["b", "c"])]
    # count x (1 + ln((1 + 2 training playlists) / (1 + holding))): 0-0 2 x 1 = 2 (in both, twice here), 1-1 1 x 1,
    # 2-2 1 x (1 + ln 3) = 2.10 (in none): what sets the playlist apart comes first
    assert oracle_clusters([["c", "a", "b", "d", "unknown"]], train, cluster_of_song, 2) == [["2-2", "0-0"]]


def test_strongest_baseline_is_the_one_with_the_best_mean():
    from playlistgen.evaluation.realdev import vs_strongest

    rows = {"model": [{"genre@20": 0.9}, {"genre@20": 0.7}], "title_knn": [{"genre@20": 0.5}, {"genre@20": 0.5}],
            "tfidf_word_knn": [{"genre@20": 0.6}, {"genre@20": 0.6}], "title_profile": [{"genre@20": 1.0}] * 2}
    out = vs_strongest(rows, 200, 0)
    assert out["genre@20"]["baseline"] == "tfidf_word_knn"  # title_profile is the model's own order, not a lookup
    assert out["genre@20"]["model"]["diff"] == pytest.approx(0.2)
