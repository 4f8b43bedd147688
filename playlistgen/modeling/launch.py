"""How the train stage is launched (stages/launch_train.py): one process runs `python -m stages.train` directly;
several go through `accelerate launch`. Accelerate's launcher wraps any failure of its child in a
`CalledProcessError` traceback and torch elastic adds a `FAILED` report; filter_launcher_traceback takes them out
so that the stage's own one-line error is the last word and its exit code comes back."""
from __future__ import annotations

import re
import sys

LAUNCHER_ERROR = re.compile(r"^(subprocess\.CalledProcessError: .*exit status (-?\d+)|"
                            r"torch\.distributed\.elastic\.multiprocessing\.errors\.ChildFailedError:)")


def launch_command(p: dict, gpus: int | None = None) -> list[str]:
    if gpus is None:
        import torch

        gpus = torch.cuda.device_count()
    n = (gpus or 1) if p["num_processes"] == "auto" else int(p["num_processes"])
    extra = [str(a) for a in p.get("launch_args") or []]
    if n == 1 and not extra:  # nothing for a launcher to do: the stage's exit code and messages come straight back
        return [sys.executable, "-m", "stages.train"]
    # precision is chosen inside the stage (bf16 autocast); "no" here only keeps the launcher from warning
    cmd = ["accelerate", "launch", "--num_processes", str(n), "--dynamo_backend", "no", "--mixed_precision", "no"]
    if n > 1 or "--num_machines" in extra:
        cmd.append("--multi_gpu")  # Accelerate's multi-process launcher; stages.train picks gloo without GPUs
    if "--num_machines" not in extra:
        cmd += ["--num_machines", "1"]
    return cmd + extra + ["-m", "stages.train"]


ELASTIC_LOG = re.compile(r"^[WEI]\d{4} .*torch/distributed/elastic/")
EXITCODE = re.compile(r"^\s*exitcode\s*:\s*(-?\d+)")
RULE = re.compile(r"^=+$")


def filter_launcher_traceback(lines, out) -> int | None:
    """Copy stderr lines to `out`, leaving out the launcher's own report of a failed child: its traceback (the
    block that ends in CalledProcessError or ChildFailedError), torch elastic's log lines and its `==== FAILED`
    summary. Returns the child's exit status named there, if any; the child's own lines all pass."""
    block: list[str] = []
    summary: list[str] | None = None
    status = None
    codes: list[int] = []  # exit codes of the failed ranks: the first real error, not a rank killed after it
    errors: set[str] = set()
    for line in lines:
        if summary is not None:
            summary.append(line)
            match = EXITCODE.match(line)
            if match:
                codes.append(int(match.group(1)))
            if RULE.match(line.strip()) and len(summary) > 1:
                if not any("FAILED" in x for x in summary):
                    out.writelines(summary)
                summary = None
            continue
        if block:
            if line[:1] in (" ", "\t") or line.startswith("Traceback") or not line.strip() or \
                    line.startswith("During handling") or line.startswith("The above exception"):
                block.append(line)
                continue
            match = LAUNCHER_ERROR.match(line)
            if match:
                status = int(match.group(2)) if match.group(2) else status
            else:
                out.writelines(block + [line])
            block = []
            continue
        if line.startswith("Traceback (most recent call last):"):
            block = [line]
        elif RULE.match(line.strip()) and len(line.strip()) >= 20:
            summary = [line]
        elif line.startswith("error: ") and line in errors:
            continue  # every rank reports the same bad input: once is enough
        elif not ELASTIC_LOG.match(line):
            errors.add(line) if line.startswith("error: ") else None
            out.write(line)
    out.writelines(block + (summary or []))
    out.flush()
    if status is None and codes:
        status = next((c for c in codes if c > 0), codes[0])
    return status
