"""The inference API and CLI on the bundle exported by the tiny pipeline."""
import logging

import pytest

from playlistgen import PlaylistGenerator
from playlistgen.serving.cli import main as cli_main
from playlistgen.inference.generator import TitleError
from playlistgen.common.io import DataError


@pytest.fixture(scope="module")
def gen(tiny_project):
    return PlaylistGenerator(tiny_project / "data/bundle")


def test_playlist_of_distinct_real_songs_repeatable_with_seed(gen):
    a = gen.generate("rainy sunday piano", n=10, seed=1)
    assert len(a) == 10
    assert len({t.song_id for t in a}) == 10
    assert all(t.song_id in gen.songs for t in a)
    assert all(t.song_id in gen.index.songs_in_cluster[t.cluster] for t in a)
    assert [t.song_id for t in gen.generate("rainy sunday piano", n=10, seed=1)] == [t.song_id for t in a]


def test_same_title_rerolls_to_a_different_playlist(gen):
    runs = {tuple(t.song_id for t in gen.generate("深夜学习", n=10, seed=s)) for s in range(5)}
    assert len(runs) > 1


def test_empty_and_control_only_titles_are_refused(gen):
    for title in ["", "   ", "\x00\x07\t"]:
        with pytest.raises(TitleError, match="the title is empty"):
            gen.generate(title)


def test_very_long_title_is_cut_with_a_warning(gen, caplog):
    with caplog.at_level(logging.WARNING):
        tracks = gen.generate("piano " * 500, n=5, seed=0)
    assert len(tracks) == 5
    assert "only the first" in caplog.text


def test_temperature_sampling_mode(gen):
    tracks = gen.generate("workout edm", n=8, seed=2, temperature=1.0)
    assert len(tracks) == 8


def test_cli_formats_and_errors(tiny_project, capsys):
    bundle = str(tiny_project / "data/bundle")
    assert cli_main(["summer road trip", "-n", "5", "--seed", "1", "--bundle", bundle]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["#", "title", "artist"] and len(table) == 6
    assert cli_main(["summer road trip", "-n", "5", "--format", "m3u", "--bundle", bundle]) == 0
    assert capsys.readouterr().out.startswith("#EXTM3U")
    assert cli_main(["summer road trip", "-n", "5", "--format", "csv", "--bundle", bundle]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "position,song_id,title,artist,cluster,tags"
    assert cli_main(["   ", "--bundle", bundle]) == 2
    assert "the title is empty" in capsys.readouterr().err
    assert cli_main(["x", "--bundle", str(tiny_project / "nowhere")]) == 2
    assert "not a playlistgen bundle" in capsys.readouterr().err


def test_ranked_playlist_is_the_list_the_evaluate_stage_scores(gen, tiny_project, capsys, tmp_path):
    """--ranked: the top songs of ranked_songs (the model's cluster distribution in the order), the same every
    call, one JSON line per title in --titles-file mode; it refuses the sampling options."""
    import json

    import yaml

    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    assert params["evaluate"]["cluster_score_power"] and gen.cluster_distribution("x") is not None
    title = "rainy sunday piano"
    tracks = gen.ranked_playlist(title, 8)
    ids = [t.song_id for t in tracks]
    assert ids == gen.ranked_songs(title, gen.generate_clusters(title, 8), 8) and len(set(ids)) == 8
    assert all(t.song_id in gen.index.songs_in_cluster[t.cluster] for t in tracks)
    bundle = str(tiny_project / "data/bundle")
    for _ in range(2):
        assert cli_main([title, "-n", "8", "--ranked", "--format", "jsonl", "--bundle", bundle]) == 0
        assert [t["song_id"] for t in json.loads(capsys.readouterr().out)["tracks"]] == ids
    titles = tmp_path / "titles.txt"
    titles.write_text(f"{title}\n\x07\n深夜学习\n", encoding="utf-8")  # the second is empty once cleaned
    assert cli_main(["--titles-file", str(titles), "-n", "8", "--ranked", "--format", "jsonl", "--bundle", bundle]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [t["song_id"] for t in rows[0]["tracks"]] == ids and "error" in rows[1] and len(rows[2]["tracks"]) == 8
    with pytest.raises(SystemExit):
        cli_main([title, "--ranked", "--temperature", "0.7", "--bundle", bundle])
    assert "--ranked is the deterministic ranked list" in capsys.readouterr().err


def test_titles_file_that_is_missing_or_blank_is_refused_before_the_bundle_loads(tmp_path, capsys):
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n", encoding="utf-8")
    nowhere = str(tmp_path / "no-bundle")  # never reached: the titles are read first
    assert cli_main(["--titles-file", str(blank), "--bundle", nowhere]) == 2
    assert "holds no titles" in capsys.readouterr().err
    assert cli_main(["--titles-file", str(tmp_path / "missing.txt"), "--bundle", nowhere]) == 2
    err = capsys.readouterr().err
    assert "missing.txt: cannot read it" in err and "one title per line" in err


def test_missing_bundle_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not a playlistgen bundle"):
        PlaylistGenerator(tmp_path)


def test_interactive_mode_rerolls_changes_length_and_shows_clusters(tiny_project):
    import subprocess
    import sys

    from helpers import project_env

    gen = PlaylistGenerator(tiny_project / "data/bundle")
    cluster = next(iter(gen.index.songs_in_cluster))
    script = f"rainy sunday piano\n\n:n 3\n\n:show {cluster}\n:show nope\n   \n:q\n"
    out = subprocess.run([sys.executable, "-m", "playlistgen.serving.cli", "--bundle", str(tiny_project / "data/bundle"),
                          "-n", "5"], input=script, env=project_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    tables = [block for block in out.stdout.split("title> ") if block.strip().startswith("#")]
    # a re-roll, then length 3 twice (a blank line re-rolls too)
    assert [len(t.strip().splitlines()) - 1 for t in tables] == [5, 5, 3, 3]
    assert f"cluster {cluster}: {len(gen.index.songs_in_cluster[cluster])} songs" in out.stdout
    assert "no cluster 'nope'" in out.stdout


def test_bundle_ranks_by_training_playlist_counts(gen, tiny_project):
    import json
    from collections import Counter

    train = [json.loads(line) for line in (tiny_project / "data/work/corpus/train.jsonl").open()]
    counts = Counter(s for e in train for s in e["song_ids"])
    assert {s: r["playlist_count"] for s, r in gen.songs.items() if r["playlist_count"]} == dict(counts)
    top = max(gen.ranking_weights, key=gen.ranking_weights.get)
    assert counts[top] == max(counts.values())


def test_generate_playlist_decodes_and_ranks_as_the_evaluate_stage_scores(gen, tiny_project):
    """One DecodePolicy: the bundle's is the evaluate block's, and the CLI's default answer is what evaluate scored."""
    import yaml

    from playlistgen.inference.decode import DecodePolicy
    from playlistgen.inference.recommend import Recommender

    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    assert gen.policy == DecodePolicy.from_params(params["evaluate"])
    work = tiny_project / params["base"]["work_dir"]
    rec = Recommender.from_work_dir(work, tiny_project / params["base"]["raw_dir"], params)
    titles = ["rainy sunday piano", "深夜学习", "best of the night drive"]
    assert rec.clusters(titles) == [gen.generate_clusters(t) for t in titles]
    scored = rec.recommend_all(titles, 20)
    assert params["evaluate"]["knn_fusion"] and gen.fusion_weight == params["evaluate"]["knn_fusion"]
    assert gen.decode_defaults["draw_sharpness"] == params["evaluate"]["draw_sharpness"]  # the draws evaluate scored
    for i, title in enumerate(titles):  # generate-playlist ranks as model_knn; --no-knn as the model alone
        assert_same_ranking(gen.ranked_songs(title, gen.generate_clusters(title), 20), scored["model_knn"][i].songs)
    gen.fusion_weight = 0.0
    try:
        for i, title in enumerate(titles):
            assert_same_ranking(gen.ranked_songs(title, gen.generate_clusters(title), 20), scored["model"][i].songs)
    finally:
        gen.fusion_weight = params["evaluate"]["knn_fusion"]
    n = params["evaluate"]["playlist_length"]
    assert len(gen.generate(titles[0], seed=0)) == n  # the CLI's default -n


def test_fifty_test_titles_rank_the_same_in_the_evaluate_code_the_bundle_and_the_server(gen, tiny_project):
    """Parity on whole ranked lists, not the top few: the evaluate stage's ranking (Recommender, the same
    model_recommendations and RankingPolicy), generate-playlist's (the bundle), the API's ranked playlist and
    playlistgen challenge's answers agree
    for 50 held-out titles and both methods."""
    import yaml
    from fastapi.testclient import TestClient

    from playlistgen.data.corpus import read_examples
    from playlistgen.inference.recommend import Recommender
    from playlistgen.serving.server import create_app

    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    work = tiny_project / params["base"]["work_dir"]
    titles = [e.title for e in read_examples(work / "corpus" / "test.jsonl")][:50]
    assert len(titles) == 50
    rec = Recommender.from_work_dir(work, tiny_project / params["base"]["raw_dir"], params)
    scored = rec.recommend_all(titles, 20)
    bundle = [gen.ranked_songs(t, gen.generate_clusters(t), 20) for t in titles]
    for mine, theirs in zip(bundle, scored["model_knn"]):
        assert_same_ranking(mine, theirs.songs)
    assert sum(a == r.songs for a, r in zip(bundle, scored["model_knn"])) >= 45
    with TestClient(create_app(tiny_project / "data/bundle", gen=gen)) as client:
        for title, songs in list(zip(titles, bundle))[:10]:  # the API ranks with the very same generator
            body = client.post("/api/playlist", json={"title": title, "n": 20, "ranked": True}).json()
            assert [t["song_id"] for t in body["tracks"]] == songs
    from playlistgen.evaluation.challenge import ChallengePlaylist, answer

    # playlistgen challenge: the same titles in batches of 16, each answer's first 20 are the ranked list
    challenged, _ = answer(gen, [ChallengePlaylist(str(i), t, t, []) for i, t in enumerate(titles)], 20, 16)
    for i, songs in enumerate(bundle):
        assert_same_ranking(challenged[str(i)][:20], songs)
    assert sum(challenged[str(i)][:20] == songs for i, songs in enumerate(bundle)) >= 45
    gen.fusion_weight = 0.0
    try:
        alone = [gen.ranked_songs(t, gen.generate_clusters(t), 20) for t in titles]
    finally:
        gen.fusion_weight = params["evaluate"]["knn_fusion"]
    for mine, theirs in zip(alone, scored["model"]):
        assert_same_ranking(mine, theirs.songs)
    assert sum(a == r.songs for a, r in zip(alone, scored["model"])) >= 45


def assert_same_ranking(mine: list[str], theirs: list[str]) -> None:
    """The same songs in the same order, but for two neighbours whose scores tie to float noise: the evaluate code
    embeds titles and computes P(cluster | title) for many titles in one batch, the bundle for one, and batched
    matrix products may differ in the last bits."""
    assert set(mine) == set(theirs) and all(s in theirs[max(0, i - 1):i + 2] for i, s in enumerate(mine)), (
        mine, theirs)


def test_a_title_naming_an_artist_gets_the_artists_songs_first(gen, tiny_project):
    """evaluate.artist_mentions: the ranked list opens with the named artist's songs, a drawn playlist takes their
    clusters first, and the bundle ranks as the evaluate stage's Recommender does."""
    import yaml

    from playlistgen.inference.recommend import Recommender

    assert gen.decode_defaults["artist_mentions"] and gen.mentions is not None
    by_artist = {}
    for s in gen.index.cluster_of_song:
        by_artist.setdefault(gen.songs[s]["artist"], []).append(s)
    artist = max((a for a in by_artist if gen.mentions.named(f"this is {a}")), key=lambda a: len(by_artist[a]))
    own = set(by_artist[artist])
    title = f"✨ This Is {artist.upper()} 2024"
    assert gen.named_songs(title) and set(gen.named_songs(title)) == own
    k = min(len(own), 10)
    ranked = [t.song_id for t in gen.ranked_playlist(title, 10)]
    assert set(ranked[:k]) <= own
    drawn = gen.generate(title, n=10, seed=3)
    assert drawn[0].artist == artist and drawn[0].cluster == gen.index.cluster_of_song[gen.named_songs(title)[0]]
    assert gen.named_songs("rainy sunday piano") is None
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    rec = Recommender.from_work_dir(tiny_project / params["base"]["work_dir"],
                                    tiny_project / params["base"]["raw_dir"], params)
    assert rec.recommend_all([title], 10)["model_knn"][0].songs == gen.ranked_songs(title, gen.generate_clusters(title),
                                                                                    10)


def test_ranked_slots_draw_the_ranked_lists_cluster_mix(gen):
    """evaluate.draw_slots ranked: a drawn playlist takes as many songs from each cluster as the ranked list holds,
    still drawn (a re-roll differs); with draw_slots generated it draws one song per generated cluster."""
    from collections import Counter
    from dataclasses import replace

    title, n = "rainy sunday piano", 10
    clusters = gen.generate_clusters(title, n)
    mix = Counter(gen.index.cluster_of_song[s] for s in gen.ranked_songs(title, clusters, n))
    saved = gen.ranking
    try:
        gen.ranking = replace(saved, draw_slots="ranked")
        draws = [gen.playlist_from_clusters(title, clusters, n, seed) for seed in range(5)]
        for drawn in draws:
            assert len(drawn) == n and Counter(t.cluster for t in drawn) == mix
        assert len({tuple(t.song_id for t in drawn) for drawn in draws}) > 1
        behind = list(dict.fromkeys(t.cluster for t in draws[0]))  # what the server describes and a re-roll sends
        again = gen.playlist_from_clusters(title, behind, n, 9, within=True)
        assert Counter(t.cluster for t in again) == mix  # the same slots, drawn inside the clusters it was sent
        gen.ranking = replace(saved, draw_slots="generated")
        drawn = gen.playlist_from_clusters(title, clusters, n, 0)
        assert len({t.cluster for t in drawn}) == n  # one per distinct generated cluster
    finally:
        gen.ranking = saved


def test_cluster_distributions_are_computed_once_per_title_and_kept(gen):
    """The server computes a batch's distributions in one pass and each request's ranked draw reads them; a title
    asked again is served from what was kept, and the store stays bounded."""
    import pytest

    from playlistgen.inference import generator

    titles = ["rainy sunday piano", "深夜学习", "best of the night drive"]
    gen._distributions.clear()
    together = gen.cluster_distributions(titles + titles[:1])
    assert list(gen._distributions) == titles[1:] + titles[:1]  # most recently asked last
    assert together[0] is together[-1] and gen.cluster_distribution(titles[1]) is together[1]
    for probs in together:
        assert probs.keys() == gen.index.songs_in_cluster.keys() and sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    kept, generator.DISTRIBUTIONS_KEPT = generator.DISTRIBUTIONS_KEPT, 2
    try:
        gen.cluster_distributions(["road trip"])
        assert list(gen._distributions) == [titles[1], "road trip"]  # the oldest two went
    finally:
        generator.DISTRIBUTIONS_KEPT = kept


def test_a_title_unlike_every_training_title_gets_a_notice(gen, tiny_project, capsys):
    """Gibberish is answered but told it rests on no similar training playlist; a training title is not. The CLI
    says so on standard error (the playlist on standard output is unchanged), --titles-file and the API in a
    "notice" field."""
    import json as json_module

    from playlistgen.data.corpus import read_examples
    from playlistgen.serving.cli import main

    known = read_examples(tiny_project / "data/work/corpus/train.jsonl")[0].title
    odd, plain = gen.notices(["zxqv blorpt kwyjibo", known])
    assert odd and "zxqv blorpt kwyjibo" in odd and "nearest" in odd
    assert plain is None
    assert main(["zxqv blorpt kwyjibo", "-n", "3", "--seed", "1", "--format", "json",
                 "--bundle", str(tiny_project / "data/bundle")]) == 0
    out, err = capsys.readouterr()
    assert len(json_module.loads(out)["tracks"]) == 3 and "note: no training playlist has a title like" in err
    titles = tiny_project / "odd_titles.txt"
    titles.write_text(f"zxqv blorpt kwyjibo\n{known}\n")
    assert main(["--titles-file", str(titles), "--format", "jsonl", "-n", "3",
                 "--bundle", str(tiny_project / "data/bundle")]) == 0
    rows = [json_module.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "notice" in rows[0] and "notice" not in rows[1]
