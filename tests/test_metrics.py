import math

import pytest

from playlistgen.evaluation.metrics import (intra_list_diversity, jaccard, ndcg_at_k, precision_at_k, r_precision, recall_at_k,
                                 set_precision_recall_f1)

TRUTH = {"a", "b", "c", "d"}


def test_perfect_case():
    assert set_precision_recall_f1(TRUTH, TRUTH) == (1.0, 1.0, 1.0)
    ranked = ["a", "b", "c", "d"]
    assert r_precision(ranked, TRUTH) == 1.0
    assert ndcg_at_k(ranked, TRUTH, 10) == pytest.approx(1.0)
    assert recall_at_k(ranked, TRUTH, 2) == 0.5  # hits / |truth|: 2 of the 4 songs found in the first 2
    assert recall_at_k(ranked, TRUTH, 10) == 1.0
    assert precision_at_k(ranked, TRUTH, 4) == 1.0


def test_no_hit_case():
    ranked = ["x", "y", "z"]
    assert set_precision_recall_f1(set(ranked), TRUTH) == (0.0, 0.0, 0.0)
    assert r_precision(ranked, TRUTH) == 0.0
    assert ndcg_at_k(ranked, TRUTH, 10) == 0.0
    assert recall_at_k(ranked, TRUTH, 10) == 0.0
    assert set_precision_recall_f1(set(), TRUTH) == (0.0, 0.0, 0.0)


def test_hand_computed_case():
    predicted = {"a", "b", "x", "y", "z"}  # 2 hits of 5 predicted, 4 true
    p, r, f = set_precision_recall_f1(predicted, TRUTH)
    assert (p, r) == (0.4, 0.5)
    assert f == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    ranked = ["x", "a", "y", "b"]
    assert r_precision(ranked, TRUTH) == 0.5
    # hits at ranks 2 and 4: (1/log2(3) + 1/log2(5)) / (1 + 1/log2(3) + 1/log2(4) + 1/log2(5))
    ideal = 1 + 1 / math.log2(3) + 0.5 + 1 / math.log2(5)
    assert ndcg_at_k(ranked, TRUTH, 4) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert recall_at_k(ranked, TRUTH, 3) == 0.25  # 1 hit in the first 3, of 4 true songs
    assert precision_at_k(ranked, TRUTH, 10) == 0.2


def test_repeated_item_earns_no_second_gain():
    assert ndcg_at_k(["a", "a"], {"a", "b"}, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_diversity_and_jaccard():
    assert intra_list_diversity([[1, 0], [1, 0]]) == pytest.approx(0.0)
    assert intra_list_diversity([[1, 0], [0, 1]]) == pytest.approx(1.0)
    assert intra_list_diversity([[1, 0]]) == 0.0
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)


def test_length_buckets():
    from playlistgen.evaluation.evaluate import length_bucket

    assert [length_bucket(n, [15, 29]) for n in (1, 15, 16, 29, 30, 99)] == ["1-15", "1-15", "16-29", "16-29",
                                                                             ">=30", ">=30"]


def test_ndcg_when_truth_is_longer_than_k():
    """The ideal DCG has min(|truth|, K) hits: a list of K hits is perfect however long the playlist is."""
    truth = {f"s{i}" for i in range(30)}
    assert ndcg_at_k(["s0", "s1", "s2"], truth, 3) == pytest.approx(1.0)
    # one hit at rank 2 of K=3, |truth| 30: (1/log2 3) / (1 + 1/log2 3 + 1/2)
    assert ndcg_at_k(["x", "s5", "y"], truth, 3) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3) + 0.5))


def test_label_precision_counts_unlabelled_and_missing_items_as_misses():
    from playlistgen.evaluation.metrics import label_precision_at_k

    genre = {"a": "rock", "b": "rock", "c": "pop"}
    assert label_precision_at_k(["a", "b"], genre, "rock", 2) == 1.0
    assert label_precision_at_k(["c", "x"], genre, "rock", 2) == 0.0
    assert label_precision_at_k(["a", "c", "x", "b"], genre, "rock", 4) == 0.5
    assert label_precision_at_k(["a"], genre, "rock", 4) == 0.25  # a short list still divides by k


def test_top_list_diversity_detects_one_list_for_everyone():
    from playlistgen.evaluation.metrics import top_list_diversity

    same = [["a", "b", "c"]] * 4
    assert top_list_diversity(same, 2) == (0.25, 1.0)
    varied = [["a", "b"], ["a", "c"], ["a", "b", "x"], ["d"]]
    assert top_list_diversity(varied, 2) == (0.75, 0.5)  # ["a","b"] twice at k=2


def test_commonest_item_share_by_hand():
    from playlistgen.evaluation.metrics import commonest_item_share

    lists = [["a", "b", "c"], ["b", "a"], ["d", "b"], ["e"]]
    assert commonest_item_share(lists, 2) == 0.75  # b is in three of four top-2 lists
    assert commonest_item_share(lists, 1) == 0.25  # no first item repeats
    assert commonest_item_share([["x", "x"]] * 2, 2) == 1.0  # a repeat inside a list counts once
    assert commonest_item_share([], 10) == 0.0


def test_paired_bootstrap_interval():
    from playlistgen.evaluation.metrics import paired_bootstrap

    better = paired_bootstrap([1.0, 0.9, 0.8, 1.0] * 10, [0.5, 0.4, 0.6, 0.5] * 10, 500, 0)
    assert better["diff"] == pytest.approx(0.425) and better["lo"] > 0
    tie = paired_bootstrap([1.0, 0.0] * 20, [0.0, 1.0] * 20, 500, 0)
    assert tie["diff"] == 0.0 and tie["lo"] < 0 < tie["hi"]


def test_sampled_playlist_metrics_hand_computed():
    from playlistgen.ids.clusters import ClusterIndex
    from playlistgen.data.corpus import Example
    from playlistgen.evaluation.evaluate import sampled_playlist_metrics

    index = ClusterIndex(2, 4, {"0-0": ["a", "b"], "0-1": ["c"], "1-0": ["d"]})
    examples = [Example("p", "t", ["0-0"], ["c", "d", "x"])]
    # one song per cluster: {a or b}, c, d -> 2 hits of 3; cut at 2 songs: {a or b}, c -> 1 hit of 2
    out = sampled_playlist_metrics([["0-0", "0-1", "1-0"]], examples, index, {"a": "A", "b": "A", "c": "C", "d": "A"}, 0)
    assert out["sampled_precision"] == pytest.approx(2 / 3, abs=1e-4) and out["sampled_length"] == 3
    assert out["sampled_distinct_artists"] == 2
    cut = sampled_playlist_metrics([["0-0", "0-1", "1-0"]], examples, index, {}, 0, playlist_length=2)
    assert cut["sampled_precision"] == 0.5 and cut["sampled_length"] == 2
    # weights that put everything on "b": both samplings are identical
    pinned = sampled_playlist_metrics([["0-0"]], examples, index, {}, 0,
                                      song_weights=lambda i, ids: {s: (1.0 if s == "b" else 0.0) for s in ids})
    assert pinned["resample_jaccard"] == 1.0 and pinned["sampled_precision"] == 0.0
