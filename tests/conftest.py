import os

import pytest

from helpers import TINY_PARAMS, TINY_WORLD, copy_project, project_env, set_params

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# sentence vectors are cached on disk (embed.SentenceCache): the tests share one cache of their own, never the user's
os.environ["PLAYLISTGEN_CACHE_DIR"] = __import__("tempfile").mkdtemp(prefix="playlistgen-test-cache-")


def pytest_collection_modifyitems(items):
    """Every test that needs the tiny pipeline run (or runs dvc itself) is `slow`: `pytest -m "not slow"` is the
    quick loop for development, CI runs everything."""
    for item in items:
        if "tiny_project" in getattr(item, "fixturenames", ()) or item.module.__name__ in (
                "test_multiprocess", "test_resume", "test_pipeline", "test_bad_input_stages"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_world():
    from playlistgen.data.synth import generate_world

    return generate_world(seed=7, **TINY_WORLD)


@pytest.fixture()
def catalog_dir(tmp_path, tiny_world):
    from playlistgen.data.synth import write_world

    write_world(tiny_world, tmp_path / "raw")
    return tmp_path / "raw"


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory):
    """The whole DAG run by `dvc repro` on the tiny profile, in a copy of the project."""
    import subprocess

    dest = tmp_path_factory.mktemp("project")
    copy_project(dest)
    set_params(dest / "params.yaml", TINY_PARAMS)
    result = subprocess.run(["dvc", "repro"], cwd=dest, env=project_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return dest
