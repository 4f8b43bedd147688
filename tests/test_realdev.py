"""The real-data check's scoring (playlistgen.evaluation.realdev) and bench/realdev.py's split seeds, on hand-made playlists."""
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from playlistgen.data.corpus import Example
from playlistgen.evaluation.realdev import (playlist_rows, pooled, pooled_redraw, redraw_variety, score_methods, song_labels,
                                 summarise)

ROOT = Path(__file__).resolve().parent.parent
LABELS = {"t1": {"genre": "rock", "subgenre": "hard rock"}, "t2": {"genre": "rock", "subgenre": "classic rock"},
          "t3": {"genre": "pop", "subgenre": "dance pop"}}
TRAIN = [Example("t1", "riffs", ["c1"], ["a", "b"]), Example("t2", "oldies", ["c1"], ["b", "c"]),
         Example("t3", "party", ["c2"], ["c", "d"])]
CLUSTER = {"a": "c1", "b": "c1", "c": "c2", "d": "c2"}


def test_song_labels_take_the_majority_of_the_training_playlists():
    genre = song_labels(TRAIN, LABELS, "genre")
    assert genre == {"a": "rock", "b": "rock", "c": "rock", "d": "pop"}  # c: rock and pop tie, first seen wins
    assert song_labels(TRAIN, LABELS, "subgenre")["b"] == "hard rock"


def test_playlist_rows_hand_computed():
    genre, sub = song_labels(TRAIN, LABELS, "genre"), song_labels(TRAIN, LABELS, "subgenre")
    answers = {"good": [["a", "b"]], "bad": [["d", "x"]]}
    rows = playlist_rows(answers, [["a", "c"]], [{"genre": "rock", "subgenre": "hard rock"}], genre, sub, CLUSTER, 2)
    good, bad = rows["good"][0], rows["bad"][0]
    assert good["genre@2"] == 1.0 and good["subgenre@2"] == 1.0  # a, b: rock, hard rock
    assert bad["genre@2"] == 0.0  # d is pop; x has no label and counts as a miss
    assert good["labelled@2"] == 1.0 and bad["labelled@2"] == 0.5  # x is in no training playlist
    assert good["recall@2"] == 0.5 and bad["recall@2"] == 0.0  # a of {a, c}
    assert good["cluster_f1"] == pytest.approx(2 / 3)  # answered {c1}, true {c1, c2}
    assert bad["cluster_f1"] == pytest.approx(2 / 3)  # answered {c2} (x has no cluster)


def test_pooled_equals_one_split_holding_all_playlists():
    genre, sub = song_labels(TRAIN, LABELS, "genre"), song_labels(TRAIN, LABELS, "subgenre")
    truths = [["a"], ["d"], ["b", "c"]]
    labels = [{"genre": "rock", "subgenre": "hard rock"}, {"genre": "pop", "subgenre": "dance pop"},
              {"genre": "rock", "subgenre": "classic rock"}]
    answers = {"model": [["a", "b"], ["a", "d"], ["c", "d"]], "title_knn": [["d", "c"], ["d", "a"], ["b", "a"]]}
    whole = score_methods(answers, truths, labels, genre, sub, CLUSTER, 2, 200, 0)
    parts = []
    for lo, hi in ((0, 1), (1, 3)):
        part = {m: lists[lo:hi] for m, lists in answers.items()}
        parts.append((playlist_rows(part, truths[lo:hi], labels[lo:hi], genre, sub, CLUSTER, 2), part))
    together = pooled(parts, 200, 0)
    assert together == whole
    assert whole["methods"]["model"]["genre@2"] == pytest.approx((1 + 0.5 + 0.5) / 3, abs=1e-4)
    assert whole["methods"]["title_knn"]["genre@2"] == pytest.approx((0.5 + 0.5 + 1) / 3, abs=1e-4)
    assert whole["ci95_vs_title_knn"]["model"]["genre@2"]["diff"] == pytest.approx(0.0)
    assert "title_knn" not in whole["ci95_vs_title_knn"]  # the reference is never measured against itself
    rows = playlist_rows(answers, truths, labels, genre, sub, CLUSTER, 2)
    assert summarise(rows, answers, 200, 0) == whole


def test_redraw_variety_measures_how_two_draws_differ_and_pools_by_title_count():
    first = {"drawn": [["a", "b", "c"], ["d", "e"]], "model_drawn": [["a", "b"], ["c", "d"]]}
    second = {"drawn": [["a", "b", "x"], ["e", "d"]], "model_drawn": [["y", "z"], ["c", "d", "w"]]}
    one = redraw_variety(first, second, 2)  # the first 2 songs: {a, b} vs {a, b}, {d, e} vs {e, d}
    assert one["drawn"] == {"jaccard": 1.0, "identical_share": 1.0, "titles": 2}
    assert one["model_drawn"] == {"jaccard": 0.5, "identical_share": 0.5, "titles": 2}
    three = redraw_variety(first, second, 3)  # {a, b, c} vs {a, b, x}: 2 shared of 4
    assert three["drawn"]["jaccard"] == pytest.approx((0.5 + 1.0) / 2)
    assert three["drawn"]["identical_share"] == 0.5
    other = redraw_variety({"drawn": [["a"]], "model_drawn": [["a"]]}, {"drawn": [["b"]], "model_drawn": [["a"]]}, 2)
    together = pooled_redraw([one, other])  # 2 titles at 1.0 and 1 at 0.0
    assert together["drawn"]["titles"] == 3
    assert together["drawn"]["jaccard"] == together["drawn"]["identical_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert together["model_drawn"]["jaccard"] == pytest.approx((0.5 * 2 + 1.0) / 3, abs=1e-4)


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_realdev", ROOT / "bench" / "realdev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_realdev_pipeline_covers_every_seed_and_stays_out_of_the_default_run():
    """realdev/dvc.yaml builds, exports and answers once per seed of realdev/params.yaml, and each report reads
    every seed's part; the project's own dvc.yaml (what `dvc repro` runs) has none of it."""
    settings = yaml.safe_load((ROOT / "realdev" / "params.yaml").read_text())["realdev"]
    stages = yaml.safe_load((ROOT / "realdev" / "dvc.yaml").read_text())["stages"]
    for name in ("build", "export", "answer_val", "answer_test"):
        assert stages[name]["foreach"] == "${realdev.seeds}"
    for split in ("val", "test"):
        deps = [d for d in stages[f"report_{split}"]["deps"] if d.startswith("work/")]
        assert deps == [f"work/seed_{s}/{split}.json" for s in settings["seeds"]]
    assert "realdev" not in (ROOT / "dvc.yaml").read_text()
    assert settings["seeds"][0] == yaml.safe_load((ROOT / "params.yaml").read_text())["base"]["seed"]


def test_realdev_params_are_the_projects_with_the_overrides(monkeypatch, tmp_path):
    bench = load_bench()
    (tmp_path / "playlists.csv").write_text("playlist_id,title,song_ids\n")
    here = tmp_path / "realdev"
    here.mkdir()
    text = (ROOT / "realdev" / "params.yaml").read_text()
    (here / "params.yaml").write_text(re.sub(r"(?m)^  data: .*$", "  data: ..", text, count=1))
    monkeypatch.setattr(bench, "HERE", here)
    params, data_dir, seeds = bench.realdev_params(7)
    assert data_dir == tmp_path and seeds[0] == 1234
    assert params["base"]["seed"] == 7 and params["data"]["source"] == "files"
    assert params["data"]["files"]["songs"] == str(tmp_path / "songs.csv")
    assert params["base"]["work_dir"] == str(here / "work" / "seed_7" / "build" / "work")
    assert params["quantize"]["codebook_size"] == 8  # an override; the rest is params.yaml's
    assert params["train"]["d_model"] == yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["d_model"]
    (here / "params.yaml").write_text(re.sub(r"(?m)^  data: .*$", "  data: ..", text, count=1)
                                      .replace("codebook_size: 8", "codebook_size: -1", 1))
    with pytest.raises(SystemExit, match="realdev/params.yaml: .*quantize.codebook_size"):
        bench.realdev_params(7)


def test_against_pairs_the_shared_playlists_of_two_runs():
    bench = load_bench()
    rows = {"model": [{"genre@20": 1.0}, {"genre@20": 0.5}], "title_knn": [{"genre@20": 0.0}, {"genre@20": 0.0}]}
    now = bench.keyed_rows(1234, rows, ["p1", "p2"])
    assert now["model"] == {"1234/p1": {"genre@20": 1.0}, "1234/p2": {"genre@20": 0.5}}
    before = {"model": {"1234/p1": {"genre@20": 0.5}, "1234/p2": {"genre@20": 0.5}, "7/p9": {"genre@20": 0.0}}}
    out = bench.compare_runs(now, before, 200, 0)
    assert set(out) == {"model"}  # title_knn is in one run only
    assert out["model"]["playlists"] == 2
    assert out["model"]["genre@20"]["diff"] == pytest.approx(0.25)
    assert out["model"]["genre@20"]["lo"] == pytest.approx(0.0) and out["model"]["genre@20"]["hi"] == pytest.approx(0.5)
    with pytest.raises(SystemExit, match="share no evaluated playlists"):
        bench.compare_runs(now, {"model": {"7/p9": {"genre@20": 0.0}}}, 200, 0)


def test_against_refuses_a_report_in_place_of_rows():
    bench = load_bench()
    now = bench.keyed_rows(1234, {"model": [{"genre@20": 1.0}]}, ["p1"])
    with pytest.raises(SystemExit, match="not per-playlist rows"):
        bench.compare_runs(now, {"methods": {"model": {"genre@20": 0.5}}, "params": {"overrides": [], "split": "val"}},
                           200, 0)


def write_heldout(folder: Path, playlists: list[tuple[str, str, str]], labels: list[tuple[str, str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "playlists.csv").write_text("playlist_id,title,song_ids\n" + "".join(f"{p},{t},{s}\n" for p, t, s in playlists))
    (folder / "playlist_labels.csv").write_text("playlist_id,genre,subgenre\n" + "".join(f"{p},{g},{s}\n" for p, g, s in labels))
    return folder


def test_heldout_playlists_keep_catalog_songs_and_their_labels(tmp_path):
    bench = load_bench()
    songs = tmp_path / "songs.csv"
    songs.write_text("song_id,title,artist\na,A,x\nb,B,y\nc,C,z\n")
    folder = write_heldout(tmp_path / "held", [("h1", "Rainy Day", "a|zz|b"), ("h2", "gym", "c")],
                           [("h1", "pop", "dance pop"), ("h2", "rock", "hard rock"), ("h9", "rap", "trap")])
    playlists, labels = bench.heldout_playlists(folder, songs, {"t1", "t2"})
    assert [(p.playlist_id, p.title, p.song_ids) for p in playlists] == [("h1", "Rainy Day", ["a", "b"]),
                                                                          ("h2", "gym", ["c"])]  # zz: not in catalog
    assert labels == {"h1": {"playlist_id": "h1", "genre": "pop", "subgenre": "dance pop"},
                      "h2": {"playlist_id": "h2", "genre": "rock", "subgenre": "hard rock"}}


def test_heldout_playlists_refuse_leaks_missing_labels_and_files(tmp_path):
    bench = load_bench()
    songs = tmp_path / "songs.csv"
    songs.write_text("song_id,title,artist\na,A,x\n")
    folder = write_heldout(tmp_path / "held", [("t1", "riffs", "a")], [("t1", "rock", "hard rock")])
    with pytest.raises(SystemExit, match="1 of its playlists are also in --data .e.g. t1"):
        bench.heldout_playlists(folder, songs, {"t1"})
    folder = write_heldout(tmp_path / "held2", [("h1", "riffs", "a")], [("h2", "rock", "hard rock")])
    with pytest.raises(SystemExit, match="no genre/subgenre for 1 playlists .e.g. h1"):
        bench.heldout_playlists(folder, songs, {"t1"})
    (folder / "playlist_labels.csv").unlink()
    with pytest.raises(SystemExit, match="no playlist_labels.csv"):
        bench.heldout_playlists(folder, songs, {"t1"})


def test_drawn_playlists_are_what_generate_playlist_gives_and_a_redraw_differs(tiny_project):
    from playlistgen.inference.generator import PlaylistGenerator
    from playlistgen.evaluation.realdev import redraw_variety

    bundle = tiny_project / "data/bundle"
    titles = ["summer road trip", "late night study", "summer road trip"]
    first, second = load_bench().drawn_playlists(bundle, titles, 6, 100)
    assert set(first) == set(second) == {"drawn", "model_drawn"}
    gen = PlaylistGenerator(bundle)
    assert first["drawn"][1] == [t.song_id for t in gen.generate(titles[1], 6, seed=101)]  # title i: seed + i
    assert second["drawn"][1] == [t.song_id for t in gen.generate(titles[1], 6, seed=104)]  # + len(titles)
    assert first["drawn"][0] != first["drawn"][2]  # one title asked twice in a batch is drawn twice
    variety = redraw_variety(first, second, 6)
    assert 0.0 <= variety["drawn"]["jaccard"] < 1.0 and variety["drawn"]["titles"] == 3
