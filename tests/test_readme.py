"""The README's result tables say what the committed metrics files say (a stale number fails here)."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def table_after(heading: str, first_column: str) -> dict[str, list[str]]:
    """Rows (first cell -> other cells) of the first table after `heading` whose header starts with first_column."""
    text = README[README.index(heading):]
    start = text.index(f"| {first_column} |")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def number(cell: str) -> float:
    return float(re.match(r"[−+-]?[\d.]+", cell.replace("−", "-")).group(0))


def test_default_data_table_matches_metrics_evaluate_json():
    metrics = json.loads((ROOT / "metrics/evaluate.json").read_text())
    rows = table_after("## Results on the default data", "metric")
    header = ["model", "best", "ci", "title_knn", "exact_title", "title_knn_dense", "title_profile", "tag_match",
              "popularity"]
    for metric in ("ndcg@10", "r_precision", "recall@50", "expansion_f1", "cluster_f1"):
        cells = dict(zip(header, rows[metric]))
        for method in ("model", "title_knn", "exact_title", "title_knn_dense", "title_profile", "tag_match",
                       "popularity"):
            assert number(cells[method]) == pytest.approx(metrics[method][metric], abs=6e-4), (metric, method)
        ci = metrics["ci95"][metric]
        assert cells["best"] == ci["baseline"]
        diff, lo, hi = (number(x) for x in re.findall(r"[−+-]?[\d.]+", cells["ci"].replace("−", "-")))
        assert (diff, lo, hi) == pytest.approx((ci["diff"], ci["lo"], ci["hi"]), abs=6e-4), metric


def test_real_playlists_table_matches_metrics_realdev_json():
    metrics = json.loads((ROOT / "metrics/realdev.json").read_text())["methods"]
    rows = table_after("## Real playlists", "method")
    names = {"model": "model", "title_knn (TF-IDF)": "title_knn", "exact_title": "exact_title",
             "title_knn_dense": "title_knn_dense", "title_profile": "title_profile", "popularity": "popularity"}
    for label, method in names.items():
        cells = rows[label]
        for i, metric in enumerate(("genre@20", "subgenre@20", "ndcg@20", "recall@20", "cluster_f1",
                                    "distinct_top10_share")):
            assert number(cells[i]) == pytest.approx(metrics[method][metric], abs=6e-3 if i == 5 else 6e-4), (
                label, metric)
