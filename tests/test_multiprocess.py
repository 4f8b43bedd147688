"""`accelerate launch` with 2 CPU processes (gloo) on the tiny profile: same quality as one process at the same
global batch, and only the main process writes into the project."""
import json
import subprocess

from helpers import TINY_PARAMS, copy_project, project_env, set_params

# Loaded by every Python process through PYTHONPATH: records writes into the project made by ranks other than 0.
AUDIT = '''
import atexit, json, os, sys
_rank = os.environ.get("RANK")
_root = os.environ["AUDIT_ROOT"]
_seen = []
def _hook(event, args):
    if event == "open" and args[0] is not None:
        path, mode, flags = str(args[0]), args[1], args[2]
        writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            mode is None and flags is not None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
    elif event in ("os.rename", "os.replace", "os.remove", "os.rmdir"):  # not mkdir: save_state makedirs on all ranks
        path, writing = str(args[0]), True
    else:
        return
    if writing and os.path.abspath(path).startswith(_root):
        _seen.append(f"{event} {path}")
if _rank not in (None, "0"):
    sys.addaudithook(_hook)
    atexit.register(lambda: open(os.environ["AUDIT_OUT"] + _rank, "w").write(json.dumps(_seen)))
'''


def test_two_cpu_processes_match_one_and_only_rank_zero_writes(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    copy_project(project)
    env = project_env()
    set_params(project / "params.yaml", {**TINY_PARAMS, ("train", "batch_size"): 32})
    subprocess.run(["dvc", "repro", "train"], cwd=project, env=env, check=True, capture_output=True, timeout=600)
    single = json.loads((project / "metrics/train.json").read_text())

    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    (audit_dir / "sitecustomize.py").write_text(AUDIT)
    env.update(PYTHONPATH=str(audit_dir), AUDIT_ROOT=str(project), AUDIT_OUT=str(tmp_path / "writes_rank"))
    # same global batch (2 x 16 = 32), so the same number of optimizer steps
    set_params(project / "params.yaml", {**TINY_PARAMS, ("train", "batch_size"): 16, ("train", "num_processes"): 2})
    out = subprocess.run(["dvc", "repro", "train"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "--multi_gpu" in out.stdout + out.stderr
    multi = json.loads((project / "metrics/train.json").read_text())
    assert multi["processes"] == 2 and single["processes"] == 1
    assert abs(multi["steps"] - single["steps"]) <= 0.1 * single["steps"]  # bucketed batches shard unevenly
    assert abs(multi["best_val_loss"] - single["best_val_loss"]) < 0.1 * single["best_val_loss"]
    writes = json.loads((tmp_path / "writes_rank1").read_text())
    assert writes == [], writes[:5]
