import numpy as np

from playlistgen.ids.clusters import ClusterIndex, distinct, fusion_factors, ranked_slots, ranking_weights, sample_playlist

INDEX = ClusterIndex(2, 4, {"0-1": ["a", "b", "c"], "1-0": ["d"], "2-2": ["e", "f"]})


def test_expansion_is_the_union_of_cluster_songs():
    assert INDEX.expand(["0-1", "2-2", "0-1"]) == {"a", "b", "c", "e", "f"}
    assert INDEX.cluster_of_song["e"] == "2-2"


def test_ranked_songs_round_robin_in_generated_order():
    assert INDEX.ranked_songs(["2-2", "0-1", "1-0", "2-2"]) == ["e", "a", "d", "f", "b", "c"]
    assert INDEX.ranked_songs(["0-1", "2-2"], limit=3) == ["a", "e", "b"]
    assert distinct(["x", "y", "x"]) == ["x", "y"]


def test_ranked_songs_discount_popularity_by_cluster_rank():
    popularity = {"a": 10, "b": 9, "c": 1, "d": 4, "e": 3, "f": 0}
    # scores with clusters in order 2-2 (rank 0), 0-1 (1), 1-0 (2): e 3, f 0, a 5, b 4.5, c 0.5, d 4/3
    assert INDEX.ranked_songs(["2-2", "0-1", "1-0"], popularity=popularity) == ["a", "b", "e", "d", "c", "f"]
    assert INDEX.ranked_songs(["2-2", "0-1", "1-0"], limit=2, popularity=popularity) == ["a", "b"]
    # equal scores keep the round-robin order
    assert INDEX.ranked_songs(["0-1", "2-2"], popularity={}) == ["a", "e", "b", "f", "c"]


def test_knn_fusion_adds_the_neighbours_songs_and_boosts_what_they_share():
    popularity = {"a": 10, "b": 9, "c": 1, "d": 4, "e": 3, "f": 0}
    neighbours = {"c": 2.0, "d": 1.0, "x": 0.5}  # x has no semantic ID: never a candidate
    # factors (1 + 10 s / 2)^1: c 11, d 6, others 1; 2-2 and 0-1 generated, d (1-0) joins at rank 2
    assert fusion_factors(neighbours, ["c", "d", "a"], 1.0) == [11.0, 6.0, 1.0]
    assert fusion_factors(neighbours, ["c"], 2.0) == [121.0]
    # scores: e 3, f 0, a 10/2 = 5, b 4.5, c 1 x 11 / 2 = 5.5, d 4 x 6 / 3 = 8
    assert INDEX.ranked_songs(["2-2", "0-1"], popularity=popularity, neighbours=neighbours,
                              fusion_weight=1.0) == ["d", "c", "a", "b", "e", "f"]
    # weight 0, or no neighbours: the generated clusters alone, as before
    assert INDEX.ranked_songs(["2-2", "0-1"], popularity=popularity, neighbours=neighbours,
                              fusion_weight=0.0) == ["a", "b", "e", "c", "f"]
    assert INDEX.ranked_songs(["2-2", "0-1"], popularity=popularity, neighbours={}, fusion_weight=1.0) == [
        "a", "b", "e", "c", "f"]


def test_sampling_one_song_per_cluster_never_twice():
    rng = np.random.default_rng(0)
    for _ in range(20):
        picked = sample_playlist(["1-0", "1-0", "0-1", "0-1", "0-1", "0-1"], INDEX, rng)
        songs = [s for s, _ in picked]
        assert len(songs) == len(set(songs)) == 4  # the second 1-0 and the fourth 0-1 have nothing left
        assert picked[0] == ("d", "1-0")


def test_sampling_differs_across_draws_and_popularity_weighting_favours_the_head():
    rng = np.random.default_rng(1)
    draws = {sample_playlist(["0-1"], INDEX, rng)[0][0] for _ in range(30)}
    assert draws == {"a", "b", "c"}
    weighted = [sample_playlist(["0-1"], INDEX, rng, {"a": 100.0, "b": 0.01, "c": 0.01})[0][0] for _ in range(50)]
    assert weighted.count("a") > 45


def test_ranking_weights_count_training_playlists_then_popularity():
    w = ranking_weights({"a": 2, "b": 2, "c": 0}, {"a": 1.0, "b": 5.0, "c": 100.0, "d": 0.0})
    assert sorted(w, key=lambda s: -w[s]) == ["b", "a", "c", "d"]  # c's popularity never outweighs one playlist


def test_rank_discount_sets_how_much_the_cluster_order_counts():
    popularity = {"a": 1.0, "b": 1.0, "e": 3.0, "f": 2.9, "d": 0.1}
    # cluster "0-1" first (a, b, c), then "2-2" (e, f); discount 1: e 3.0 / 2 = 1.5 and f 1.45 beat a 1.0 / 1
    assert INDEX.ranked_songs(["0-1", "2-2"], 3, popularity) == ["e", "f", "a"]
    # discount 2: e 3.0 / 4 = 0.75 < a 1.0
    assert INDEX.ranked_songs(["0-1", "2-2"], 3, popularity, rank_discount=2.0) == ["a", "b", "e"]
    # no discount: the cluster order only breaks ties
    assert INDEX.ranked_songs(["2-2", "0-1"], 3, popularity, rank_discount=0.0) == ["e", "f", "a"]


def test_cluster_scores_replace_the_rank_discount_and_bring_the_likeliest_clusters_in():
    popularity = {"a": 10, "b": 9, "c": 1, "d": 4, "e": 3, "f": 0}
    scores = {"0-1": 0.1, "1-0": 0.6, "2-2": 0.3}
    # generated: 2-2 only; scored_clusters 1 adds 1-0 (the likeliest), not 0-1
    # power 1: e 3 x 0.3 = 0.9, f 0, d 4 x 0.6 = 2.4 (no rank discount)
    assert INDEX.ranked_songs(["2-2"], popularity=popularity, cluster_scores=scores, score_power=1.0,
                              scored_clusters=1) == ["d", "e", "f"]
    # all clusters: a 10 x 0.1 = 1, b 0.9, c 0.1 join; power 2: d 1.44, e 0.27, a 0.1, b 0.09, c 0.01
    assert INDEX.ranked_songs(["2-2"], popularity=popularity, cluster_scores=scores, score_power=2.0,
                              scored_clusters=3) == ["d", "e", "a", "b", "c", "f"]
    # power 1 with a kNN neighbour: c's factor (1 + 10 x 1 / 1) = 11 -> 1.1, above a's 1.0
    assert INDEX.ranked_songs(["2-2"], 3, popularity, neighbours={"c": 1.0}, fusion_weight=1.0,
                              cluster_scores=scores, score_power=1.0, scored_clusters=3) == ["d", "c", "a"]


def test_ranked_slots_repeat_a_cluster_as_often_as_the_ranked_list_holds_it():
    # ranked a, e, b, x (no semantic ID): 0-1 twice, 2-2 once, then the generated 1-0 as a spare
    assert ranked_slots(["a", "e", "b", "x"], INDEX, ["2-2", "1-0", "0-1", "1-0"]) == ["0-1", "2-2", "0-1", "1-0"]
    rng = np.random.default_rng(0)
    for _ in range(10):  # one song per slot: two of 0-1's songs, one of 2-2's, then d from the spare
        picked = sample_playlist(ranked_slots(["a", "e", "b"], INDEX, ["1-0"]), INDEX, rng)
        assert [k for _, k in picked] == ["0-1", "2-2", "0-1", "1-0"] and picked[-1][0] == "d"


def test_named_songs_outside_the_clusters_keep_their_given_order_between_equal_scores():
    """Ties among a named artist's songs are broken by the order given (mentions: by ranking weight, then catalog
    order), never by a set's iteration order, which changes with each process's string hashing."""
    import subprocess
    import sys

    script = ("from playlistgen.ids.clusters import ClusterIndex\n"
              "songs = ['n%d' % i for i in range(8)]\n"
              "index = ClusterIndex(2, 4, {'0-0': ['a'], '1-1': songs})\n"
              "print(','.join(index.ranked_songs(['0-0'], named=songs[::-1], popularity={'a': 1.0})))\n")
    outs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)}).stdout.strip()
            for seed in (0, 1, 2)}
    assert outs == {",".join(f"n{i}" for i in range(7, -1, -1)) + ",a"}
