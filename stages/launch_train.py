"""Launch the train stage through `accelerate launch`, with process count and precision from params.yaml.

train.num_processes: auto = one process per GPU (1 without a GPU); a number > 1 on a machine without GPUs runs
that many CPU processes in a gloo group. train.launch_args are appended as they are: Accelerate's multi-node flags
(--num_machines 2 --machine_rank 0 --main_process_ip HOST --main_process_port 29500) go there.
"""
import os
import shlex
import sys

import torch

from ._common import load_params


def launch_command(p: dict) -> list[str]:
    gpus = torch.cuda.device_count()
    n = (gpus or 1) if p["num_processes"] == "auto" else int(p["num_processes"])
    cmd = ["accelerate", "launch", "--num_processes", str(n), "--dynamo_backend", "no"]
    extra = [str(a) for a in p.get("launch_args") or []]
    if n > 1 or "--num_machines" in extra:
        cmd.append("--multi_gpu")  # Accelerate's multi-process launcher; stages.train picks gloo without GPUs
    if "--num_machines" not in extra:
        cmd += ["--num_machines", "1"]
    return cmd + extra + ["-m", "stages.train"]


def main() -> None:
    cmd = launch_command(load_params()["train"])
    print("+ " + shlex.join(cmd), flush=True)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
