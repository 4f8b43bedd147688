"""The result tables of README.md and docs/results.md, generated from the committed metrics files.

    python tools/readme_tables.py            # rewrite the tables in both from metrics/*.json
    python tools/readme_tables.py --check    # exit 1 if a table and metrics/ disagree (tests/test_readme.py)

A table lives between `<!-- table:NAME -->` and `<!-- /table -->`; everything else in the documents is left alone.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, ROOT / "docs" / "results.md"]
BASELINES = ["title_knn", "exact_title", "title_knn_dense", "tfidf_word_knn", "minilm_knn", "title_profile", "tag_match",
             "popularity"]
REAL_METHODS = ["model", "model_knn", "drawn", "model_drawn", "oracle", "title_profile", "tfidf_word_knn", "minilm_knn",
                "title_knn", "exact_title", "title_knn_dense", "popularity"]
DEFAULT_METRICS = ["ndcg@10", "r_precision", "recall@50", "expansion_f1", "cluster_f1"]
REAL_METRICS = ["genre@20", "subgenre@20", "ndcg@20", "recall@20", "cluster_f1"]


def fmt(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}f}".replace("-", "−")


def signed(value: float, digits: int = 4) -> str:
    return ("+" if value >= 0 else "−") + f"{abs(value):.{digits}f}"


def interval(ci: dict, digits: int = 4) -> str:
    return f"{signed(ci['diff'], digits)} [{signed(ci['lo'], digits)}, {signed(ci['hi'], digits)}]"


def digits_for(metric: str) -> int:
    return 3 if metric in ("cluster_f1", "genre@20", "subgenre@20") else 4


def default_results(metrics: Path = ROOT / "metrics" / "evaluate.json") -> str:
    """Test split of the default data: model and model_knn, each against its best baseline, and every baseline."""
    m = json.loads(metrics.read_text())
    has_knn = "model_knn" in m
    head = ["metric", "model", "model − best baseline, 95% CI"]
    if has_knn:
        head += ["model_knn", "model_knn − best baseline, 95% CI"]
    head += BASELINES
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric in DEFAULT_METRICS + ["distinct_top10_share"]:
        d = digits_for(metric) if metric != "distinct_top10_share" else 2
        cells = [metric.replace("distinct_top10_share", "distinct top-10 lists"), fmt(m["model"][metric], d)]
        ci = m["ci95"].get(metric)
        cells.append(f"{interval(ci, d)} vs {ci['baseline']}" if ci else "")
        if has_knn:
            cells.append(fmt(m["model_knn"][metric], d))
            ci = m["ci95_model_knn"].get(metric)
            cells.append(f"{interval(ci, d)} vs {ci['baseline']}" if ci else "")
        cells += [fmt(m[b][metric], d) for b in BASELINES]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def default_ratios(metrics: Path = ROOT / "metrics" / "evaluate.json") -> str:
    """model and model_knn as a multiple of the best baseline on each headline metric of the default test split."""
    m = json.loads(metrics.read_text())
    methods = [(x, "ci95" if x == "model" else f"ci95_{x}") for x in ("model", "model_knn") if x in m]
    rows = ["| metric | " + " | ".join(f"{x} / best baseline" for x, _ in methods) + " |",
            "|" + "---|" * (len(methods) + 1)]
    for metric in DEFAULT_METRICS:
        cells = []
        for name, key in methods:
            ci = m[key][metric]
            best = m[ci["baseline"]][metric]
            cells.append(f"{m[name][metric] / best:.2f}x ({ci['baseline']}; interval of the difference "
                         f"{'above zero' if ci['lo'] > 0 else 'below zero' if ci['hi'] < 0 else 'holds zero'})")
        rows.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def unseen_wording(metrics: Path = ROOT / "metrics" / "evaluate.json") -> str:
    """The unseen-wording slice of the default test split: titles that use no word of any training title."""
    m = json.loads(metrics.read_text())["slices"]["unseen_wording"]
    methods = [x for x in ("model", "model_knn") if x in m] + BASELINES
    rows = [f"| slice ({m['playlists']} playlists) | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 1)]
    for metric in ("ndcg@10", "r_precision"):
        rows.append(f"| {metric} | " + " | ".join(fmt(m[x][metric]) for x in methods) + " |")
    return "\n".join(rows)


def real_playlists(metrics: Path = ROOT / "metrics" / "realdev.json") -> str:
    """The held-back test part of the real playlists: every method, and the model methods' intervals against the
    strongest lookup and (the model alone) against title_profile."""
    return real_rows(json.loads(metrics.read_text()), "method", REAL_METHODS)


def real_rows(report: dict, first_column: str, names: list[str]) -> str:
    """Rows of a real-playlist table from a report of playlistgen.evaluation.realdev.summarise: each named method's metrics;
    after model, model_knn and the drawn playlists their intervals against the strongest lookup (per metric, named
    in the cell), and after model and model_drawn against title_profile (the same song order without the model)."""
    methods, strongest = report["methods"], report["ci95_vs_strongest_baseline"]
    head = [first_column, "genre@20", "subgenre@20", "NDCG@20", "recall@20", "cluster F1", "distinct top-10",
            "commonest song in top-10"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        if name not in methods:
            continue
        v = methods[name]
        rows.append(f"| {name} | " + " | ".join(fmt(v[x], digits_for(x)) for x in REAL_METRICS)
                    + f" | {v['distinct_top10_share']:.2f} | {v['commonest_song_top10_share']:.2f} |")
        if name in strongest["genre@20"]:
            rows.append(f"| {name} − strongest lookup, 95% CI | " + " | ".join(
                f"{interval(strongest[x][name], digits_for(x))} ({strongest[x]['baseline']})" for x in REAL_METRICS)
                + " | | |")
        if name in ("model", "model_drawn"):
            rows.append(f"| {name} − title_profile, 95% CI | " + " | ".join(
                interval(report["ci95_vs_title_profile"][name][x], digits_for(x)) for x in REAL_METRICS) + " | | |")
    return "\n".join(rows)


def real_playlists_pooled(metrics: Path = ROOT / "metrics" / "realdev.json") -> str:
    """The test parts of three splits of the real playlists together (bench/realdev.py --seeds): per method the
    pooled means and intervals over all their playlists, as real_playlists."""
    r = json.loads(metrics.read_text())
    if "splits" not in r:
        raise FileNotFoundError(2, "no pooled splits; run python bench/realdev.py --seeds 7,11", str(metrics))
    pool = r["splits"]["pooled"]
    first = f"method (seeds {', '.join(map(str, r['splits']['seeds']))}: {pool['playlists']['test']} test playlists)"
    return real_rows(pool, first, REAL_METHODS)


def real_summary(metrics: Path = ROOT / "metrics" / "realdev.json") -> str:
    """The README's short real-playlist table: the pooled test parts, the methods users get, the model alone, its
    song order without the model, the oracle and the strongest lookups, with genre@20's intervals."""
    r = json.loads(metrics.read_text())
    if "splits" not in r:
        raise FileNotFoundError(2, "no pooled splits; run python bench/realdev.py --seeds 7,11", str(metrics))
    pool = r["splits"]["pooled"]
    methods, strongest, vs_profile = pool["methods"], pool["ci95_vs_strongest_baseline"], pool["ci95_vs_title_profile"]
    head = [f"method ({pool['playlists']['test']} test playlists)", "genre@20", "subgenre@20", "NDCG@20",
            "genre@20 − strongest lookup, 95% CI", "genre@20 − title_profile, 95% CI"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in ("model_knn", "drawn", "model", "title_profile", "oracle", "minilm_knn", "tfidf_word_knn", "title_knn"):
        if name not in methods:
            continue
        v = methods[name]
        vs_lookup = (f"{interval(strongest['genre@20'][name], 3)} ({strongest['genre@20']['baseline']})"
                     if name in strongest["genre@20"] else "")
        vs_own = interval(vs_profile[name]["genre@20"], 3) if name in vs_profile else ""
        rows.append(f"| {name} | {fmt(v['genre@20'], 3)} | {fmt(v['subgenre@20'], 3)} | {fmt(v['ndcg@20'], 4)} | "
                    f"{vs_lookup} | {vs_own} |")
    return "\n".join(rows)


TABLES = {"real-summary": real_summary, "default-results": default_results, "default-ratios": default_ratios, "unseen-wording": unseen_wording,
          "real-playlists": real_playlists, "real-pooled": real_playlists_pooled}
BLOCK = re.compile(r"(<!-- table:([\w-]+) -->\n)((?:(?!<!-- ).*\n)*?)(<!-- /table -->)")


def render(text: str) -> str:
    return BLOCK.sub(lambda b: b.group(1) + TABLES[b.group(2)]() + "\n" + b.group(4), text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a document is stale")
    args = parser.parse_args(argv)
    stale = []
    for document in DOCUMENTS:
        name = document.relative_to(ROOT)
        text = document.read_text(encoding="utf-8")
        names = [b.group(2) for b in BLOCK.finditer(text)]
        unknown = [n for n in names if n not in TABLES]
        if unknown:
            print(f"{name}: unknown table {unknown[0]!r}; known: {', '.join(TABLES)}", file=sys.stderr)
            return 2
        try:
            new = render(text)
        except FileNotFoundError as e:
            print(f"{e.filename}: missing; run dvc repro (and python bench/realdev.py for realdev.json) first.",
                  file=sys.stderr)
            return 2
        if new != text:
            stale.append(str(name))
            if not args.check:
                document.write_text(new, encoding="utf-8")
        print(f"{name}: {len(names)} tables ({', '.join(names)})")
    if args.check and stale:
        print(f"{', '.join(stale)}: tables differ from metrics/; run python tools/readme_tables.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
