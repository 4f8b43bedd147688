"""Every module a stage can import (its own imports, followed through playlistgen/ and stages/, function-level
imports included) is a dependency of that stage in dvc.yaml: an edit there reruns what it can change."""
import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(dotted: str) -> str | None:
    """playlistgen.data.catalog -> playlistgen/data/catalog.py (or a package's __init__.py); None outside the project."""
    parts = dotted.split(".")
    if parts[0] not in ("playlistgen", "stages"):
        return None
    for candidate in ("/".join(parts) + ".py", "/".join(parts) + "/__init__.py"):
        if (ROOT / candidate).exists():
            return candidate
    return None


def imported_files(path: Path) -> set[str]:
    """Project files (playlistgen/<layer>/x.py, stages/x.py) that one file imports, anywhere in it."""
    package = ".".join(path.relative_to(ROOT).parent.parts)
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            found = module_file(module) if module else None
            subs = {module_file(f"{module}.{a.name}") for a in node.names} - {None}
            out |= subs or ({found} if found else set())
        elif isinstance(node, ast.Import):
            out |= {module_file(a.name) for a in node.names} - {None}
    return out - {"playlistgen/__init__.py"}


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
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "playlistgen").rglob("*.py"))
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


LAYERS = ["common", "data", "ids", "lookup", "modeling", "inference", "evaluation", "serving"]


def test_layers_import_downward_only():
    """playlistgen's subpackages are layers, data in -> semantic IDs -> title lookups -> model -> inference ->
    evaluation and serving (README, Layout): a module imports its own layer or those before it, never one after."""
    upward = []
    for path in sorted((ROOT / "playlistgen").rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if len(parts) < 3:
            continue  # playlistgen/__init__.py and __main__.py sit above every layer
        assert parts[1] in LAYERS, f"{parts[1]}: a subpackage that is not a layer; add it to LAYERS in order"
        for dep in imported_files(path):
            dep_parts = Path(dep).parts
            if dep_parts[0] == "playlistgen" and len(dep_parts) > 2 and LAYERS.index(dep_parts[1]) > LAYERS.index(parts[1]):
                upward.append(f"{'/'.join(parts)} imports {dep}")
    assert not upward, "imports that go up a layer: " + "; ".join(upward)


def test_no_library_function_is_over_80_lines():
    """A function that does not fit on a screen does several things: split it (the stage work in report.py, the
    training loop in train.py and the worlds in synth*.py are split into named steps)."""
    long = []
    for path in sorted((ROOT / "playlistgen").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, "functions over 80 lines: " + "; ".join(long)
