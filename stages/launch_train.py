"""Launch the train stage: one process runs `python -m stages.train` directly; several go through
`accelerate launch`, with process count and precision from params.yaml.

train.num_processes: auto = one process per GPU (1 without a GPU); a number > 1 on a machine without GPUs runs
that many CPU processes in a gloo group. train.launch_args are appended as they are: Accelerate's multi-node flags
(--num_machines 2 --machine_rank 0 --main_process_ip HOST --main_process_port 29500) go there.

Either way the stage's own exit code comes back and its one-line error is the last word: accelerate's launcher
would wrap any failure of its child in a `CalledProcessError` traceback, which is filtered out here.
"""
import os
import shlex
import subprocess
import sys

from playlistgen.modeling.launch import filter_launcher_traceback, launch_command


def main() -> int:
    from ._common import run_checks

    params, code = run_checks()
    if code:
        return code
    cmd = launch_command(params["train"])
    print("+ " + shlex.join(cmd), flush=True)
    if cmd[0] == sys.executable:
        os.execv(cmd[0], cmd)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, errors="replace", bufsize=1)
    status = filter_launcher_traceback(proc.stderr, sys.stderr)
    code = proc.wait()
    return status if code and status else code


if __name__ == "__main__":
    sys.exit(main())
