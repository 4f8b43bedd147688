"""`generate-playlist`: type a title, get a playlist. A thin layer over PlaylistGenerator."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from playlistgen.common.entry import SURROGATE, guarded, printable
from playlistgen.serving.formats import FORMATS, render
from playlistgen.common.io import DataError
from playlistgen.common.limits import MAX_BEAMS, MAX_SONGS, MAX_TEMPERATURE  # shared with the server and the page

DEFAULT_BUNDLE = os.environ.get("PLAYLISTGEN_BUNDLE", "data/bundle")


def interactive(gen, args) -> None:
    print("Type a title (Enter on an empty line re-rolls the last one). Commands: :n LENGTH, :show CLUSTER, "
          ":q (or q, quit, exit)")
    last, n = None, args.n
    while True:
        try:
            line = input("title> ").strip()
        except (EOFError, KeyboardInterrupt, OSError, ValueError):  # end of input, Ctrl-C, a closed stdin
            print()
            return
        if line in (":q", ":quit", "q", "quit", "exit"):
            return
        if line.startswith(":n"):
            try:
                n = min(MAX_SONGS, max(1, int(line.split()[1])))
                print(f"playlist length is now {n}")
            except (IndexError, ValueError):
                print("usage: :n LENGTH (a positive whole number)")
            continue
        if line.startswith(":show"):
            parts = line.split()
            try:
                songs = gen.cluster_songs(parts[1])
                print(f"cluster {printable(parts[1])}: {len(songs)} songs")
                for s in songs[:30]:
                    print(f"  {printable(s['title'])} — {printable(s['artist'])}")
            except (IndexError, KeyError) as e:
                print(printable(e.args[0]) if isinstance(e, KeyError) else "usage: :show CLUSTER (e.g. :show 12-3)")
            continue
        title = line or last
        if not title:
            print("type a title first")
            continue
        try:
            tracks = (gen.ranked_playlist(title, n, beams=args.beams) if args.ranked else
                      gen.generate(title, n=n, beams=args.beams, temperature=args.temperature,
                                   popularity_weighted=args.popularity_weighted))
        except ValueError as e:
            print(f"error: {printable(e)}")
            continue
        last = title
        print_notice(gen, title)
        print(render(tracks, args.format, title))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="generate-playlist", description="Turn a playlist title or mood into a playlist.")
    parser.add_argument("title", nargs="?", help="title or mood, any language; omit for interactive mode")
    parser.add_argument("-n", type=int, default=None,
                        help="songs in the playlist (default: the bundle's evaluate.playlist_length, 20)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="jsonl: one JSON object per line (for --titles-file)")
    parser.add_argument("--seed", type=int, default=None, help="repeatable result; without it each call may differ")
    parser.add_argument("--beams", type=int, default=None, help="beam width (default: the bundle's)")
    parser.add_argument("--temperature", type=float, default=None, help="sample clusters at this temperature instead of beam search")
    parser.add_argument("--popularity-weighted", action="store_true", help="pick songs within a cluster by popularity")
    parser.add_argument("--ranked", action="store_true",
                        help="the top songs as the evaluate stage ranks them (its NDCG scores this list), the same "
                             "each time, instead of one song drawn per cluster slot")
    parser.add_argument("--no-knn", action="store_true",
                        help="the generative model alone: leave the nearest training titles' songs out of the order "
                             "(model, not model_knn)")
    parser.add_argument("--bundle", default=DEFAULT_BUNDLE, help=f"exported bundle folder (default {DEFAULT_BUNDLE})")
    parser.add_argument("-i", "--interactive", action="store_true", help="prompt loop: Enter re-rolls the last title")
    parser.add_argument("--titles-file", default=None,
                        help="one title per line ('-' = stdin): one playlist each, decoded in batches; "
                             "use with --format jsonl")
    parser.add_argument("--batch-size", type=int, default=64, help="titles decoded together in --titles-file mode")
    parser.add_argument("--data-dir", default=None,
                        help="catalog folder used only if the bundle's song -> semantic ID file must be regenerated")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.n is not None and not 1 <= args.n <= MAX_SONGS:
        parser.error(f"-n must be from 1 to {MAX_SONGS}")
    if args.beams is not None and not 1 <= args.beams <= MAX_BEAMS:
        parser.error(f"--beams must be from 1 to {MAX_BEAMS}")
    if args.ranked and (args.temperature is not None or args.popularity_weighted):
        parser.error("--ranked is the deterministic ranked list: leave out --temperature and --popularity-weighted")
    if args.temperature is not None and not 0 < args.temperature <= MAX_TEMPERATURE:
        parser.error(f"--temperature must be above 0 and at most {MAX_TEMPERATURE:g} (e.g. 0.7; leave it out for "
                     "beam search)")
    return guarded(generate_command, args, verbose=args.verbose)


def generate_command(args) -> int:
    from playlistgen.inference.generator import PlaylistGenerator

    if args.title is not None:  # bytes that are not UTF-8 arrive as lone surrogates: make them U+FFFD
        args.title = SURROGATE.sub("\ufffd", args.title)
    titles = read_titles_file(args.titles_file) if args.titles_file is not None else None  # before the bundle
    gen = PlaylistGenerator(args.bundle, data_dir=args.data_dir)                           # loads (seconds)
    if args.no_knn:
        gen.fusion_weight = 0.0
    if titles is not None:
        return batch_command(gen, args, titles)
    if args.interactive or args.title is None:
        interactive(gen, args)
        return 0
    if args.ranked:
        tracks = gen.ranked_playlist(args.title, args.n, beams=args.beams)
    else:
        tracks = gen.generate(args.title, n=args.n, seed=args.seed, beams=args.beams, temperature=args.temperature,
                              popularity_weighted=args.popularity_weighted)
    print_notice(gen, args.title)
    print(render(tracks, args.format, args.title))
    sys.stdout.flush()  # a closed pipe shows here, inside guarded
    return 0


def print_notice(gen, title: str) -> None:
    """A title unlike every training title is still answered, with a note on standard error (not in the output)."""
    notice = gen.notices([title])[0]
    if notice:
        print(f"note: {notice}", file=sys.stderr)


def read_titles_file(path: str) -> list[str]:
    """The non-blank lines of --titles-file (`-`: standard input); a file that cannot be read or holds no title is
    refused with a message naming it."""
    try:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace")
        with stream:
            titles = [SURROGATE.sub("\ufffd", line.rstrip("\n")) for line in stream if line.strip()]
    except (OSError, UnicodeError) as e:
        raise DataError(f"--titles-file {path}: cannot read it ({getattr(e, 'strerror', None) or e}); give a text "
                        "file with one title per line, or - for standard input.") from e
    if not titles:
        raise DataError(f"--titles-file {path} holds no titles (every line is blank); write one title per line.")
    return titles


def batch_command(gen, args, titles: list[str]) -> int:
    """Playlists for each of `titles` (read_titles_file), decoded `--batch-size` titles at a time; a title that
    cannot be used (empty) gets {"title": ..., "error": ...} in its place and the rest go on."""
    from playlistgen.inference.generator import TitleError

    n = args.n or gen.policy.playlist_length
    fmt = "jsonl" if args.format in ("json", "jsonl") else args.format
    for start in range(0, len(titles), max(1, args.batch_size)):
        chunk = titles[start:start + args.batch_size]
        usable = []
        for i, t in enumerate(chunk):
            try:
                gen.prepare_title(t)
                usable.append(i)
            except TitleError:
                pass
        decoded = gen.generate_clusters_batch([chunk[i] for i in usable], n, args.beams, args.temperature,
                                              args.seed, for_ranking=True) if usable else []
        clusters = dict(zip(usable, decoded))
        notices = dict(zip(usable, gen.notices([chunk[i] for i in usable])))
        for i, title in enumerate(chunk):
            if i not in clusters:
                print(json.dumps({"title": title, "error": "the title is empty"}, ensure_ascii=False))
                continue
            seed = None if args.seed is None else args.seed + start + i
            tracks = (gen.ranked_playlist(title, n, clusters[i]) if args.ranked else
                      gen.playlist_from_clusters(title, clusters[i], n, seed, args.popularity_weighted))
            if fmt == "jsonl":
                answer = {"title": title, "tracks": [t.to_json() for t in tracks]}
                print(json.dumps({**answer, "notice": notices[i]} if notices[i] else answer, ensure_ascii=False))
            else:
                print(render(tracks, fmt, title) + "\n")
    sys.stdout.flush()
    return 0


def admin_main(argv: list[str] | None = None) -> int:
    """`playlistgen semantic-ids | add-songs`: maintain a bundle's song -> semantic ID map."""
    parser = argparse.ArgumentParser(prog="playlistgen", description="Maintain an exported bundle.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("semantic-ids", help="(re)generate the bundle's song -> semantic ID file from features")
    gen.add_argument("--bundle", default=DEFAULT_BUNDLE)
    gen.add_argument("--data-dir", required=True, help="catalog folder with songs.jsonl and features/<name>.npz")
    add = sub.add_parser("add-songs", help="give new songs semantic IDs with the frozen codebooks (no retraining)")
    add.add_argument("--bundle", default=DEFAULT_BUNDLE)
    add.add_argument("--songs", required=True, help="songs.jsonl of the new songs (the data contract's fields)")
    add.add_argument("--features-dir", required=True, help="folder with <feature set>.npz for the new songs")
    ch = sub.add_parser("challenge", help="answer a RecSys-Challenge-2018-layout set; score it against a truth file")
    ch.add_argument("--bundle", default=DEFAULT_BUNDLE)
    ch.add_argument("--challenge-set", required=True, help="challenge_set.json layout: pid, name, seed tracks")
    ch.add_argument("--output", required=True, help="submission CSV (team_info line, then pid and 500 track URIs)")
    ch.add_argument("--truth", help="held-out tracks in the same layout; with it, metrics are computed")
    ch.add_argument("--train", help="the corpus's train.jsonl: adds the title-kNN baseline to the metrics")
    ch.add_argument("--metrics", help="where to write the metrics JSON (default: printed only)")
    ch.add_argument("--clusters", type=int, default=20, help="clusters generated per title (default 20)")
    ch.add_argument("--method", choices=["model_knn", "model"], default="model_knn",
                    help="model_knn (default: as generate-playlist ranks, nearest titles fused in) or model (the "
                         "generated clusters alone, as --no-knn); with --truth both are scored")
    ch.add_argument("--anchor-neighbours", type=int, default=50,
                    help="with --train: neighbours of the word TF-IDF title kNN baseline (default 50)")
    ch.add_argument("--batch-size", type=int, default=64)
    ch.add_argument("--team", default="playlistgen")
    ch.add_argument("--email", default="")
    sv = sub.add_parser("serve", help="HTTP API and web page over a bundle (FastAPI + uvicorn)")
    sv.add_argument("--bundle", default=DEFAULT_BUNDLE)
    sv.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--max-batch", type=int, default=32, help="requests decoded together at most (default 32)")
    sv.add_argument("--max-wait-ms", type=float, default=10.0,
                    help="how long a request waits for others to batch with (default 10 ms)")
    mk = sub.add_parser("make-challenge", help="a challenge set + truth from the catalog's held-out test split")
    mk.add_argument("--catalog", default="data/raw", help="catalog folder (default data/raw)")
    mk.add_argument("--out-set", required=True)
    mk.add_argument("--out-truth", required=True)
    mk.add_argument("--seed-tracks", default="0", help="seed tracks per playlist, cycled, e.g. 0,1,5 (0 = title only)")
    mk.add_argument("--limit", type=int, default=None, help="at most this many playlists")
    mk.add_argument("--params", default="params.yaml", help="base.seed and corpus shares are read from here")
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks for errors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.command in ("challenge", "make-challenge"):
        return guarded(challenge_command, args, verbose=args.verbose)
    if args.command == "serve":
        if not 0 < args.port < 65536 or args.max_batch < 1 or args.max_wait_ms < 0:
            parser.error("--port must be 1-65535, --max-batch at least 1, --max-wait-ms at least 0")
        from playlistgen.serving.server import serve

        return guarded(lambda: serve(args.bundle, args.host, args.port, args.max_batch, args.max_wait_ms) or 0,
                       verbose=args.verbose)
    return guarded(bundle_command, args, verbose=args.verbose)


def bundle_command(args) -> int:
    from pathlib import Path

    from playlistgen.common.io import read_json
    from playlistgen.inference.on_demand import add_songs, load_or_generate

    bundle = Path(args.bundle)
    if not (bundle / "manifest.json").exists():
        raise DataError(f"{bundle}: not a playlistgen bundle (no manifest.json).")
    if args.command == "semantic-ids":
        ids = load_or_generate(bundle, Path(args.data_dir), read_json(bundle / "manifest.json"), force=True)
        print(f"{len(ids)} songs have a semantic ID; see {bundle / 'semantic_id_generation.json'}")
    else:
        counts = add_songs(bundle, Path(args.songs), Path(args.features_dir))
        print(json.dumps(counts))
    return 0


def challenge_command(args) -> int:
    from playlistgen.evaluation import challenge
    from playlistgen.data.catalog import LoadReport
    from playlistgen.common.io import write_json

    if args.command == "make-challenge":
        from playlistgen.common.params import load

        params = load(args.params)
        seeds = [int(k) for k in args.seed_tracks.split(",")]
        if any(k < 0 for k in seeds):
            raise ValueError("--seed-tracks must be whole numbers >= 0, e.g. 0,1,5.")
        counts = challenge.make_challenge_set(args.catalog, args.out_set, args.out_truth, params["base"]["seed"],
                                              params["corpus"]["val_share"], params["corpus"]["test_share"], seeds,
                                              args.limit)
        print(json.dumps(counts))
        return 0
    from playlistgen.inference.generator import PlaylistGenerator

    if args.clusters < 1:
        raise ValueError("--clusters must be at least 1.")
    report = LoadReport()
    playlists = challenge.read_challenge_set(args.challenge_set, report)
    report.log()
    truth = challenge.read_truth(args.truth) if args.truth else None
    gen = PlaylistGenerator(args.bundle)
    knn = (gen.decode_defaults.get("knn_neighbours"), gen.decode_defaults.get("knn_ngram"))
    if args.train and None in knn:
        raise DataError(f"{args.bundle}: the manifest has no knn_neighbours/knn_ngram (an older bundle); export it "
                        "again with `dvc repro export` to compare with title kNN.")
    if args.anchor_neighbours < 1:
        raise ValueError("--anchor-neighbours must be at least 1.")
    answers, metrics = challenge.evaluate_challenge(gen, playlists, truth, args.clusters, args.train, *knn,
                                                    batch_size=args.batch_size, method=args.method,
                                                    anchor_neighbours=args.anchor_neighbours)
    from accelerate import PartialState

    if not PartialState().is_main_process:  # under accelerate launch: every process answered a share; one writes
        return 0
    challenge.write_submission(args.output, answers, args.team, args.email)
    if args.metrics:
        write_json(args.metrics, metrics)
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
