"""torch threads follow the cores a process may use, an explicit setting, and the number of processes sharing them."""
import pytest

from playlistgen import threads
from playlistgen.io import DataError


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
