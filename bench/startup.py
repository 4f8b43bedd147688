"""Start-up of `generate-playlist "title"`: a whole cold command against the floor any torch CLI pays.

    python bench/startup.py [--bundle data/bundle] [--repeats 3]

Reference: `python -c "import torch, transformers"` in a fresh process. Measured: the full command (start, load the
bundle and the title encoder, decode, print), median of --repeats runs, and in one process where the time goes.
"""
from __future__ import annotations

import subprocess
import sys

from _common import bundle_parser, median_seconds


def wall(cmd: list[str], repeats: int) -> float:
    return median_seconds(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL), repeats, warmup=False)


def main() -> None:
    parser = bundle_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    floor = wall([sys.executable, "-c", "import torch, transformers"], args.repeats)
    command = wall([sys.executable, "-m", "playlistgen.serving.cli", "rainy sunday piano", "-n", "20", "--format", "csv",
                    "--bundle", args.bundle], args.repeats)
    probe = ("import time; t=time.perf_counter(); import playlistgen.inference.generator as g; a=time.perf_counter(); "
             f"gen=g.PlaylistGenerator({args.bundle!r}); b=time.perf_counter(); gen.generate('rainy sunday piano', 20);"
             " c=time.perf_counter(); print(f'{a-t:.2f} {b-a:.2f} {c-b:.2f}')")
    imports, load, first = map(float, subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                                                     text=True).stdout.split())
    print(f"reference (python -c 'import torch, transformers'): {floor:.2f} s")
    print(f"generate-playlist \"rainy sunday piano\" -n 20: {command:.2f} s wall ({command / floor:.2f}x the reference)")
    print(f"  in one process: imports {imports:.2f} s, bundle + title encoder load {load:.2f} s, "
          f"first playlist {first:.2f} s")


if __name__ == "__main__":
    main()
