"""RQ-KMeans speed and quality against faiss's ResidualQuantizer, measured in the same run on the same data.

    python bench/quantize.py                 # 1,000,000 x 64 and 100,000 x 768, 3 levels x 256 codes
    python bench/quantize.py --quick         # 200,000 x 64 only

Prints wall time (train + encode of every vector) and reconstruction MSE for both, and the ratios ours / faiss:
a time ratio under 1 is faster than faiss, an MSE ratio under 1 reconstructs better.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def structured_data(n: int, dim: int, seed: int) -> np.ndarray:
    """A mixture of 2,000 anisotropic Gaussians: enough structure for 256-code levels to matter."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, dim)).astype(np.float32)
    scales = rng.uniform(0.2, 0.6, size=(2000, 1)).astype(np.float32)
    labels = rng.integers(0, 2000, size=n)
    return centres[labels] + scales[labels] * rng.normal(size=(n, dim)).astype(np.float32)


def run_faiss(x: np.ndarray, levels: int, nbits: int, iters: int) -> tuple[float, float]:
    import faiss

    t0 = time.perf_counter()
    rq = faiss.ResidualQuantizer(x.shape[1], levels, nbits)
    rq.cp.niter = iters
    rq.train(x)
    codes = rq.compute_codes(x)
    seconds = time.perf_counter() - t0
    mse = float(((x - rq.decode(codes)) ** 2).sum(1).mean())
    return seconds, mse


def run_ours(x: np.ndarray, levels: int, k: int, iters: int) -> tuple[float, float]:
    from playlistgen.quantize import train_rq_kmeans

    t0 = time.perf_counter()
    books, codes = train_rq_kmeans(x, levels, k, iters=iters, seed=0, normalize=False)
    seconds = time.perf_counter() - t0
    mse = float(((x - books.decode(codes)) ** 2).sum(1).mean())
    return seconds, mse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--iters", type=int, default=25, help="k-means iterations per level, both methods")
    args = parser.parse_args()
    shapes = [(200_000, 64)] if args.quick else [(1_000_000, 64), (100_000, 768)]
    print(f"{'data':>16}  {'method':<22} {'seconds':>8} {'MSE':>10}")
    for n, dim in shapes:
        x = structured_data(n, dim, seed=0)
        f_s, f_mse = run_faiss(x, 3, 8, args.iters)
        o_s, o_mse = run_ours(x, 3, 256, args.iters)
        label = f"{n:,} x {dim}"
        print(f"{label:>16}  {'faiss ResidualQuantizer':<22} {f_s:>8.2f} {f_mse:>10.4f}")
        print(f"{label:>16}  {'playlistgen RQ-KMeans':<22} {o_s:>8.2f} {o_mse:>10.4f}")
        print(f"{label:>16}  ratio ours/faiss: time {o_s / f_s:.2f}x, MSE {o_mse / f_mse:.3f}x")


if __name__ == "__main__":
    main()
