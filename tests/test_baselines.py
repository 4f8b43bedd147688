"""Hand-computed cases for every baseline and for the model's song order (what reaches metrics/evaluate.json)."""
import numpy as np
import pytest

from helpers import ROOT

from playlistgen.lookup.baselines import (ExactTitleBaseline, PopularityBaseline, TagMatchBaseline, TitleKnnBaseline,
                                   TitleProfileBaseline)
from playlistgen.ids.clusters import ClusterIndex
from playlistgen.data.corpus import Example
from playlistgen.evaluation.evaluate import has_cjk, score, unseen_wording
from playlistgen.inference.recommend import model_recommendations
from playlistgen.inference.recommend import SongTitleProfiles

TRAIN = [Example("p1", "rainy piano", ["0-0", "0-0", "1-0"], ["a", "b", "c"]),
         Example("p2", "Rainy  Piano", ["0-0", "2-0"], ["a", "e"]),
         Example("p3", "gym rock", ["3-0", "3-0"], ["f", "g"])]
INDEX = ClusterIndex(2, 4, {"0-0": ["a", "b"], "1-0": ["c"], "2-0": ["e"], "3-0": ["f", "g", "h", "i"]})


def test_popularity_ignores_the_title():
    recs = PopularityBaseline(TRAIN).recommend(["x", "y"], [2, 1], 3)
    assert recs[0].songs == recs[1].songs == ["a", "b", "c"]  # a in 2 playlists, then first-seen order
    assert recs[0].clusters == ["0-0", "3-0"] and recs[1].clusters == ["0-0"]


def test_exact_title_pools_same_titles_and_falls_back():
    knn = TitleKnnBaseline(TRAIN, 2, (2, 3), {k: len(v) for k, v in INDEX.songs_in_cluster.items()})
    exact = ExactTitleBaseline(TRAIN, knn, {k: len(v) for k, v in INDEX.songs_in_cluster.items()})
    rec, other = exact.recommend(["RAINY piano", "gym rocks"], [2, 2], 3)
    assert rec.songs == ["a", "b", "c"]  # a in both "rainy piano" playlists
    # clusters: 0-0 three times / sqrt(2) = 2.12; 1-0 and 2-0 once / 1
    assert rec.clusters == ["0-0", "1-0"]
    assert other.songs[:2] == ["f", "g"]  # no verbatim match: TF-IDF kNN finds "gym rock"


def test_knn_divides_cluster_scores_by_sqrt_size():
    sizes = {"0-0": 2, "1-0": 1, "3-0": 16}
    plain = TitleKnnBaseline(TRAIN[2:] + TRAIN[:1], 2, (2, 3)).recommend(["gym rock piano"], [1], 2)[0]
    normed = TitleKnnBaseline(TRAIN[2:] + TRAIN[:1], 2, (2, 3), sizes).recommend(["gym rock piano"], [1], 2)[0]
    assert plain.clusters == ["3-0"] and normed.clusters != ["3-0"]


def test_tag_match_ranks_songs_by_matching_tags():
    tags = {"a": ["piano", "rainy"], "b": ["piano"], "c": [], "e": ["rock"], "f": ["rock", "gym"]}
    sizes = {k: len(v) for k, v in INDEX.songs_in_cluster.items()}
    rec = TagMatchBaseline(TRAIN, tags, INDEX.cluster_of_song, sizes).recommend(["Rainy Piano"], [1], 3)[0]
    assert rec.songs == ["a", "b", "c"]  # a matches 2 tags, b 1, then the most popular unmatched
    assert rec.clusters == ["0-0"]


def test_song_title_profiles_and_title_aware_order():
    vectors = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)  # the 3 training titles
    profiles = SongTitleProfiles.from_playlists(TRAIN, vectors)
    # a is in p1 and p2: mean (0.8, 0.4) normalised; f only in p3
    assert np.allclose(profiles.vectors[profiles.row["a"]], np.array([0.8, 0.4]) / np.hypot(0.8, 0.4))
    query = np.array([0.0, 1.0], dtype=np.float32)
    scores = profiles.scores(query, ["f", "b", "unknown"])
    assert scores[0] == pytest.approx(1.0) and scores[1] == pytest.approx(0.0)
    assert scores[2] == pytest.approx(0.5)  # no profile: the mean of the others
    weights = {"a": 2.0, "b": 1.0, "c": 1.0, "e": 1.0, "f": 1.0, "g": 1.0, "h": 0.5, "i": 0.5}
    plain = INDEX.ranked_songs(["0-0", "3-0"], 3, weights)
    aware = INDEX.ranked_songs(["0-0", "3-0"], 3, weights, lambda ids: profiles.scores(query, ids), 5.0)
    assert plain == ["a", "b", "f"]  # 2/1, 1/1, then 1/2 for the second cluster (f before g by depth)
    # exp(5 x cos): f and g of "gym rock" (cos 1 with the query) now beat a (cos 0.447)
    assert aware[:2] == ["f", "g"]
    recs = model_recommendations([["0-0", "3-0"]], INDEX, 3, weights, policy(title_ranking=5.0, cluster_rank_discount=1.0), profiles, query[None])
    assert recs[0].songs == aware and recs[0].clusters == ["0-0", "3-0"]
    catalog = TitleProfileBaseline(profiles, weights, 5.0, _FixedEncoder(query), INDEX)
    assert catalog.recommend(["anything"], [2], 2)[0].songs == ["f", "g"]
    # the draw weights: the ranking score, scaled to a largest of 1, raised to the sharpness
    from playlistgen.inference.recommend import title_aware_weights

    plain_draw = title_aware_weights(profiles, query, ["a", "f"], 5.0, weights, None, 0.0, 1.0)
    cos_a = 0.4 / np.hypot(0.8, 0.4)
    expected = 2.0 * np.exp(5.0 * cos_a) / np.exp(5.0)  # a relative to f (weight 1, cos 1)
    assert plain_draw["f"] == pytest.approx(1.0) and plain_draw["a"] == pytest.approx(expected, rel=1e-5)
    sharp = title_aware_weights(profiles, query, ["a", "f"], 5.0, weights, None, 0.0, 3.0)
    assert sharp["a"] == pytest.approx(expected ** 3, rel=1e-5)
    fused = title_aware_weights(profiles, query, ["a", "f"], 5.0, weights, {"a": 1.0}, 1.0, 1.0)
    assert fused["a"] / fused["f"] == pytest.approx(expected * 11.0, rel=1e-5)  # (1 + 10 x 1/1)^1


class _FixedEncoder:
    def __init__(self, vector):
        self.vector = vector

    def sentence_vectors(self, titles):
        return np.stack([self.vector] * len(titles))


def test_lexical_profiles_add_the_words_a_sentence_model_reads_past():
    # sentence vectors that cannot tell the titles apart: only the n-grams can
    train = [Example("p1", "pop remixes", ["0-0"], ["a", "b"]),
             Example("p2", "pop hits", ["0-0"], ["b", "c"]),
             Example("p3", "chill", ["1-0"], ["d"])]
    same = _FixedEncoder(np.array([1.0, 0.0], dtype=np.float32))
    plain = SongTitleProfiles.from_training(train, same)
    query = plain.queries(["Pop Remixes"], same)[0]
    assert np.allclose(plain.scores(query, ["a", "b", "c", "d"]), 1.0)  # no lexical part: all equal
    lexical = SongTitleProfiles.from_training(train, same, lexical_weight=1.0, ngram=(2, 4))
    query = lexical.queries(["Pop Remixes"], same)[0]
    a, b, c, d, unknown = lexical.scores(query, ["a", "b", "c", "d", "new"])
    # a's only title is the query's (cosine 1 on both parts); b's profile is the mean of "pop remixes" and
    # "pop hits"; c has only "pop hits"; d shares no n-gram with the query: (1 + 0) / 2
    assert a == pytest.approx(1.0, abs=1e-5) and a > b > c > d and d == pytest.approx(0.5, abs=1e-5)
    assert unknown == pytest.approx(np.mean([a, b, c, d]), abs=1e-5)
    vec = lexical.vectorizer.transform(["pop remixes", "pop hits"]).toarray()
    mean = vec.sum(0) / np.linalg.norm(vec.sum(0))
    assert b == pytest.approx((1.0 + float(mean @ vec[0])) / 2, abs=1e-5)  # weight 1: the plain mean of both
    shared = SongTitleProfiles.from_training(train, same, 1.0, (2, 4), TitleKnnBaseline(train, 2, (2, 4)))
    assert np.allclose(shared.scores(shared.queries(["Pop Remixes"], same)[0], ["a", "b", "c", "d"]), [a, b, c, d])
    # a bare sentence vector (as older callers pass) reads the sentence part only
    assert np.allclose(lexical.scores(np.array([1.0, 0.0], dtype=np.float32), ["a", "d"]), 1.0)
    ranked = INDEX.ranked_songs(["0-0"], 2, {"a": 1.0, "b": 3.0}, lambda ids: lexical.scores(query, ids), 20.0)
    assert ranked == ["a", "b"]  # the title's words beat b's ranking weight of 3
    assert INDEX.ranked_songs(["0-0"], 2, {"a": 1.0, "b": 3.0}, lambda ids: plain.scores(query, ids), 20.0) == ["b", "a"]


def policy(**changes):
    """The params.yaml ranking policy with `changes` (ranking.RankingPolicy)."""
    from dataclasses import replace

    from playlistgen.common.params import load
    from playlistgen.inference.ranking import RankingPolicy

    return replace(RankingPolicy.from_params(load(ROOT / "params.yaml")["evaluate"]), **changes)


def test_score_on_a_worked_case():
    recs = model_recommendations([["0-0", "3-0"]], INDEX, 2, {"a": 3, "f": 2, "b": 1}, policy(title_ranking=0.0, cluster_rank_discount=1.0))
    truth = [Example("t", "x", [], ["a", "f", "z"])]
    out = score(recs, truth, INDEX, [2], catalog_size=10)
    # expansion {a, b, f, g, h, i} vs truth {a, f, z}: P 2/6, R 2/3
    assert out["expansion_precision"] == pytest.approx(1 / 3, abs=1e-4) and out["expansion_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["ndcg@2"] == pytest.approx(1.0)  # a then f (3/1 > 2/2 > 1/1), both relevant
    assert out["r_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["cluster_f1"] == pytest.approx(1.0)  # truth clusters {0-0, 3-0}; z has none
    assert out["coverage@2"] == pytest.approx(0.2)


def test_slices():
    assert unseen_wording(["haunted 1995", "dark 1995", "1995"], ["dark rock", "halloween"]) == [True, False, True]
    assert [has_cjk(t) for t in ("深夜学习", "rainy", "años 80")] == [True, False, False]
