"""One place that sets torch's CPU threads: as many as the cores this process may actually use.

torch starts one intra-op thread per core it sees, which is the machine's, not the process's share: under a cgroup
quota, a taskset mask, or beside another busy process, those threads wait on each other, and a 2-core machine ran
6-8x slower than with one thread (see the README, "CPU threads"). Every stage, the CLI and the benchmarks call
`configure()` once; `OMP_NUM_THREADS` or `PLAYLISTGEN_THREADS` set by the user win.
"""
from __future__ import annotations

import math
import os
from pathlib import Path


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by a cgroup v2 `cpu.max` quota (or v1 cfs files), None when there is no quota."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, max(1, math.floor(limit)))
    return max(1, cores)


def choose_threads(processes: int = 1, environ: dict | None = None) -> int:
    """Intra-op threads per process: PLAYLISTGEN_THREADS or OMP_NUM_THREADS if set, else the available cores shared
    by `processes` (several Accelerate processes or DataLoader workers divide the cores, they do not multiply)."""
    environ = os.environ if environ is None else environ
    for name in ("PLAYLISTGEN_THREADS", "OMP_NUM_THREADS"):
        value = environ.get(name, "").strip()
        if value:
            try:
                return max(1, int(value))
            except ValueError:
                from .io import DataError

                raise DataError(f"{name}={value!r}: set it to a whole number of threads, e.g. 1.") from None
    return max(1, available_cores() // max(1, processes))


def configure(processes: int = 1) -> int:
    """Set torch's intra-op threads (see choose_threads); returns the number set."""
    import torch

    threads = choose_threads(processes)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
