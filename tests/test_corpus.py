from helpers import ROOT
from playlistgen.data.catalog import Playlist
from playlistgen.data.corpus import Example, build_examples, order_targets, recommendable, split_examples


def test_repeats_kept_in_order_and_songs_without_id_kept_in_the_truth_only():
    cluster_of_song = {"a": "1-1", "b": "1-1", "c": "2-0"}
    examples, stats = build_examples([Playlist("p", "t", ["a", "x", "c", "b"])], cluster_of_song, max_clusters=10,
                                     min_songs=2)
    assert examples[0].clusters == ["1-1", "2-0", "1-1"]
    assert examples[0].song_ids == ["a", "x", "c", "b"]  # "x" has no features: a miss for every method, still truth
    assert stats["songs_without_semantic_id"] == 1
    assert recommendable(examples, cluster_of_song)[0].song_ids == ["a", "c", "b"]  # the training side


def test_truncation_and_minimum_length():
    cluster_of_song = {s: "0-0" for s in "abcdef"}
    examples, stats = build_examples([Playlist("p1", "t", list("abcdef")), Playlist("p2", "t", ["a"])],
                                     cluster_of_song, max_clusters=4, min_songs=2)
    assert [len(e.clusters) for e in examples] == [4]
    assert len(examples[0].song_ids) == 6  # the truth stays whole
    assert stats["skipped_too_short"] == 1


def test_split_is_deterministic_disjoint_and_order_free():
    cluster_of_song = {"a": "0-0", "b": "0-1"}
    playlists = [Playlist(f"p{i:03d}", "t", ["a", "b"]) for i in range(2000)]
    examples, _ = build_examples(playlists, cluster_of_song, 10, 1)
    one = split_examples(examples, 0.1, 0.2, seed=5)
    two = split_examples(list(reversed(examples)), 0.1, 0.2, seed=5)
    ids = {k: sorted(e.playlist_id for e in v) for k, v in one.items()}
    assert ids == {k: sorted(e.playlist_id for e in v) for k, v in two.items()}
    sizes = {k: len(v) for k, v in ids.items()}
    assert abs(sizes["test"] - 400) < 60 and abs(sizes["val"] - 200) < 45 and sum(sizes.values()) == 2000
    assert not set(ids["train"]) & set(ids["test"])
    # a playlist's split does not depend on the others
    alone = split_examples(examples[:7], 0.1, 0.2, seed=5)
    assert all(e.playlist_id in ids[k] for k, v in alone.items() for e in v)
    other = split_examples(examples, 0.1, 0.2, seed=6)
    assert sorted(e.playlist_id for e in other["test"]) != ids["test"]


def test_characteristic_order_puts_what_sets_a_playlist_apart_first():
    """count x (1 + ln((1 + N) / (1 + training playlists holding the cluster))), distinct, ties in playlist order."""
    train = [Example("t1", "a", ["pop", "pop", "x"], []), Example("t2", "b", ["pop", "y"], []),
             Example("t3", "c", ["pop", "z", "z"], [])]
    test = [Example("q", "d", ["pop", "pop", "z", "y", "new"], [])]
    splits = {"train": train, "val": [], "test": test}
    order_targets(splits, "characteristic", max_clusters=3)
    # N=3: pop held by 3 -> idf 1, scores 2; z held by 1 -> 1 + ln 2 = 1.69; y 1.69; new (0) -> 1 + ln 4 = 2.39
    assert test[0].clusters == ["new", "pop", "z"]
    assert train[2].clusters == ["z", "pop"]  # z: 2 x 1.69 = 3.39 > pop 1
    again = {"train": [Example("t1", "a", ["b", "a", "b"], [])], "val": [], "test": []}
    order_targets(again, "playlist", max_clusters=2)
    assert again["train"][0].clusters == ["b", "a"]


def test_an_empty_playlist_file_stops_the_corpus_stage_with_one_message(tmp_path, monkeypatch):
    import json

    import pytest

    from playlistgen.common.io import DataError
    from playlistgen.common.params import load
    from stages import corpus

    raw, work = tmp_path / "raw", tmp_path / "work"
    raw.mkdir()
    (raw / "songs.jsonl").write_text(json.dumps({"song_id": "s1", "title": "t", "artist": "a"}) + "\n")
    (raw / "playlists.jsonl").write_text("")
    (work / "quantize").mkdir(parents=True)
    (work / "quantize" / "clusters.json").write_text(json.dumps(
        {"cluster_levels": 2, "codebook_size": 4, "clusters": {"0-0": ["s1"]}}))
    params = load(ROOT / "params.yaml")
    params["base"].update(raw_dir=str(raw), work_dir=str(work))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="no playlist has 3 or more songs"):
        corpus.main(params)
    assert not (work / "corpus").exists()  # nothing written
