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


def test_readme_tables_match_the_metrics_files():
    assert re.findall(r"<!-- table:([\w-]+) -->", README) == ["default-results", "default-ratios", "unseen-wording",
                                                                       "real-playlists", "real-pooled"]
    assert tables.render(README) == README, "README.md is stale: run python tools/readme_tables.py"


def test_a_changed_metric_makes_the_readme_stale(tmp_path, monkeypatch):
    metrics = json.loads((ROOT / "metrics" / "evaluate.json").read_text())
    metrics["model_knn"]["ndcg@10"] += 0.01
    changed = tmp_path / "evaluate.json"
    changed.write_text(json.dumps(metrics))
    monkeypatch.setitem(tables.TABLES, "default-results", lambda: tables.default_results(changed))
    assert tables.render(README) != README
    assert f"{metrics['model_knn']['ndcg@10']:.4f}" in tables.render(README)


def test_readme_links_and_documents_exist():
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (ROOT / target).exists(), target
    for path in ("docs/results.md", "docs/benchmarks.md", "bench/realdev.py", "bench/realdev.yaml"):
        assert path in README, path
