"""A plain `pip install .` gives a package that works outside the source tree: every subpackage is in it, the
dependencies it declares are the pinned list, and it loads a bundle and answers a title."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_declared_dependencies_are_the_pinned_list():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "dependencies" in project["project"]["dynamic"] and "dependencies" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), "requirements.txt pins every dependency with =="
    setup = (ROOT / "setup.sh").read_text()
    assert "-r requirements.txt" in setup and "-r requirements-dev.txt" in setup


def test_a_plain_install_imports_every_module_and_answers(tiny_project, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "playlistgen", source / "playlistgen", ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--disable-pip-version-check", "--target", str(site), str(source)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-2000:]
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "playlistgen").rglob("*.py")
                     if p.name not in ("__init__.py", "__main__.py"))
    code = ("import importlib, sys, playlistgen\n"
            f"assert playlistgen.__file__.startswith({str(site)!r}), playlistgen.__file__\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"gen = playlistgen.PlaylistGenerator({str(tiny_project / 'data/bundle')!r})\n"
            "tracks = gen.generate('rainy sunday piano', n=5, seed=1)\n"
            "assert len(tracks) == 5 and all(t.title for t in tracks)\n"
            "print(len(sys.argv), tracks[0].title)\n")
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
