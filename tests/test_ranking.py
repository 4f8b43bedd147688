"""The ranking policy: one typed object from params.yaml or a bundle manifest, methods as named policies, no
guessed defaults for older bundles."""
from dataclasses import fields

import pytest

from helpers import ROOT
from playlistgen.ids.clusters import ClusterIndex
from playlistgen.common.io import DataError
from playlistgen.common.params import load
from playlistgen.inference.ranking import RankingPolicy

EVALUATE = load(ROOT / "params.yaml")["evaluate"]


def test_policy_round_trips_through_a_manifest():
    policy = RankingPolicy.from_params(EVALUATE)
    assert RankingPolicy.from_manifest(policy.to_dict(), "manifest.json") == policy
    assert policy.title_ranking == EVALUATE["title_ranking"] and policy.knn_ngram == tuple(EVALUATE["knn_ngram"])


@pytest.mark.parametrize("missing", [f.name for f in fields(RankingPolicy)])
def test_an_older_bundle_is_refused_not_guessed(missing):
    decode = RankingPolicy.from_params(EVALUATE).to_dict()
    del decode[missing]
    with pytest.raises(DataError, match=f"{missing}.*export it again"):
        RankingPolicy.from_manifest(decode, "data/bundle/manifest.json")


def test_methods_are_named_policies():
    shipped = RankingPolicy.from_params({**EVALUATE, "knn_fusion": 1.0, "artist_mentions": True})
    alone = shipped.for_method("model")
    assert alone.knn_fusion == 0 and not alone.artist_mentions
    assert alone.title_ranking == shipped.title_ranking  # the same song order otherwise
    assert shipped.for_method("model_knn") is shipped
    with pytest.raises(DataError, match="model_knn would be the model alone"):
        alone.for_method("model_knn")
    with pytest.raises(DataError, match="model_knn, model"):
        shipped.for_method("popularity")
    # artist mentions are a model_knn lookup: without fusion the params' switch does not turn them on
    assert not RankingPolicy.from_params({**EVALUATE, "knn_fusion": 0.0, "artist_mentions": True}).artist_mentions


def test_the_model_alone_ignores_the_lookups_it_is_given():
    index = ClusterIndex(2, 4, {"0-0": ["a", "b"], "1-1": ["c"]})
    shipped = RankingPolicy.from_params({**EVALUATE, "knn_fusion": 1.0, "artist_mentions": True,
                                         "cluster_score_power": 0.0, "cluster_rank_discount": 1.0})
    weights = {"a": 2.0, "b": 1.0, "c": 1.0}
    neighbours, named = {"c": 5.0}, ["c"]
    with_lookups = shipped.rank(index, ["0-0"], 3, weights, neighbours=neighbours, named=named)
    alone = shipped.for_method("model").rank(index, ["0-0"], 3, weights, neighbours=neighbours, named=named)
    assert with_lookups[0] == "c"  # the named artist's song first, from outside the generated cluster
    assert alone == ["a", "b"]  # the generated cluster's songs only


def test_every_ranking_setting_lives_in_params_yaml():
    """No ranking default outside params.yaml: every field of the policy is a key of the evaluate block."""
    assert {f.name for f in fields(RankingPolicy)} <= set(EVALUATE)


def test_popularity_power_damps_the_head_of_the_catalog():
    from dataclasses import replace

    counts, popularity = {"hit": 100, "niche": 4}, {"hit": 0.0, "niche": 0.0}
    policy = RankingPolicy.from_params({**EVALUATE, "popularity_power": 1.0})
    assert policy.song_weights(counts, popularity) == {"hit": 100.0, "niche": 4.0}
    damped = replace(policy, popularity_power=0.5).song_weights(counts, popularity)
    assert damped == {"hit": 10.0, "niche": 2.0}  # 25x apart becomes 5x: the title and the cluster decide more
    index = ClusterIndex(2, 4, {"0-0": ["hit", "niche"]})
    scores = lambda ids: [0.0 if s == "hit" else 0.1 for s in ids]  # noqa: E731 - niche fits the title better
    policy = replace(policy, title_ranking=20.0, cluster_score_power=0.0)
    assert policy.rank(index, ["0-0"], 2, policy.song_weights(counts, popularity), scores) == ["hit", "niche"]
    damped_policy = replace(policy, popularity_power=0.5)
    assert damped_policy.rank(index, ["0-0"], 2, damped_policy.song_weights(counts, popularity), scores) == [
        "niche", "hit"]  # exp(2) x 2 > 10 x 1 once the count is damped
