"""The data stages at growing size: synthetic MPD-format worlds of 10k and 100k playlists (more with --sizes), each
stage run by DVC's own entry point in its own process, timed and its peak memory (max RSS) read from the kernel.

    python bench/scale.py                                   # 10,000 and 100,000 playlists
    python bench/scale.py --sizes 10000,30000 --work /tmp/scale
    python bench/scale.py --sizes 10000,100000,1000000 --work /big/disk   # about 16 GB of slices at 1M

Per size N: `python -m playlistgen.data.synth --mpd-out` writes N playlists (10 to 120 songs, mean about 65, as the
MPD's 66) over 2.26 N songs (the MPD's ratio of distinct tracks to playlists), slice by slice; then the data stage
(MPD import, the collab set by data.embed.collab_method svd, without the sentence model: text_features and
context_features off), the quantize stage and the corpus stage run in a copy of the project with data.source: mpd.
Printed per stage: wall
seconds and peak RSS at each size, each as a ratio against the first size measured in the same run, the growth
exponent between the two largest sizes (log ratio / log size ratio: 1 is linear) and the time and memory that
exponent projects for the full MPD (1,000,000 playlists). The reference is the first size's run; no figure here
is compared with a constant.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FULL_MPD = 1_000_000
STAGES = ["data", "quantize", "corpus"]


def run_measured(cmd: list[str], cwd: Path, log_path: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process; its output goes to log_path. A failure stops the bench
    with the log's tail."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(cwd)}
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{tail}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


def project_copy(dest: Path, slices: Path) -> Path:
    """The tracked project files in `dest`, its params set for the MPD slices at `slices`."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if rel.startswith(("data/", "metrics/", "realdev/", "tests/", "docs/")):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["data"]["source"] = "mpd"
    params["data"]["mpd"]["paths"] = [str(slices / "mpd.slice.*.json")]
    params["data"]["embed"].update(text_features=False, context_features=False, collab_method="svd")
    params["quantize"]["features"] = ["collab"]
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    return dest


def measure_size(n: int, work: Path) -> dict:
    folder = work / f"n{n}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    out = {"playlists": n}
    slices = folder / "mpd"
    out["synth"] = run_measured([sys.executable, "-m", "playlistgen.data.synth", "--mpd-out", str(slices),
                                 "--playlists", str(n), "--songs", str(round(2.26 * n)), "--length", "10,120"],
                                ROOT, folder / "synth.log")
    out["slices_mb"] = sum(p.stat().st_size for p in slices.glob("*.json")) / 2**20
    project = project_copy(folder / "project", slices)
    for stage in STAGES:
        out[stage] = run_measured([sys.executable, "-m", f"stages.{stage}"], project, folder / f"{stage}.log")
        print(f"  {n:>9,} playlists  {stage:<9} {out[stage][0]:8.1f} s  {out[stage][1]:8.0f} MB", flush=True)
    corpus = json.loads((project / "metrics" / "corpus.json").read_text())
    songs = sum(1 for _ in open(project / "data" / "raw" / "songs.jsonl", encoding="utf-8"))
    out["songs"], out["examples"] = songs, corpus.get("examples", corpus)
    shutil.rmtree(slices)  # the slices are the biggest thing here; the catalog stays for a look
    return out


def exponent(small: float, large: float, n_small: int, n_large: int) -> float:
    return math.log(max(large, 1e-9) / max(small, 1e-9)) / math.log(n_large / n_small)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="playlist counts, smallest first")
    parser.add_argument("--work", default="/tmp/playlistgen-scale", help="where the worlds and catalogs go")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if len(sizes) < 2:
        raise SystemExit("--sizes: give at least two sizes, e.g. 10000,100000")
    work = Path(args.work)
    runs = []
    for n in sizes:
        print(f"{n:,} playlists:", flush=True)
        runs.append(measure_size(n, work))
    first, small, large = runs[0], runs[-2], runs[-1]
    print(f"\nper stage, against the {first['playlists']:,}-playlist run of this invocation "
          f"(exponent between {small['playlists']:,} and {large['playlists']:,}; projection to {FULL_MPD:,}):")
    print(f"{'stage':<9} {'size':>10} {'seconds':>9} {'x first':>8} {'peak MB':>9} {'x first':>8}")
    figures = {"sizes": sizes, "runs": runs, "stages": {}}
    for stage in ["synth"] + STAGES:
        for r in runs:
            t, m = r[stage]
            print(f"{stage:<9} {r['playlists']:>10,} {t:>9.1f} {t / first[stage][0]:>7.2f}x {m:>9.0f} "
                  f"{m / first[stage][1]:>7.2f}x")
        e_t = exponent(small[stage][0], large[stage][0], small["playlists"], large["playlists"])
        e_m = exponent(small[stage][1], large[stage][1], small["playlists"], large["playlists"])
        scale = FULL_MPD / large["playlists"]
        projected = (large[stage][0] * scale ** e_t, large[stage][1] * scale ** e_m)
        figures["stages"][stage] = {"time_exponent": round(e_t, 3), "memory_exponent": round(e_m, 3),
                                    "projected_full_mpd_seconds": round(projected[0]),
                                    "projected_full_mpd_peak_mb": round(projected[1])}
        print(f"{stage:<9} growth exponent: time {e_t:.2f}, memory {e_m:.2f}; full MPD projected: "
              f"{projected[0] / 60:.0f} min, {projected[1] / 1024:.1f} GB peak")
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
