"""The real-data check's steps: the project's stages on real Spotify playlists, every method's answers to the
held-out titles, scored with the playlists' genre labels. realdev/dvc.yaml runs the steps (DVC caches, locks and
diffs them); this file holds what DVC cannot do.

    dvc repro realdev/dvc.yaml:report_val     # every split built, the validation parts scored (make choices here)
    dvc repro realdev/dvc.yaml:report_test    # the test parts -> metrics/realdev.json
    python bench/realdev.py compare NOW BEFORE   # paired intervals between two runs' per-playlist rows
    python bench/realdev.py heldout DIR [--bundle OUT]   # train on all of the data, answer another folder's playlists

The steps DVC runs (from realdev/, one per split seed S of realdev/params.yaml): `build --seed S` (data, quantize,
corpus and train stages into work/seed_S/build), `export --seed S` (the bundle generate-playlist loads, in
work/seed_S/bundle), `answer --seed S --split val|test` (every method's 20 songs per held-out title, scored:
work/seed_S/<split>.json) and `report --split val|test` (the committed split's report with every split's parts
pooled under "splits"; per-playlist rows in work/rows_<split>.json for `compare`).

A song's genre is the majority genre of the training playlists holding it; genre@20 is the share of answered songs
of the playlist's genre. About 80 playlists move genre@20 by +-0.05 from one split to the next, so the reports pool
the parts of every split. `compare` intervals count playlist sampling only, not training: a fresh build on another
machine moved pooled validation genre@20 from 0.782 to 0.769, so compare runs built in the same place. The drawn
methods (what generate-playlist gives) are drawn twice; `redraw` says how much of a playlist asking again keeps.

`heldout DIR` is the check on playlists kept out of the data folder altogether (the same layout: playlists.csv,
playlist_labels.csv; songs from the data folder's catalog): every playlist of the data trains or validates (early
stopping), and the methods answer DIR's titles -> metrics/realdev_heldout.json.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "realdev"
sys.path.insert(0, str(ROOT))


def deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def realdev_params(seed: int | None = None, folder: Path | None = None) -> tuple[dict, Path, list[int]]:
    """(params for split seed `seed`, the data folder, the split seeds): the project's params.yaml with
    realdev/params.yaml's overrides, base.seed = seed, the data tables under the data folder and the catalog, work
    folder and bundle under `folder` (default realdev/work/seed_<seed>), validated like any params file."""
    from playlistgen.common.io import DataError
    from playlistgen.common.params import load, validate

    overrides = yaml.safe_load((HERE / "params.yaml").read_text(encoding="utf-8"))
    settings = overrides.pop("realdev")
    data_dir = (HERE / settings["data"]).resolve()
    if not (data_dir / "playlists.csv").exists():
        raise SystemExit(f"{data_dir}: no playlists.csv; set realdev.data in realdev/params.yaml to the "
                         "spotify-songs-dev folder.")
    seeds = [int(s) for s in settings["seeds"]]
    seed = seeds[0] if seed is None else seed
    params = deep_merge(load(ROOT / "params.yaml"), overrides)
    params["base"]["seed"] = seed
    files = params["data"]["files"]
    files["songs"], files["playlists"] = str(data_dir / files["songs"]), str(data_dir / files["playlists"])
    files["vectors"] = {name: str(data_dir / path) for name, path in files["vectors"].items()}
    folder = (folder or HERE / "work" / f"seed_{seed}").resolve()
    params["base"].update(raw_dir=str(folder / "build" / "raw"), work_dir=str(folder / "build" / "work"))
    params["export"]["bundle_dir"] = str(folder / "bundle")
    try:
        validate(params)
    except DataError as e:
        raise SystemExit(f"realdev/params.yaml: {e}")
    return params, data_dir, seeds


def build(params: dict) -> None:
    """The data, quantize, corpus and train stages, as `dvc repro` runs them, into base.raw_dir and base.work_dir;
    the stages' metrics files land next to them (build/metrics), not over the repository's."""
    from stages import corpus, data, quantize, train

    folder = Path(params["base"]["work_dir"]).parent
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)
    for stage in (data, quantize, corpus, train):
        stage.main(params)


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

def part_file(seed: int, split: str) -> Path:
    return HERE / "work" / f"seed_{seed}" / f"{split}.json"


def answer(params: dict, data_dir: Path, split: str) -> dict:
    """Every method's answers on the `split` part of this seed's split, scored (evaluate_titles)."""
    labels = read_labels(data_dir / "playlist_labels.csv")
    report, rows, answers, ids = evaluate_titles(params, split_playlists(params, split), split, labels)
    work = Path(params["base"]["work_dir"]).parent
    report["train"] = json.loads((work / "metrics" / "train.json").read_text())
    return {"report": report, "rows": rows, "answers": answers, "ids": ids}


def report(seeds: list[int], split: str, resamples: int, seed: int) -> tuple[dict, dict]:
    """(the report, per-playlist rows keyed "<seed>/<playlist>"): the committed split's report (seeds[0]) with
    every split's parts pooled under "splits"."""
    from playlistgen.evaluation.realdev import pooled, pooled_redraw

    parts = {s: json.loads(part_file(s, split).read_text()) for s in seeds}
    out = dict(parts[seeds[0]]["report"])
    out["params"] = {"split": split, "seeds": seeds}
    keyed: dict[str, dict] = {}
    for s, part in parts.items():
        for name, by_key in keyed_rows(s, part["rows"], part["ids"]).items():
            keyed.setdefault(name, {}).update(by_key)
    if len(seeds) > 1:
        pairs = [(part["rows"], part["answers"]) for part in parts.values()]
        out["splits"] = {
            "seeds": seeds,
            "pooled": {**pooled(pairs, resamples, seed),
                       "playlists": {split: sum(len(part["rows"]["model"]) for part in parts.values())},
                       "redraw": pooled_redraw([part["report"]["redraw"] for part in parts.values()])},
            "per_seed": {str(s): {"playlists": part["report"]["playlists"], "methods": part["report"]["methods"],
                                  "tokenization": part["report"]["tokenization"]} for s, part in parts.items()},
        }
    return out, keyed


def print_headline(report_: dict, split: str) -> None:
    headline = ("genre@20", "subgenre@20", "ndcg@20", "cluster_f1", "distinct_top10_share")
    shown = report_["splits"]["pooled"] if "splits" in report_ else report_
    print(f"{split} parts, seeds {report_['params'].get('seeds')}:")
    for name, row in shown["methods"].items():
        print(f"  {name:<16}" + "".join(f"{m} {row[m]:.4f}  " for m in headline if m in row))
    print("vs the strongest lookup:", json.dumps(shown["ci95_vs_strongest_baseline"].get("genre@20")))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "export", "answer"):
        step = sub.add_parser(name)
        step.add_argument("--seed", type=int, required=True)
        if name == "answer":
            step.add_argument("--split", choices=["val", "test"], required=True)
    rep = sub.add_parser("report")
    rep.add_argument("--split", choices=["val", "test"], required=True)
    cmp_ = sub.add_parser("compare", help="paired 95%% intervals of NOW - BEFORE per method and metric")
    cmp_.add_argument("now", help="rows_<split>.json of one run (realdev/work/), e.g. after a change")
    cmp_.add_argument("before", help="rows_<split>.json of another run (a copy made before the change)")
    held = sub.add_parser("heldout", help="train on all of the data, answer another folder's playlists")
    held.add_argument("folder")
    held.add_argument("--bundle", default=None, help="also export the model there for generate-playlist")
    args = parser.parse_args(argv)
    from stages._common import setup_logging

    setup_logging()
    from playlistgen.common.io import write_json

    if args.command == "compare":
        return compare_command(args.now, args.before)
    if args.command == "heldout":
        return heldout_command(Path(args.folder).resolve(), args.bundle)
    if args.command == "report":
        params, _, seeds = realdev_params()
        out, keyed = report(seeds, args.split, params["evaluate"]["bootstrap_resamples"], seeds[0])
        write_json(HERE / "work" / f"rows_{args.split}.json", keyed)
        write_json(ROOT / "metrics" / ("realdev.json" if args.split == "test" else "realdev_val.json"), out)
        print_headline(out, args.split)
        return 0
    params, data_dir, _ = realdev_params(args.seed)
    if args.command == "build":
        build(params)
    elif args.command == "export":
        from stages import export

        os.chdir(Path(params["base"]["work_dir"]).parent)
        export.main(params)
    else:
        write_json(part_file(args.seed, args.split), answer(params, data_dir, args.split))
    return 0


def compare_command(now_path: str, before_path: str) -> int:
    from playlistgen.common.io import write_json

    rows = []
    for path in (now_path, before_path):
        try:
            rows.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"compare {path}: cannot read it ({exc}); give a rows_<split>.json from realdev/work/")
    params, _, _ = realdev_params()
    out = compare_runs(rows[0], rows[1], params["evaluate"]["bootstrap_resamples"], params["base"]["seed"])
    for name, metrics in out.items():
        shown = {m: metrics[m] for m in ("genre@20", "subgenre@20", "ndcg@20") if m in metrics}
        print(f"{name} ({metrics['playlists']} playlists): {json.dumps(shown)}")
    target = Path(now_path).with_name(Path(now_path).stem + "_vs.json")
    write_json(target, {"now": now_path, "before": before_path, "ci95": out})
    print(f"wrote {target}")
    return 0


def heldout_command(folder: Path, bundle: str | None) -> int:
    from playlistgen.common.io import write_json

    params, data_dir, seeds = realdev_params(None, HERE / "work" / "heldout")
    params["corpus"]["test_share"] = 0.0  # every playlist of the data trains (or validates)
    labels = read_labels(data_dir / "playlist_labels.csv")
    heldout, heldout_labels = heldout_playlists(folder, data_dir / "songs.csv", set(labels))
    build(params)
    from stages import export

    if bundle:
        params["export"]["bundle_dir"] = str(Path(bundle).resolve())
    export.main(params)
    report_, _, _, _ = evaluate_titles(params, heldout, "heldout", {**labels, **heldout_labels})
    report_["params"] = {"split": "heldout", "heldout": str(folder), "seed": seeds[0]}
    write_json(ROOT / "metrics" / "realdev_heldout.json", report_)
    print_headline(report_, "heldout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
