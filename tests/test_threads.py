"""torch threads follow the cores a process may use, an explicit setting, and the number of processes sharing them."""
import pytest

from playlistgen.common import threads
from playlistgen.common.io import DataError


def test_explicit_setting_wins_and_processes_share_cores(monkeypatch):
    assert threads.choose_threads(environ={"OMP_NUM_THREADS": "3"}) == 3
    assert threads.choose_threads(environ={"PLAYLISTGEN_THREADS": "1", "OMP_NUM_THREADS": "4"}) == 1
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    assert threads.choose_threads(environ={}) == 8
    assert threads.choose_threads(processes=4, environ={}) == 2
    assert threads.choose_threads(processes=16, environ={}) == 1
    with pytest.raises(DataError, match="OMP_NUM_THREADS='many'"):
        threads.choose_threads(environ={"OMP_NUM_THREADS": "many"})


def test_cgroup_quota_is_read(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads.cgroup_cpu_limit(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_cpu_limit(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert threads.cgroup_cpu_limit(tmp_path) == 2.0
    assert threads.cgroup_cpu_limit(tmp_path / "nothing") is None


def test_available_cores_within_the_affinity_mask():
    import os

    assert 1 <= threads.available_cores() <= len(os.sched_getaffinity(0))


def test_cores_kept_busy_elsewhere_leave_fewer_threads(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    assert threads.choose_threads(environ={}, busy_elsewhere=0.1) == 2
    assert threads.choose_threads(environ={}, busy_elsewhere=1.0) == 1  # one core taken by another process
    assert threads.choose_threads(environ={}, busy_elsewhere=2.0) == 1  # never fewer than one
    assert threads.choose_threads(environ={"OMP_NUM_THREADS": "2"}, busy_elsewhere=2.0) == 2  # explicit wins


def test_a_spinning_process_is_seen_as_busy():
    import multiprocessing
    import os
    import time

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    idle = threads.cores_busy_elsewhere(0.3)
    if idle > len(os.sched_getaffinity(0)) - 1.2:  # other work holds all cores but one: a spinner cannot show
        pytest.skip(f"the machine is busy ({idle:.1f} cores in use elsewhere): no spare core to measure on")
    stop = multiprocessing.Event()
    worker = multiprocessing.Process(target=_spin, args=(stop,))
    worker.start()
    try:
        time.sleep(0.3)
        busy = threads.cores_busy_elsewhere(0.3)
    finally:
        stop.set()
        worker.join()
    assert busy > idle + 0.5  # the spinning process holds about one core


def _spin(stop):
    while not stop.is_set():
        pass
