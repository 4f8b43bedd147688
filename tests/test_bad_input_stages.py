"""Stages and the train launcher with bad params or missing inputs: exit 2 with one `error:` line, no traceback
(accelerate's launcher traceback included); killed runs' temporaries are swept by the next run."""
import os
import subprocess
import sys

import pytest
import yaml

from helpers import copy_project, project_env
from playlistgen.modeling.launch import filter_launcher_traceback, launch_command


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    dest = tmp_path_factory.mktemp("bad_stages")
    copy_project(dest)
    return dest


def with_params(project, edit):
    path = project / "params.yaml"
    original = path.read_text()
    params = yaml.safe_load(original)
    edit(params)
    path.write_text(yaml.safe_dump(params))
    return original


def run_module(project, module, timeout=300):
    return subprocess.run([sys.executable, "-m", module], cwd=project, env=project_env(), capture_output=True,
                          text=True, timeout=timeout)


STAGE_CASES = [
    ("stages.quantize", lambda p: p["quantize"].update(codebook_size=0), "quantize.codebook_size = 0"),
    ("stages.quantize", lambda p: p["quantize"].update(cluster_levels=4), "at most quantize.num_levels"),
    ("stages.corpus", lambda p: p["corpus"].update(val_share=1.5), "corpus.val_share = 1.5"),
    ("stages.data", lambda p: p["data"].update(size="huge"), "data.size = 'huge'"),
    ("stages.evaluate", lambda p: p["train"].pop("epochs"), "train.epochs is missing"),
    ("stages.launch_train", lambda p: p["train"].update(batch_size=0), "train.batch_size = 0"),
    ("stages.export", lambda p: p["evaluate"].update(decode="greedy"), "beam | sample"),
    ("stages.quantize", lambda p: p["quantize"].update(features=["../../etc"]), "feature set names"),
]


@pytest.mark.parametrize("module,edit,words", STAGE_CASES, ids=[f"{m}:{w}" for m, _, w in STAGE_CASES])
def test_bad_params_stop_a_stage_with_one_line(project, module, edit, words):
    original = with_params(project, edit)
    try:
        before = sorted(p.relative_to(project) for p in project.rglob("*") if ".git" not in p.parts)
        out = run_module(project, module)
        assert out.returncode == 2, out.stderr[-2000:]
        assert "Traceback" not in out.stderr and words in out.stderr
        assert [line for line in out.stderr.splitlines() if line.startswith("error:")] == [
            out.stderr.strip().splitlines()[-1]]
        after = sorted(p.relative_to(project) for p in project.rglob("*") if ".git" not in p.parts)
        assert after == before  # nothing written
    finally:
        (project / "params.yaml").write_text(original)


def test_params_file_that_is_not_yaml(project):
    path = project / "params.yaml"
    original = path.read_text()
    try:
        path.write_text("base: [unclosed\n")
        out = run_module(project, "stages.quantize")
        assert out.returncode == 2 and "not valid YAML" in out.stderr and "Traceback" not in out.stderr
    finally:
        path.write_text(original)


def test_missing_input_of_a_stage_is_named(project):
    out = run_module(project, "stages.corpus")  # no quantize outputs in this copy
    assert out.returncode == 2 and "clusters.json: file not found" in out.stderr and "Traceback" not in out.stderr


def test_two_process_launch_passes_the_stage_error_through_without_the_launcher_traceback(project):
    original = with_params(project, lambda p: p["train"].update(num_processes=2))
    try:
        out = run_module(project, "stages.launch_train", timeout=300)
    finally:
        (project / "params.yaml").write_text(original)
    assert out.returncode == 2, out.stderr[-3000:]
    assert "CalledProcessError" not in out.stderr and "file not found" in out.stderr


def test_launcher_filter_drops_only_its_own_traceback():
    import io

    child_bug = ["Traceback (most recent call last):\n", '  File "x.py", line 1, in <module>\n',
                 "ZeroDivisionError: division by zero\n"]
    launcher = ["Traceback (most recent call last):\n", '  File "accelerate", line 9, in main\n',
                "    raise subprocess.CalledProcessError(returncode=process.returncode, cmd=cmd)\n",
                "subprocess.CalledProcessError: Command '['python', '-m', 'stages.train']' returned non-zero exit "
                "status 2.\n"]
    out = io.StringIO()
    status = filter_launcher_traceback(["error: data/x: file not found.\n"] + child_bug + launcher, out)
    assert status == 2
    assert out.getvalue() == "error: data/x: file not found.\n" + "".join(child_bug)


def test_one_process_runs_the_stage_without_a_launcher():
    assert launch_command({"num_processes": "auto"}, gpus=0) == [sys.executable, "-m", "stages.train"]
    assert launch_command({"num_processes": 2}, gpus=0)[:2] == ["accelerate", "launch"]
    assert launch_command({"num_processes": 1, "launch_args": ["--num_machines", "2"]}, gpus=0)[:2] == [
        "accelerate", "launch"]


def test_killed_runs_temporaries_are_swept_by_the_next_write(tmp_path):
    from playlistgen.common.io import write_json

    dead = tmp_path / ".out.json.999999999.abc.tmp"
    dead.write_text("partial")
    stale_dir = tmp_path / ".out.json.999999998.x.tmp"
    stale_dir.mkdir()
    live = tmp_path / f".out.json.{os.getppid()}.def.tmp"  # a process still running: maybe writing right now
    live.write_text("in progress")
    write_json(tmp_path / "out.json", {"ok": True})
    assert not dead.exists() and not stale_dir.exists() and live.exists()
