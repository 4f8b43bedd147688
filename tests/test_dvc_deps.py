"""Every module a stage can import (its own imports, followed through playlistgen/ and stages/, function-level
imports included) is a dependency of that stage in dvc.yaml: an edit there reruns what it can change."""
import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def imported_files(path: Path) -> set[str]:
    """Project files (playlistgen/x.py, stages/x.py) that one file imports, anywhere in it."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:  # from .x import y / from . import x
            names = [node.module] if node.module else [a.name for a in node.names]
            out |= {f"{path.parent.name}/{n.split('.')[0]}.py" for n in names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("playlistgen", "stages"):
            parts = node.module.split(".")
            out |= {f"{parts[0]}/{parts[1]}.py"} if len(parts) > 1 else {f"{parts[0]}/{a.name}.py" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {"/".join(a.name.split(".")[:2]) + ".py" for a in node.names
                    if a.name.split(".")[0] in ("playlistgen", "stages") and "." in a.name}
    return {p for p in out if (ROOT / p).exists()}


def closure(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += imported_files(ROOT / path) - seen
    return seen


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_deps_cover_every_module_it_imports(name):
    module = STAGES[name]["cmd"].split("#")[0].split()[-1]
    needed = closure(module.replace(".", "/") + ".py")
    if module == "stages.launch_train":
        needed |= closure("stages/train.py")
    assert not needed - set(STAGES[name]["deps"]), f"add to dvc.yaml {name}.deps: {sorted(needed - set(STAGES[name]['deps']))}"


def test_paths_come_from_params():
    """Outs and deps under the work, catalog and bundle folders are templated from params.yaml (${base.work_dir}
    ...), so changing a path param moves what DVC tracks with it."""
    text = (ROOT / "dvc.yaml").read_text()
    assert not [p for p in ("data/work", "data/raw", "data/bundle") if p in text]
    assert "${base.work_dir}/quantize" in text and "${export.bundle_dir}" in text


def test_the_library_has_no_import_loop():
    """No playlistgen module imports itself back through others, function-level imports included: a loop makes
    import order matter and splits one concern over two files (the layering README's Layout describes)."""
    modules = sorted(f"playlistgen/{p.name}" for p in (ROOT / "playlistgen").glob("*.py"))
    graph = {m: imported_files(ROOT / m) - {m} for m in modules}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            assert state.get(dep) != "open", "import loop: " + " -> ".join(path[path.index(dep):] + [module, dep])
            if dep not in state:
                visit(dep, path + [module])
        state[module] = "done"

    for module in modules:
        if module not in state:
            visit(module, [])
