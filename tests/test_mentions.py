"""Artists a title names (playlistgen.lookup.mentions), and how the ranked list and the drawn playlist put them first."""
import numpy as np

from playlistgen.ids.clusters import ClusterIndex, draw_keys, sample_playlist
from playlistgen.data.corpus import Example
from playlistgen.lookup.mentions import ArtistMentions, words

ARTISTS = {"g1": "Guns N' Roses", "g2": "Guns N' Roses", "b1": "The Band", "c1": "The Band CAMINO", "u1": "Fun.",
           "j1": "Janelle Monáe", "l1": "Lami Sorako", "i1": "Intro", "i2": "Intro",
           **{f"{k}{i}": name for k, name in (("f", "Future"), ("m", "Muse"), ("s", "Scorpions")) for i in range(1, 6)}}


def test_words_fold_case_accents_and_punctuation():
    assert words("This Is: Janelle Monáe!") == ("this", "is", "janelle", "monae")
    assert words("Guns N' Roses") == ("guns", "n", "roses")


def test_names_are_whole_words_and_the_longest_overlap_wins():
    m = ArtistMentions(ARTISTS)
    assert m.named("This Is Guns N' Roses") == [("guns", "n", "roses")]
    assert m.named("Indie Poptimism (PUBLIC, The Band CAMINO)") == [("the", "band", "camino")]
    assert m.named("this is the band") == [("the", "band")]
    assert m.named("Museum of sound") == []  # not a whole word
    assert m.named("Tastemakers - POP and FUN") == []  # a one-word name under 4 letters is never matched
    assert m.named("Intro to Indie") == []  # nor one with under 5 catalog songs
    assert m.named("Muse Radio / Scorpions") == [("muse",), ("scorpions",)]
    assert m.songs("muse radio") == ["m1", "m2", "m3", "m4", "m5"]
    assert m.songs("this is guns n roses") == ["g1", "g2"]
    assert m.songs("this is guns n roses", {"g1": 1.0, "g2": 3.0}) == ["g2", "g1"]


def test_one_dropped_letter_is_a_typo_only_where_the_name_stays_distinctive():
    m = ArtistMentions(ARTISTS)
    assert m.named("best of lmi sorako") == [("lami", "sorako")]  # two words: each may drop a letter
    assert m.named("this is scorpins") == [("scorpions",)]  # one word of 9 letters
    assert m.named("mse radio") == []  # one word of 4 letters: "mse" is not Muse
    assert m.named("best of lmi srako") == [("lami", "sorako")]


def test_names_the_training_titles_use_for_something_else_are_excluded():
    train = [Example("p1", "Future House", [], ["x1", "x2"]), Example("p2", "future house 2020", [], ["x3"]),
             Example("p3", "Muse essentials", [], ["m1", "x1"])]
    m = ArtistMentions.from_training(ARTISTS, train)
    assert m.excluded == {("future",)}  # neither "Future House" playlist holds a song of Future
    assert m.named("Future House") == [] and m.named("muse radio") == [("muse",)]
    assert m.named("Future House", exclude=False) == [("future",)]


INDEX = ClusterIndex(1, 4, {"a": ["a1", "a2", "s1"], "b": ["b1", "b2"], "c": ["c1", "s2"]})


def test_ranked_songs_put_the_named_songs_first_even_outside_the_generated_clusters():
    weights = {"a1": 5.0, "a2": 4.0, "b1": 3.0, "b2": 2.0, "s1": 0.5, "s2": 1.0, "c1": 9.0}
    assert INDEX.ranked_songs(["a", "b"], 7, weights) == ["a1", "a2", "b1", "b2", "s1"]
    # among themselves by score: s1 (0.5, cluster rank 0) over s2 (1.0 / (1 + 2), joined after the generated ones)
    assert INDEX.ranked_songs(["a", "b"], 7, weights, named=["s1", "s2"]) == ["s1", "s2", "a1", "a2", "b1", "b2"]
    assert INDEX.ranked_songs(["a", "b"], 3, weights, named=["s1", "s2"], rank_discount=0.0) == ["s2", "s1", "a1"]


def test_a_drawn_playlist_takes_the_named_artists_clusters_first_and_their_songs_there():
    assert draw_keys(["b", "a"], INDEX) == ["b", "a"]
    assert draw_keys(["b", "a"], INDEX, ["s2", "s1"]) == ["c", "a", "b"]
    assert draw_keys(["b", "a", "b", "a", "a"], INDEX, ["s2", "s1"]) == ["c", "a", "a", "a", "b", "b"]  # slots kept
    rng = np.random.default_rng(0)
    for _ in range(20):
        picked = sample_playlist(draw_keys(["b", "a"], INDEX, ["s2", "s1"]), INDEX, rng, named=["s2", "s1"])
        assert [s for s, _ in picked][:2] == ["s2", "s1"] and [k for _, k in picked] == ["c", "a", "b"]


def test_names_in_a_script_without_spaces_are_found_inside_the_titles_words():
    artists = {**{f"z{i}": "周杰伦" for i in range(5)}, **{f"k{i}": "あいみょん" for i in range(5)}, "q1": "快乐"}
    m = ArtistMentions(artists)
    assert m.named("周杰伦精选") == [("周杰伦",)]
    assert m.named("深夜学习 周杰伦") == [("周杰伦",)]
    assert m.named("あいみょんの歌") == [("あいみょん",)]
    assert m.named("快乐时光") == []  # a name of one catalog song is never matched, in any script
    assert m.songs("周杰伦精选") == [f"z{i}" for i in range(5)]
