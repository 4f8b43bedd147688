"""One place that sets torch's CPU threads: as many as the cores this process may actually use.

torch starts one intra-op thread per core it sees, which is the machine's, not the process's share: under a cgroup
quota, a taskset mask, or beside another busy process, those threads wait on each other, and a 2-core machine ran
6-8x slower than with one thread (docs/guide.md, "CPU threads"). Every stage, the CLI and the benchmarks call
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


def cores_busy_elsewhere(sample_s: float = 0.1) -> float:
    """How many of this process's cores other processes kept busy over the next `sample_s` seconds (psutil's
    per-CPU times, idle and iowait counted as free; this process's own CPU time taken out); 0.0 where they cannot
    be read."""
    import psutil

    try:
        cpus = sorted(os.sched_getaffinity(0))
        me = psutil.Process()
        own0 = sum(me.cpu_times()[:2])
        per_cpu = psutil.cpu_times_percent(interval=sample_s, percpu=True)
        own1 = sum(me.cpu_times()[:2])
    except (OSError, AttributeError, psutil.Error):
        return 0.0
    busy = sum(100.0 - per_cpu[c].idle - getattr(per_cpu[c], "iowait", 0.0) for c in cpus if c < len(per_cpu)) / 100
    return max(0.0, busy - (own1 - own0) / sample_s)


def choose_threads(processes: int = 1, environ: dict | None = None, busy_elsewhere: float | None = None) -> int:
    """Intra-op threads per process: PLAYLISTGEN_THREADS or OMP_NUM_THREADS if set, else the available cores shared
    by `processes` (several Accelerate processes or DataLoader workers divide the cores, they do not multiply),
    less the cores other processes are keeping busy (`busy_elsewhere`, measured by cores_busy_elsewhere): on 2 cores
    with another process spinning, 2 threads decode 3.7x slower than 1 thread does 1.35x (bench/threads.py)."""
    environ = os.environ if environ is None else environ
    for name in ("PLAYLISTGEN_THREADS", "OMP_NUM_THREADS"):
        value = environ.get(name, "").strip()
        if value:
            try:
                return max(1, int(value))
            except ValueError:
                from playlistgen.common.io import DataError

                raise DataError(f"{name}={value!r}: set it to a whole number of threads, e.g. 1.") from None
    cores = available_cores()
    free = cores - round(busy_elsewhere or 0.0)
    return max(1, max(1, free) // max(1, processes))


def configure(processes: int = 1, measure: bool = True) -> int:
    """Set torch's intra-op threads (see choose_threads), measuring for 0.1 s how busy the other processes keep
    the cores unless `measure` is off; returns the number set."""
    import torch

    explicit = any(os.environ.get(n, "").strip() for n in ("PLAYLISTGEN_THREADS", "OMP_NUM_THREADS"))
    threads = choose_threads(processes, busy_elsewhere=None if explicit or not measure else cores_busy_elsewhere())
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
