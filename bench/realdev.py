"""The real-data check: the pipeline on real Spotify playlists (spotify-songs-dev), title only, against baselines.

    python bench/realdev.py                    # report on the held-back test part -> metrics/realdev.json
    python bench/realdev.py --split val        # the validation part: make choices here, never on test
    python bench/realdev.py --split val --set train.title_encoder=none --out /tmp/ablation.json
    python bench/realdev.py --split val --seeds 7,11   # also two other splits, pooled: ~230 playlists, not ~80
    python bench/realdev.py --split val --seeds 7,11 --set train.dropout=0.3 --against data/before_rows.json
                                               # paired intervals against an earlier run's per-playlist rows
    python bench/realdev.py --heldout DIR      # train on all 377 playlists, answer DIR's (same layout) instead
    python bench/realdev.py --heldout DIR --bundle data/realdev_bundle   # and export that model for generate-playlist

params.yaml with the overrides of bench/realdev.yaml (and --set key=value) drives the same stage code as `dvc repro`
(data -> quantize -> corpus -> train), in --work (default data/realdev), then answers each evaluation playlist's
title with 20 songs per method. The playlists' genre labels are used for scoring only: a song's genre is the
majority genre of the training playlists holding it; genre@20 is the share of answered songs of the playlist's
genre. Stages whose params and code (dvc.yaml's deps) did not change since the last run in --work are reused. With
--seeds the check also runs on the splits those seeds draw (each in --work_seed<S>, its own data, clusters and
model) and reports the methods over all their evaluation playlists together under "splits" (the committed split
stays at the top): a difference of 0.03 genre@20 is noise on one split's ~80 playlists. Every run writes its
per-playlist scores to --work/rows_<split>.json; --against with a copy of an earlier run's file adds paired 95%
intervals of (this run - that one) per method and metric, over the playlists both evaluated. Those intervals count
playlist sampling only, not training: on one machine a rerun repeats every number, but a fresh build on another
machine (same code and params) moved pooled validation genre@20 from 0.782 to 0.769, so compare runs built in the
same place. The drawn methods (what generate-playlist gives) are drawn a second time with other seeds; `redraw`
in the report says how much of a playlist asking again keeps (mean Jaccard of the two draws' songs).

--heldout DIR is the check on playlists kept out of --data altogether (the same kind, another folder): every
playlist of --data is in the training or the validation part (early stopping), none in a test part, and the
methods answer the titles of DIR/playlists.csv, scored with DIR/playlist_labels.csv; the song labels still come
from the training playlists only. Report: metrics/realdev_heldout.json; rows: <--work, default
data/realdev_all>/rows_heldout.json.
"""
from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def apply_set(params: dict, assignment: str) -> None:
    key, sep, value = assignment.partition("=")
    if not sep:
        raise SystemExit(f"--set {assignment!r}: write key.path=value, e.g. train.epochs=40")
    *path, last = key.split(".")
    node = params
    for part in path:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)


def stamp(*blocks) -> str:
    return hashlib.sha256(json.dumps(blocks, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_stamp(stage: str) -> str:
    """The contents of the code files dvc.yaml names as `stage`'s deps: a change to the model's code retrains here
    as `dvc repro` would, instead of reusing a model the old code built."""
    deps = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["deps"]
    files = sorted(d for d in deps if d.endswith(".py") and "${" not in d)
    return stamp(*[[f, hashlib.sha256((ROOT / f).read_bytes()).hexdigest()] for f in files])


def run_stage(name: str, main, params: dict, key: str, marker: Path) -> None:
    """Run a stage unless `marker` records the same key (its params, code and upstream keys)."""
    if marker.exists() and marker.read_text() == key:
        print(f"[realdev] {name}: unchanged, reused")
        return
    t0 = time.perf_counter()
    main(params)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(key)
    print(f"[realdev] {name}: {time.perf_counter() - t0:.1f} s")


def build(params: dict, work: Path) -> dict:
    from stages import corpus, data, quantize, train

    os.chdir(work)  # stages write their metrics/ next to their outputs here, not over the repository's
    base = params["base"]
    d = params["data"]  # what the files import reads (the synthetic world's keys do not matter here)
    k_data = stamp(base["seed"], d["source"], d["files"], d["embed"], params["corpus"]["val_share"],
                   params["corpus"]["test_share"], code_stamp("data"))
    run_stage("data", data.main, params, k_data, work / "stamps" / "data")
    k_quant = stamp(k_data, params["quantize"], code_stamp("quantize"))
    run_stage("quantize", quantize.main, params, k_quant, work / "stamps" / "quantize")
    k_corpus = stamp(k_quant, params["corpus"], code_stamp("corpus"))
    run_stage("corpus", corpus.main, params, k_corpus, work / "stamps" / "corpus")
    k_train = stamp(k_corpus, params["train"], code_stamp("train"))
    run_stage("train", train.main, params, k_train, work / "stamps" / "train")
    return json.loads((work / "metrics" / "train.json").read_text())


def read_labels(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["playlist_id"]: r for r in csv.DictReader(f)}


def split_playlists(params: dict, split: str) -> list:
    """The catalog's playlists (full song lists, catalog.Playlist) that the corpus stage put in `split`."""
    from playlistgen.data.catalog import load_catalog
    from playlistgen.data.corpus import read_examples

    by_id = {p.playlist_id: p for p in load_catalog(params["base"]["raw_dir"], feature_names=[]).playlists}
    return [by_id[x.playlist_id] for x in read_examples(Path(params["base"]["work_dir"]) / "corpus" / f"{split}.jsonl")]


def answers_for(params: dict, evaluated: list) -> tuple[dict[str, list[list[str]]], list, dict, dict]:
    """20-song answers of every method for the titles of `evaluated` (catalog.Playlist): (answers, train examples,
    index, a second draw of the drawn methods)."""
    import torch

    from playlistgen.evaluation.evaluate import baseline_recommendations
    from playlistgen.data.catalog import load_catalog
    from playlistgen.inference.recommend import Recommender

    base, e = params["base"], params["evaluate"]
    work = Path(base["work_dir"])
    torch.manual_seed(base["seed"])
    recommender = Recommender.from_work_dir(work, base["raw_dir"], params)
    train = recommender.train
    catalog = load_catalog(base["raw_dir"], feature_names=[], with_playlists=False)
    titles = [p.title for p in evaluated]
    k = e["playlist_length"]
    answers = {name: [r.songs for r in recs] for name, recs in recommender.recommend_all(titles, k).items()}
    baselines = baseline_recommendations(
        titles, [e["playlist_length"]] * len(titles), k, train, recommender.index, recommender.weights,
        e["knn_neighbours"], tuple(e["knn_ngram"]), True, recommender.profiles, recommender.title_encoder,
        recommender.title_weight, {s: v.tags for s, v in catalog.songs.items()}, anchors=e)
    answers.update({name: [r.songs for r in recs] for name, recs in baselines.items()})
    from playlistgen.inference.recommend import model_recommendations
    from playlistgen.evaluation.realdev import oracle_clusters

    # the oracle ceiling: the truth's own clusters, ranked as the model's are (what a perfect generator would score)
    oracle = oracle_clusters([p.song_ids for p in evaluated], train, recommender.index.cluster_of_song,
                             params["corpus"]["max_clusters"])
    queries = recommender.profiles.queries(titles, recommender.title_encoder) if recommender.profiles else None
    answers["oracle"] = [r.songs for r in model_recommendations(
        oracle, recommender.index, k, recommender.weights, recommender.policy.for_method("model"),
        recommender.profiles, queries)]
    drawn, redrawn = drawn_playlists(Path(params["export"]["bundle_dir"]), titles, k, base["seed"])
    answers.update(drawn)
    return answers, train, recommender.index, redrawn


def drawn_playlists(bundle: Path, titles: list[str], n: int, seed: int) -> tuple[dict, dict]:
    """What `generate-playlist` gives (one song drawn per cluster slot), from the exported bundle: "drawn" with
    its defaults (model_knn's order), "model_drawn" with --no-knn; title i drawn with seed + i. Returns (those
    playlists, a second draw of each title with seed + len(titles) + i: what asking again gives)."""
    from playlistgen.inference.generator import PlaylistGenerator

    generator = PlaylistGenerator(bundle)
    clusters = generator.generate_clusters_batch(titles, n)
    first, second = {}, {}
    for name, fusion in (("drawn", generator.fusion_weight), ("model_drawn", 0.0)):
        generator.fusion_weight = fusion
        for out, offset in ((first, 0), (second, len(titles))):
            out[name] = [[t.song_id for t in generator.playlist_from_clusters(title, keys, n, seed + offset + i)]
                         for i, (title, keys) in enumerate(zip(titles, clusters))]
    return first, second


def tokenization_report(params: dict, train: list, labels: dict) -> dict:
    """Each prefix length's genre and subgenre NMI and majority share over the labelled songs (realdev.tokenization)
    and the quantize stage's code usage (metrics/quantize.json of this work folder)."""
    import numpy as np

    from playlistgen.common.io import read_jsonl
    from playlistgen.evaluation.realdev import song_labels, tokenization

    work = Path(params["base"]["work_dir"])
    rows = [r for _, r in read_jsonl(work / "quantize" / "song_semantic_ids.jsonl")]
    codes = np.array([r["semantic_id"] for r in rows], dtype=np.int64)
    out = tokenization([r["song_id"] for r in rows], codes, song_labels(train, labels, "genre"),
                       song_labels(train, labels, "subgenre"))
    usage = json.loads((work.parent / "metrics" / "quantize.json").read_text())
    out["usage"] = {key: usage[key] for key in ("clusters", "songs_per_cluster", "songs_sharing_full_id", "levels")}
    return out


def evaluate_titles(params: dict, evaluated: list, part: str, labels: dict) -> tuple[dict, dict, dict, list[str]]:
    """(report, per-playlist rows, answers, playlist ids) of every method on the titles of `evaluated`, the playlists
    of `part` (val, test or heldout)."""
    from playlistgen.evaluation.realdev import playlist_rows, redraw_variety, song_labels, summarise

    answers, train, index, redrawn = answers_for(params, evaluated)
    e = params["evaluate"]
    rows = playlist_rows(answers, [p.song_ids for p in evaluated], [labels[p.playlist_id] for p in evaluated],
                         song_labels(train, labels, "genre"), song_labels(train, labels, "subgenre"),
                         index.cluster_of_song, e["playlist_length"])
    report = summarise(rows, answers, e["bootstrap_resamples"], params["base"]["seed"])
    report["playlists"] = {"train": len(train), part: len(evaluated)}
    report["tokenization"] = tokenization_report(params, train, labels)
    report["redraw"] = redraw_variety({name: answers[name] for name in redrawn}, redrawn, e["playlist_length"])
    return report, rows, answers, [p.playlist_id for p in evaluated]


def run_split(params: dict, data_dir: Path, work: Path, split: str, labels: dict,
              heldout: list | None = None, bundle: Path | None = None) -> tuple[dict, dict, dict, list[str]]:
    """The whole check on one split of the playlists (params' base.seed draws it), in `work`. With `heldout`
    (catalog.Playlist, from heldout_playlists) those playlists are answered instead of the split's; with `bundle`
    the trained model is also exported there (the export stage) for generate-playlist."""
    params = copy.deepcopy(params)
    files = params["data"]["files"]
    files["songs"], files["playlists"] = str(data_dir / files["songs"]), str(data_dir / files["playlists"])
    files["vectors"] = {name: str(data_dir / path) for name, path in files["vectors"].items()}
    work.mkdir(parents=True, exist_ok=True)
    params["base"].update(raw_dir=str(work / "raw"), work_dir=str(work / "work"))
    train_summary = build(params, work)
    from stages import export

    params["export"]["bundle_dir"] = str(bundle or work / "bundle")  # what generate-playlist loads
    export.main(params)
    if bundle is not None:
        print(f"[realdev] bundle: {bundle} (generate-playlist --bundle {bundle} \"a title\")")
    evaluated = heldout if heldout is not None else split_playlists(params, split)
    report, rows, answers, ids = evaluate_titles(params, evaluated, split, labels)
    report["train"] = train_summary
    return report, rows, answers, ids


def heldout_playlists(directory: Path, songs_table: Path, development_ids: set[str]) -> tuple[list, dict]:
    """The playlists of another folder of the same layout (playlists.csv, playlist_labels.csv), to answer with a
    model trained on all of --data: (catalog.Playlist list, their labels). Songs missing from --data's song table
    cannot be answered and are left out of the truth (counted in the log); a playlist that is also in --data would
    be scored on its own training data, so that is refused."""
    from playlistgen.data.catalog import LoadReport, Playlist
    from playlistgen.common.io import DataError
    from playlistgen.data.tables import read_playlists_table, read_songs_table

    playlists_path, labels_path = directory / "playlists.csv", directory / "playlist_labels.csv"
    for path in (playlists_path, labels_path):
        if not path.exists():
            raise SystemExit(f"--heldout {directory}: no {path.name}; the folder needs playlists.csv and "
                             "playlist_labels.csv in the layout of --data")
    report = LoadReport()
    try:
        known = {r["song_id"] for r in read_songs_table(songs_table, LoadReport())}
        records = read_playlists_table(playlists_path, known, report)
    except DataError as exc:
        raise SystemExit(f"--heldout: {exc}")
    report.log()
    shared = [r["playlist_id"] for r in records if r["playlist_id"] in development_ids]
    if shared:
        raise SystemExit(f"--heldout: {len(shared)} of its playlists are also in --data (e.g. {shared[0]}), so the "
                         "model would be scored on playlists it trained on; remove them from one of the folders")
    own = read_labels(labels_path)
    unlabelled = [r["playlist_id"] for r in records if r["playlist_id"] not in own]
    if unlabelled:
        raise SystemExit(f"--heldout: {labels_path} has no genre/subgenre for {len(unlabelled)} playlists (e.g. "
                         f"{unlabelled[0]}); genre@20 needs a label for every evaluated playlist")
    playlists = [Playlist(r["playlist_id"], r["title"], r["song_ids"]) for r in records]
    return playlists, {p.playlist_id: own[p.playlist_id] for p in playlists}


def keyed_rows(seed: int, rows: dict[str, list[dict]], ids: list[str]) -> dict[str, dict[str, dict]]:
    """Per method, "<split seed>/<playlist id>" -> that playlist's metrics: what --against pairs on."""
    return {name: {f"{seed}/{pid}": r for pid, r in zip(ids, per)} for name, per in rows.items()}


def compare_runs(now: dict, before: dict, resamples: int, seed: int) -> dict:
    """Per method in both runs, paired bootstrap intervals of (this run - the other run) over the playlists they
    share (same split seeds and part): whether a change of params moved a method beyond noise."""
    from playlistgen.evaluation.metrics import paired_bootstrap

    shaped = isinstance(before, dict) and all(
        isinstance(rows, dict) and all(isinstance(r, dict) and all(isinstance(v, (int, float)) for v in r.values())
                                       for r in rows.values())
        for rows in before.values())
    if not shaped:
        raise SystemExit("--against: not per-playlist rows (method -> playlist -> metrics); give the "
                         "rows_<split>.json a previous run wrote in its --work folder, not its report")
    out = {}
    for name in sorted(now.keys() & before.keys()):
        shared = sorted(now[name].keys() & before[name].keys())
        if not shared:
            continue
        metrics = list(now[name][shared[0]])
        out[name] = {m: paired_bootstrap([now[name][k][m] for k in shared], [before[name][k][m] for k in shared],
                                         resamples, seed) for m in metrics}
        out[name]["playlists"] = len(shared)
    if not out:
        raise SystemExit("--against: the two runs share no evaluated playlists; run both with the same --split and "
                         "--seeds")
    return out


def seed_list(text: str | None, base_seed: int) -> list[int]:
    """--seeds: comma-separated split seeds; base.seed (the committed split) first, the others after it."""
    if not text:
        return [base_seed]
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"--seeds {text!r}: write whole numbers separated by commas, e.g. --seeds 1234,7,11")
    return [base_seed] + [s for s in dict.fromkeys(seeds) if s != base_seed]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "spotify-songs-dev"))
    parser.add_argument("--work", default=None, help="default data/realdev (data/realdev_all with --heldout)")
    parser.add_argument("--split", choices=["val", "test"], default="test")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seeds", default=None, metavar="S1,S2,...",
                        help="also run the check on the splits these seeds draw (in --work_seed<S>) and report them "
                             "pooled: about 3x the playlists behind each mean and interval")
    parser.add_argument("--out", default=None, help="default metrics/realdev.json (test) or metrics/realdev_val.json")
    parser.add_argument("--against", default=None, metavar="ROWS",
                        help="the per-playlist rows another run wrote (<its --work>/rows_<split>.json, e.g. before a "
                             "--set change): report paired 95%% intervals of this run minus that one")
    parser.add_argument("--heldout", default=None, metavar="DIR",
                        help="another folder of playlists in --data's layout (playlists.csv, playlist_labels.csv; "
                             "songs from --data's catalog): train on all of --data (its validation part for early "
                             "stopping) and report on DIR's playlists -> metrics/realdev_heldout.json")
    parser.add_argument("--bundle", default=None, metavar="DIR",
                        help="also export the trained model (of the committed split, or of all of --data with "
                             "--heldout) as an inference bundle for generate-playlist")
    args = parser.parse_args(argv)
    if args.heldout and args.seeds:
        raise SystemExit("--heldout answers one fixed set of playlists: leave out --seeds (it draws other splits of "
                         "--data, which --heldout does not score)")
    part = "heldout" if args.heldout else args.split
    data_dir = Path(args.data).resolve()
    work = Path(args.work or ROOT / "data" / ("realdev_all" if args.heldout else "realdev")).resolve()
    default_out = {"test": "realdev.json", "val": "realdev_val.json", "heldout": "realdev_heldout.json"}[part]
    out_path = Path(args.out or ROOT / "metrics" / default_out).resolve()
    if not (data_dir / "playlists.csv").exists():
        raise SystemExit(f"{data_dir}: no playlists.csv; pass --data with the spotify-songs-dev folder.")
    from stages._common import load_params, setup_logging

    setup_logging()
    params = deep_merge(load_params(), yaml.safe_load((ROOT / "bench" / "realdev.yaml").read_text()))
    for assignment in args.set:
        apply_set(params, assignment)
    seeds = seed_list(args.seeds, params["base"]["seed"])
    e = params["evaluate"]
    labels = read_labels(data_dir / "playlist_labels.csv")
    heldout = None
    if args.heldout:
        params["corpus"]["test_share"] = 0.0  # every playlist of --data trains (or validates)
        heldout, heldout_labels = heldout_playlists(Path(args.heldout).resolve(),
                                                    data_dir / params["data"]["files"]["songs"], set(labels))
        labels = {**labels, **heldout_labels}
    before = None
    if args.against:
        try:
            before = json.loads(Path(args.against).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"--against {args.against}: cannot read it ({exc}); give the rows_<split>.json a "
                             "previous run wrote in its --work folder")
    report, rows, answers, ids = run_split(params, data_dir, work, part, labels, heldout,
                                           Path(args.bundle).resolve() if args.bundle else None)
    report["params"] = {"overrides": args.set, "split": part}
    if args.heldout:
        report["params"]["heldout"] = str(Path(args.heldout).resolve())
    keyed = keyed_rows(seeds[0], rows, ids)
    if len(seeds) > 1:
        from playlistgen.evaluation.realdev import pooled, pooled_redraw

        per_seed, parts = {seeds[0]: report}, [(rows, answers)]
        for seed in seeds[1:]:
            other = copy.deepcopy(params)
            other["base"]["seed"] = seed
            per_seed[seed], seed_rows, seed_answers, seed_ids = run_split(
                other, data_dir, work.with_name(f"{work.name}_seed{seed}"), args.split, labels)
            parts.append((seed_rows, seed_answers))
            for name, by_key in keyed_rows(seed, seed_rows, seed_ids).items():
                keyed.setdefault(name, {}).update(by_key)
        report["splits"] = {
            "seeds": seeds,
            "pooled": {**pooled(parts, e["bootstrap_resamples"], params["base"]["seed"]),
                       "playlists": {args.split: sum(len(r["model"]) for r, _ in parts)},
                       "redraw": pooled_redraw([r["redraw"] for r in per_seed.values()])},
            "per_seed": {str(seed): {"playlists": r["playlists"], "methods": r["methods"],
                                     "tokenization": r["tokenization"]} for seed, r in per_seed.items()},
        }
    from playlistgen.common.io import write_json

    if before is not None:
        report["vs_against"] = {"rows": str(args.against),
                                "ci95": compare_runs(keyed, before, e["bootstrap_resamples"], params["base"]["seed"])}
    write_json(work / f"rows_{part}.json", keyed)
    write_json(out_path, report)
    headline = ("genre@20", "subgenre@20", "ndcg@20", "cluster_f1", "distinct_top10_share", "most_common_top10_share")
    shown = report["splits"]["pooled"] if len(seeds) > 1 else report
    print(f"{'pooled over seeds ' + str(seeds) if len(seeds) > 1 else 'seed ' + str(seeds[0])}, {part} part:")
    print(json.dumps({m: {k: v for k, v in r.items() if k in headline} for m, r in shown["methods"].items()}, indent=1))
    print("vs the strongest baseline:", json.dumps(shown["ci95_vs_strongest_baseline"]))
    print("vs title_profile:", json.dumps(shown["ci95_vs_title_profile"]))
    if before is not None:
        print(f"model, this run - {args.against}:", json.dumps(report["vs_against"]["ci95"].get("model")))
    print(f"wrote {out_path} and {work / f'rows_{part}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
