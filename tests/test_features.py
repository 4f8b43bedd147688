import numpy as np
import pytest

from playlistgen.data.catalog import FeatureSet
from playlistgen.data.features import combine_feature_sets
from playlistgen.common.io import DataError


def test_mean_over_the_sets_a_song_has():
    a = FeatureSet("audio", ["s1", "s2"], np.array([[1, 0], [0, 2]], dtype=np.float32))
    b = FeatureSet("lyrics", ["s1", "s3"], np.array([[3, 0], [0, 4]], dtype=np.float32))
    out = combine_feature_sets([a, b], ["s1", "s2", "s3", "s4"], normalize_each=False)
    assert out.song_ids == ["s1", "s2", "s3"]
    np.testing.assert_allclose(out.vectors, [[2, 0], [0, 2], [0, 4]])
    assert out.songs_without_features == ["s4"]


def test_normalize_each_puts_sets_on_one_scale():
    a = FeatureSet("audio", ["s1"], np.array([[100, 0]], dtype=np.float32))
    b = FeatureSet("lyrics", ["s1"], np.array([[0, 1]], dtype=np.float32))
    out = combine_feature_sets([a, b], ["s1"], normalize_each=True)
    np.testing.assert_allclose(out.vectors, [[0.5, 0.5]])


def test_mismatched_dimensions_are_a_clear_error():
    a = FeatureSet("audio", ["s1"], np.zeros((1, 2), dtype=np.float32))
    b = FeatureSet("lyrics", ["s1"], np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(DataError, match="different dimensions"):
        combine_feature_sets([a, b], ["s1"], normalize_each=False)
