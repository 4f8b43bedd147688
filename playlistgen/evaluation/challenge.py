"""The RecSys Challenge 2018 layout as an evaluation input: answer a challenge set with a bundle, write the
challenge's submission CSV and, given the held-out tracks, score it with the challenge's metrics.

A challenge set is `{"date", "version", "playlists": [{"pid", "name" (optional), "num_holdouts", "tracks": [seed
tracks]}]}`: playlists with a name and no or a few seed tracks. The truth file has the same layout with the
held-out tracks under "tracks". `make_challenge_set` writes such a pair from a catalog's held-out test split (the
same seeded split the corpus stage uses, so the model never trained on those playlists).

Each answer is 500 distinct tracks, seeds excluded: the songs of the generated clusters (training-playlist counts
discounted by the rank of the song's cluster, see clusters.ranking_weights and ClusterIndex.ranked_songs), then
the songs most training playlists hold ("popular"). A playlist without a name gets popular songs only (a title
model has nothing to go on); the metrics count those apart.
"""
from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from playlistgen.data.catalog import LoadReport, clean_title
from playlistgen.common.io import DataError, atomic_path, read_json, write_json
from playlistgen.evaluation.metrics import commonest_item_share, mean, ndcg_at_k, r_precision, set_precision_recall_f1, top_list_diversity
from playlistgen.inference.ranking import METHODS

log = logging.getLogger(__name__)

ANSWER_LENGTH = 500


@dataclass
class ChallengePlaylist:
    pid: str
    title: str          # normalised like the challenge baseline ("" when the playlist has no name)
    raw_title: str
    seeds: list[str]    # seed track URIs given with the playlist


def read_challenge_set(path: str | Path, report: LoadReport) -> list[ChallengePlaylist]:
    from playlistgen.data.importers import normalize_mpd_title

    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise DataError(f"{path}: not a challenge set (expected an object with a 'playlists' list).")
    out, seen = [], set()
    for n, p in enumerate(data["playlists"]):
        where = f"{path}, playlists[{n}]"
        if not isinstance(p, dict) or "pid" not in p or not isinstance(p.get("tracks", []), list):
            raise DataError(f"{where}: needs 'pid' and a list 'tracks'.")
        pid = str(p["pid"])
        if pid in seen:
            raise DataError(f"{where}: pid {pid} appears twice; a challenge set answers each playlist once.")
        seen.add(pid)
        name = p.get("name")
        raw = clean_title(name) if isinstance(name, str) else ""
        if not raw:
            report.skip("challenge playlists without a name (answered with popular songs)", where)
        seeds = []
        for t, track in enumerate(p.get("tracks", [])):
            uri = track.get("track_uri") if isinstance(track, dict) else None
            if isinstance(uri, str) and uri:
                seeds.append(uri)
            else:
                report.skip("seed tracks without a track_uri", f"{where}.tracks[{t}]")
        out.append(ChallengePlaylist(pid, normalize_mpd_title(raw) if raw else "", raw, seeds))
    if not out:
        raise DataError(f"{path}: holds no playlists.")
    return out


def read_truth(path: str | Path) -> dict[str, list[str]]:
    """pid -> held-out track URIs, from a file in the challenge-set layout."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise DataError(f"{path}: not a truth file (the challenge-set layout with the held-out tracks).")
    truth = {}
    for n, p in enumerate(data["playlists"]):
        if not isinstance(p, dict) or "pid" not in p or not isinstance(p.get("tracks"), list):
            raise DataError(f"{path}, playlists[{n}]: needs 'pid' and a list 'tracks'.")
        truth[str(p["pid"])] = [t["track_uri"] for t in p["tracks"] if isinstance(t, dict) and t.get("track_uri")]
    return truth


def clicks(ranked: list[str], truth: set, page: int = 10, pages: int = 51) -> int:
    """The challenge's "recommended songs clicks": pages of 10 a user refreshes before the first relevant track
    (51 when none of the 500 is relevant)."""
    for i, song in enumerate(ranked):
        if song in truth:
            return i // page
    return pages


def fill(ranked: list[str], seeds: list[str], popular: list[str], length: int = ANSWER_LENGTH) -> list[str]:
    """`length` distinct tracks: `ranked` first, then `popular`, never a seed."""
    out, taken = [], set(seeds)
    for song in (*ranked, *popular):
        if song not in taken:
            taken.add(song)
            out.append(song)
            if len(out) == length:
                break
    return out


def popular_songs(gen) -> list[str]:
    """The bundle's songs, those most training playlists hold first: what fills every answer up to 500."""
    return sorted(gen.songs, key=lambda s: -gen.ranking_weights[s])


def answer(gen, playlists: list[ChallengePlaylist], n_clusters: int, batch_size: int = 64,
           beams: int | None = None, popular: list[str] | None = None, method: str = "model_knn"
           ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(pid -> 500 ranked track URIs, pid -> generated clusters) for every playlist, titles decoded in batches.
    `method`: model_knn (the bundle's nearest-title fusion and artist lookup, as generate-playlist ranks) or model
    (the generated clusters' songs alone, as `generate-playlist --no-knn`); ranking.RankingPolicy.for_method
    refuses anything else."""
    gen.ranking.for_method(method)
    saved = gen.fusion_weight
    gen.fusion_weight = saved if method == "model_knn" else 0.0
    try:
        return _answer(gen, playlists, n_clusters, batch_size, beams, popular)
    finally:
        gen.fusion_weight = saved


def _answer(gen, playlists, n_clusters, batch_size, beams, popular):
    """Titles decoded `batch_size` at a time, then each ranked, with a progress bar (on a terminal; tqdm stays quiet
    when standard error is not one). Under `accelerate launch --num_processes N` each process answers its share of
    the playlists and every process gets all the answers back (accelerate's gather_object)."""
    import torch
    from accelerate import PartialState

    popular = popular if popular is not None else popular_songs(gen)
    state = PartialState(cpu=not torch.cuda.is_available())  # without a GPU the processes form a gloo group
    if state.num_processes == 1:
        return _answer_shard(gen, playlists, n_clusters, batch_size, beams, popular, state)
    from accelerate.utils import gather_object

    with state.split_between_processes(playlists) as shard:
        local = _answer_shard(gen, shard, n_clusters, batch_size, beams, popular, state)
    answers, clusters = {}, {}
    for shard_answers, shard_clusters in gather_object([local]):
        answers.update(shard_answers)
        clusters.update(shard_clusters)
    return {p.pid: answers[p.pid] for p in playlists}, clusters


def _answer_shard(gen, playlists, n_clusters, batch_size, beams, popular, state):
    from tqdm.auto import tqdm

    named = [p for p in playlists if p.title]
    clusters: dict[str, list[str]] = {}
    answers: dict[str, list[str]] = {}
    with tqdm(total=len(playlists), desc="challenge playlists", unit="playlist",
              disable=None if state.is_local_main_process else True) as bar:
        for start in range(0, len(named), batch_size):
            chunk = named[start:start + batch_size]
            for p, seq in zip(chunk, gen.generate_clusters_batch([p.title for p in chunk], n_clusters, beams,
                                                                 for_ranking=True)):
                clusters[p.pid] = seq
                answers[p.pid] = fill(gen.ranked_songs(p.title, seq, ANSWER_LENGTH + len(p.seeds)), p.seeds, popular)
            bar.update(len(chunk))
        for p in playlists:  # untitled (seed tracks only): the popular songs fill the answer
            if p.pid not in answers:
                answers[p.pid] = fill([], p.seeds, popular)
                bar.update(1)
    return {p.pid: answers[p.pid] for p in playlists}, clusters


def write_submission(path: str | Path, answers: dict[str, list[str]], team: str, email: str) -> None:
    """The challenge's submission CSV: a team_info line, then `pid, uri1, ..., uri500` per playlist."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["team_info", team, email])
        for pid, songs in answers.items():
            writer.writerow([pid, *songs])


def playlist_scores(answers: dict[str, list[str]], truth: dict[str, list[str]],
                    keep: set[str] | None = None) -> dict[str, list[float]]:
    """Per metric, each scored playlist's value, in the order of `answers` (playlists with held-out tracks, and in
    `keep` when given): R-precision, NDCG over the 500, clicks, recall@500."""
    rows: dict[str, list[float]] = {"r_precision": [], "ndcg": [], "clicks": [], "recall@500": []}
    for pid, ranked in answers.items():
        held = set(truth.get(pid, ()))
        if not held or (keep is not None and pid not in keep):
            continue
        rows["r_precision"].append(r_precision(ranked, held))
        rows["ndcg"].append(ndcg_at_k(ranked, held, len(ranked)))
        rows["clicks"].append(clicks(ranked, held))
        rows["recall@500"].append(len(held & set(ranked)) / len(held))
    return rows


def score_answers(answers: dict[str, list[str]], truth: dict[str, list[str]],
                  keep: set[str] | None = None) -> dict:
    """R-precision, NDCG over the 500 and clicks (track level; the challenge also gives artist-level partial
    credit in R-precision, not counted here), macro-averaged over playlists with held-out tracks."""
    rows = playlist_scores(answers, truth, keep)
    return {"playlists": len(rows["ndcg"]), **{k: round(mean(v), 4) for k, v in rows.items()}}


LOOKUPS = ("title_knn", "tfidf_word_knn")  # the title lookups the model methods are compared with


def intervals_vs_strongest_lookup(methods: dict[str, dict[str, list[str]]], truth: dict[str, list[str]],
                                  keep: set[str], seed: int, resamples: int = 2000) -> dict:
    """Per metric (R-precision, NDCG; clicks is lower-better, left out), the title lookup with the best mean over
    the named playlists and the paired bootstrap 95% interval of each model method minus it (realdev.vs_strongest)."""
    from playlistgen.evaluation.realdev import vs_strongest

    rows = {}
    for name, answers in methods.items():
        scores = playlist_scores(answers, truth, keep)
        rows[name] = [dict(zip(scores, values)) for values in zip(*scores.values())]
    return vs_strongest(rows, resamples, seed, baselines=LOOKUPS, metrics=("r_precision", "ndcg"))


def evaluate_challenge(gen, playlists: list[ChallengePlaylist], truth: dict[str, list[str]] | None,
                       n_clusters: int, train_path: str | Path | None = None, knn_neighbours: int | None = None,
                       knn_ngram: tuple[int, int] | None = None, batch_size: int = 64, method: str = "model_knn",
                       anchor_neighbours: int = 50, bootstrap_seed: int = 0) -> tuple[dict[str, list[str]], dict]:
    """`method`'s answers and, with `truth`, the scores of both model methods (the other one answered too: the
    model alone is always reported beside what ships) beside popularity and, with the corpus's training split at
    `train_path`, the title lookups: title kNN (the bundle's evaluate.knn_neighbours and knn_ngram) and the plain
    word TF-IDF kNN (baselines.AnchorTitleKnn, `anchor_neighbours`), all filled to 500 the same way. Each method
    also gets distinct_top10_share and commonest_song_top10_share (the share of named titles whose top 10 hold the
    song most top-10 lists hold: one song answering every title shows there), and with `train_path` each model
    method's paired bootstrap interval against the strongest title lookup (seeded with `bootstrap_seed`)."""
    popular = popular_songs(gen)
    t0 = time.perf_counter()
    answers, clusters = answer(gen, playlists, n_clusters, batch_size, popular=popular, method=method)
    seconds = time.perf_counter() - t0
    named = [p for p in playlists if p.title]
    report = {"playlists": len(playlists), "named": len(named), "seconds": round(seconds, 1),
              "ms_per_named_title": round(1000 * seconds / max(len(named), 1), 1)}
    if truth is None:
        return answers, report
    missing = [p.pid for p in playlists if p.pid not in truth]
    if len(missing) == len(playlists):
        raise DataError("the truth file holds none of the challenge set's pids; pass the matching truth file.")
    methods = {method: answers, "popularity": {p.pid: fill([], p.seeds, popular) for p in playlists}}
    for other in METHODS:
        if other != method and (other == "model" or gen.fusion_weight):
            methods[other] = answer(gen, playlists, n_clusters, batch_size, popular=popular, method=other)[0]
    if train_path is not None:
        from playlistgen.lookup.baselines import AnchorTitleKnn, TitleKnnBaseline
        from playlistgen.data.corpus import read_examples

        train = read_examples(train_path)
        for knn in (TitleKnnBaseline(train, knn_neighbours, tuple(knn_ngram)),
                    AnchorTitleKnn.word_tfidf(train, anchor_neighbours, (1, 2))):
            recs = knn.recommend([p.title for p in named], [n_clusters] * len(named), ANSWER_LENGTH) if named else []
            ranked = {p.pid: r.songs for p, r in zip(named, recs)}
            methods[knn.name] = {p.pid: fill(ranked.get(p.pid, []), p.seeds, popular) for p in playlists}
    named_ids = {p.pid for p in named}
    by_seeds: dict[int, set[str]] = {}
    for p in playlists:
        by_seeds.setdefault(len(p.seeds), set()).add(p.pid)
    report["methods"] = {}
    for name, ans in methods.items():
        entry = {"all": score_answers(ans, truth), "named": score_answers(ans, truth, named_ids),
                 "by_seed_tracks": {str(k): score_answers(ans, truth, ids & named_ids) for k, ids in sorted(by_seeds.items())}}
        tops = [ans[p.pid] for p in named]
        entry["named"]["distinct_top10_share"] = round(top_list_diversity(tops, 10)[0], 4)
        entry["named"]["commonest_song_top10_share"] = round(commonest_item_share(tops, 10), 4)
        report["methods"][name] = entry
    f1 = [set_precision_recall_f1(gen.index.expand(clusters[p.pid]), set(truth.get(p.pid, ())))[2]
          for p in named if truth.get(p.pid)]
    report["methods"][method]["named"]["expansion_f1"] = round(mean(f1), 4)
    report["method"] = method
    report["ci95_vs_strongest_lookup"] = intervals_vs_strongest_lookup(methods, truth, named_ids, bootstrap_seed)
    report["missing_truth"] = len(missing)
    return answers, report


def make_challenge_set(catalog_dir: str | Path, out_set: str | Path, out_truth: str | Path, seed: int,
                       val_share: float, test_share: float, seed_tracks: list[int], limit: int | None = None) -> dict:
    """A challenge set and its truth from the catalog's test-split playlists: playlist i gets the first
    seed_tracks[i % len(seed_tracks)] tracks as seeds (0 = title only) and the rest held out."""
    from playlistgen.data.catalog import load_catalog
    from playlistgen.data.corpus import split_of
    from playlistgen.common.io import read_jsonl

    catalog = load_catalog(catalog_dir, feature_names=[])
    raw = {str(r["playlist_id"]): r.get("raw_title", r["title"])
           for _, r in read_jsonl(Path(catalog_dir) / "playlists.jsonl")}
    test = [p for p in catalog.playlists if split_of(p.playlist_id, seed, val_share, test_share) == "test"]
    test = [p for i, p in enumerate(test) if len(p.song_ids) > seed_tracks[i % len(seed_tracks)]]
    test = test[:limit] if limit else test
    if not test:
        raise DataError(f"{catalog_dir}: no test-split playlist long enough for seeds {seed_tracks}.")

    def track(song_id: str, pos: int) -> dict:
        s = catalog.songs[song_id]
        return {"pos": pos, "track_uri": song_id, "track_name": s.title, "artist_name": s.artist,
                "album_name": s.album}

    challenge, held = [], []
    for i, p in enumerate(test):
        k = seed_tracks[i % len(seed_tracks)]
        challenge.append({"pid": p.playlist_id, "name": raw.get(p.playlist_id, p.title),
                          "num_tracks": len(p.song_ids), "num_samples": k, "num_holdouts": len(p.song_ids) - k,
                          "tracks": [track(s, j) for j, s in enumerate(p.song_ids[:k])]})
        held.append({"pid": p.playlist_id, "tracks": [track(s, k + j) for j, s in enumerate(p.song_ids[k:])]})
    info = {"date": time.strftime("%Y-%m-%d"), "version": "playlistgen test split", "seed_tracks": seed_tracks}
    write_json(out_set, {**info, "playlists": challenge}, indent=None)
    write_json(out_truth, {**info, "playlists": held}, indent=None)
    log.info("wrote %d challenge playlists to %s and their held-out tracks to %s", len(challenge), out_set, out_truth)
    return {"playlists": len(challenge), "held_out_tracks": sum(len(h["tracks"]) for h in held)}
