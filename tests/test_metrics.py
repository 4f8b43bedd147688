import math

import pytest

from playlistgen.metrics import (intra_list_diversity, jaccard, ndcg_at_k, precision_at_k, r_precision, recall_at_k,
                                 set_precision_recall_f1)

TRUTH = {"a", "b", "c", "d"}


def test_perfect_case():
    assert set_precision_recall_f1(TRUTH, TRUTH) == (1.0, 1.0, 1.0)
    ranked = ["a", "b", "c", "d"]
    assert r_precision(ranked, TRUTH) == 1.0
    assert ndcg_at_k(ranked, TRUTH, 10) == pytest.approx(1.0)
    assert recall_at_k(ranked, TRUTH, 2) == 1.0  # denominator min(|truth|, k)
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
    assert recall_at_k(ranked, TRUTH, 3) == pytest.approx(1 / 3)
    assert precision_at_k(ranked, TRUTH, 10) == 0.2


def test_repeated_item_earns_no_second_gain():
    assert ndcg_at_k(["a", "a"], {"a", "b"}, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_diversity_and_jaccard():
    assert intra_list_diversity([[1, 0], [1, 0]]) == pytest.approx(0.0)
    assert intra_list_diversity([[1, 0], [0, 1]]) == pytest.approx(1.0)
    assert intra_list_diversity([[1, 0]]) == 0.0
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)


def test_length_buckets():
    from playlistgen.evaluate import length_bucket

    assert [length_bucket(n, [15, 29]) for n in (1, 15, 16, 29, 30, 99)] == ["1-15", "1-15", "16-29", "16-29",
                                                                             ">=30", ">=30"]
