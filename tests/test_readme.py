"""The README's result tables are what tools/readme_tables.py renders from the committed metrics files (a stale
number fails here), and its links and commands point at things that exist."""
import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "tools" / "readme_tables.py")
tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tables)


def test_the_tables_match_the_metrics_files():
    results = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert re.findall(r"<!-- table:([\w-]+) -->", README) == ["default-ratios", "real-summary"]
    assert re.findall(r"<!-- table:([\w-]+) -->", results) == ["default-results", "default-ratios", "unseen-wording",
                                                                "real-playlists", "real-pooled"]
    assert tables.render(README) == README, "README.md is stale: run python tools/readme_tables.py"
    assert tables.render(results) == results, "docs/results.md is stale: run python tools/readme_tables.py"


def test_the_readme_is_short_and_its_prose_holds_no_unchecked_figure():
    """The README is the front door (results live in docs/, generated); outside its generated tables, the only
    figures are times and sizes of the two commands and the data, not measured quality."""
    assert len(README.encode("utf-8")) <= 15_000, f"README.md is {len(README.encode('utf-8'))} bytes; move detail to docs/"
    prose = re.sub(r"<!-- table:[\w-]+ -->.*?<!-- /table -->", "", README, flags=re.S)
    prose = re.sub(r"```.*?```", "", prose, flags=re.S)
    assert not re.findall(r"(?<![\d.])[+−-]?\d\.\d{2,}(?![\d.])", prose), "a measured figure in the README's prose: put it in a table"


def test_a_changed_metric_makes_the_readme_stale(tmp_path, monkeypatch):
    metrics = json.loads((ROOT / "metrics" / "evaluate.json").read_text())
    metrics["model_knn"]["ndcg@10"] += 0.01
    changed = tmp_path / "evaluate.json"
    changed.write_text(json.dumps(metrics))
    monkeypatch.setitem(tables.TABLES, "default-ratios", lambda: tables.default_ratios(changed))
    assert tables.render(README) != README
    best = metrics[metrics["ci95_model_knn"]["ndcg@10"]["baseline"]]["ndcg@10"]
    assert f"{metrics['model_knn']['ndcg@10'] / best:.2f}x" in tables.render(README)


def test_readme_links_and_documents_exist():
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (ROOT / target).exists(), target
    for doc in ("guide.md", "results.md", "benchmarks.md"):
        for target in re.findall(r"\]\(([^)#:]+)\)", (ROOT / "docs" / doc).read_text(encoding="utf-8")):
            assert (ROOT / "docs" / target).exists(), f"docs/{doc}: {target}"
    for path in ("docs/results.md", "docs/benchmarks.md", "realdev/dvc.yaml"):
        assert path in README, path
