"""RQ-KMeans speed and quality against faiss's ResidualQuantizer, measured in the same run on the same data.

    python bench/quantize.py                 # 1,000,000 x 64 and 100,000 x 768, 3 levels x 256 codes
    python bench/quantize.py --quick         # 200,000 x 64 only
    python bench/quantize.py --shapes 1000000x768 --skip-rqvae   # the GPU bar: 1M x 768 (on a GPU machine)
    (and the RQ-VAE fast mode of design doc 002: 50,000 x 32, 20 epochs: seconds and peak extra memory)

Prints wall time (train + encode of every vector) and reconstruction MSE for both, and the ratios ours / faiss:
a time ratio under 1 is faster than faiss, an MSE ratio under 1 reconstructs better. On a GPU machine ours runs
on the GPU (faiss-cpu stays on the CPU cores) and is timed twice: from the numpy array (the copy to the GPU
included) and from a tensor already on the GPU. The reference is faiss with
max_beam_size 1 (greedy residual k-means, the same algorithm); `--faiss-default-beam` also times faiss's default
beam 5, which on this data is slower and, oddly, reconstructs worse.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np


def structured_data(n: int, dim: int, seed: int) -> np.ndarray:
    """A mixture of 2,000 anisotropic Gaussians: enough structure for 256-code levels to matter."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, dim)).astype(np.float32)
    scales = rng.uniform(0.2, 0.6, size=(2000, 1)).astype(np.float32)
    labels = rng.integers(0, 2000, size=n)
    return centres[labels] + scales[labels] * rng.normal(size=(n, dim)).astype(np.float32)


def run_faiss(x: np.ndarray, levels: int, nbits: int, iters: int, beam: int) -> tuple[float, float]:
    """faiss.ResidualQuantizer; beam 1 is greedy residual k-means (what we do), 5 is faiss's default beam."""
    import faiss

    t0 = time.perf_counter()
    rq = faiss.ResidualQuantizer(x.shape[1], levels, nbits)
    rq.cp.niter = iters
    rq.max_beam_size = beam
    rq.train(x)
    codes = rq.compute_codes(x)
    seconds = time.perf_counter() - t0
    mse = float(((x - rq.decode(codes)) ** 2).sum(1).mean())
    return seconds, mse


# The k-means options the numbers in docs/benchmarks.md were measured with: faiss's own sample cap (256 points per
# centroid) so that both train on the same sample size, and the rest as in params.yaml.
BENCH_KMEANS = dict(max_points_per_centroid=256, init_points_per_centroid=64, max_songs_per_code=None, tol=1e-4,
                    refine_rounds=1, progressive_steps=4, progressive_min_dim=256)


def run_ours(x, levels: int, k: int, iters: int) -> tuple[float, float]:
    """Train + encode; x is a numpy array or a tensor (on the GPU: timed without the host-to-device copy)."""
    import torch

    from playlistgen.ids.quantize import train_rq_kmeans

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    books, codes = train_rq_kmeans(x, levels, k, seed=0, normalize=False, iters=iters, **BENCH_KMEANS)  # codes: CPU
    seconds = time.perf_counter() - t0
    x = x.cpu().numpy() if hasattr(x, "cpu") else x
    mse = float(((x - books.decode(codes)) ** 2).sum(1).mean())
    return seconds, mse


def rqvae_fast_mode(n: int = 50_000, dim: int = 32) -> None:
    """Design doc 002's on-demand mode (4 x 256 codes, 20 epochs, batch 1024) on n x dim vectors, in a fresh
    process so that peak memory above the process's baseline (after imports, data and a toy warm-up run) is the
    training's own."""
    import subprocess
    import sys

    code = f"""
import os, threading, time, numpy as np, torch
from playlistgen.ids.rqvae import RQVAEConfig, train_rq_vae
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
rng = np.random.default_rng(0)
x = (rng.normal(size=(500, {dim}))[rng.integers(0, 500, {n})] + 0.3 * rng.normal(size=({n}, {dim}))).astype(np.float32)
# warm torch's kernels and allocator on a toy run first, so the baseline holds what any torch program pays
train_rq_vae(x[:2048], RQVAEConfig(input_dim={dim}, codebook_size=16, epochs=1), seed=0)
base, peak, done = rss_mb(), [0.0], [False]
def sample():  # resident memory every 5 ms while training runs
    while not done[0]:
        peak[0] = max(peak[0], rss_mb())
        time.sleep(0.005)
sampler = threading.Thread(target=sample)
sampler.start()
t0 = time.perf_counter()
q, codes, hist = train_rq_vae(x, RQVAEConfig(input_dim={dim}), seed=0)
seconds = time.perf_counter() - t0
done[0] = True
sampler.join()
extra = max(peak[0], rss_mb()) - base
used = min(len(np.unique(codes[:, l])) for l in range(4))
print(f"{{seconds:.2f}} {{extra:.0f}} {{used}} {{hist[-1]['loss']:.4f}}")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    seconds, extra_mb, used, loss = float(out[0]), float(out[1]), int(out[2]), float(out[3])
    print(f"RQ-VAE fast mode, {n:,} x {dim}, 20 epochs: {seconds:.2f} s (budget 15 s: {seconds / 15:.2f}x), "
          f"{extra_mb:.0f} MB above baseline (budget 200 MB: {extra_mb / 200:.2f}x); design doc 002 budgets "
          f"120-180 s and 500 MB ({seconds / 150:.3f}x of 150 s); fewest codes used on a level: {used}/256; "
          f"final loss {loss:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--iters", type=int, default=25, help="k-means iterations per level, both methods")
    parser.add_argument("--faiss-default-beam", action="store_true", help="also time faiss with its default beam 5")
    parser.add_argument("--skip-rqvae", action="store_true", help="skip the RQ-VAE fast-mode measurement")
    parser.add_argument("--shapes", nargs="+", default=None, help="N x D shapes, e.g. 1000000x768")
    args = parser.parse_args()
    import torch

    cuda = torch.cuda.is_available()
    print(f"ours on {torch.cuda.get_device_name() if cuda else 'CPU'}; faiss on {os.cpu_count()} CPU cores")
    shapes = [(200_000, 64)] if args.quick else [(1_000_000, 64), (100_000, 768)]
    if args.shapes:
        shapes = [tuple(int(v) for v in shape.lower().split("x")) for shape in args.shapes]
    print(f"{'data':>16}  {'method':<26} {'seconds':>8} {'MSE':>10}")
    for n, dim in shapes:
        x = structured_data(n, dim, seed=0)
        label = f"{n:,} x {dim}"
        if args.faiss_default_beam:
            b_s, b_mse = run_faiss(x, 3, 8, args.iters, beam=5)
            print(f"{label:>16}  {'faiss RQ, beam 5':<26} {b_s:>8.2f} {b_mse:>10.4f}")
        f_s, f_mse = run_faiss(x, 3, 8, args.iters, beam=1)
        if cuda:
            run_ours(x[:100_000], 3, 256, 2)  # CUDA context, kernels and allocator warmed outside the timing
        o_s, o_mse = run_ours(x, 3, 256, args.iters)
        print(f"{label:>16}  {'faiss RQ, beam 1':<26} {f_s:>8.2f} {f_mse:>10.4f}")
        print(f"{label:>16}  {'playlistgen RQ-KMeans':<26} {o_s:>8.2f} {o_mse:>10.4f}")
        if cuda:
            g_s, g_mse = run_ours(torch.from_numpy(x).cuda(), 3, 256, args.iters)
            print(f"{label:>16}  {'  same, data already on GPU':<26} {g_s:>8.2f} {g_mse:>10.4f}")
        print(f"{label:>16}  ratio ours / faiss beam 1: time {o_s / f_s:.2f}x, MSE {o_mse / f_mse:.3f}x")
    if not args.skip_rqvae:
        rqvae_fast_mode()


if __name__ == "__main__":
    main()
