"""Residual quantization of song vectors into semantic IDs (RQ-KMeans).

Follows the residual k-means used for semantic IDs in TIGER (Rajput et al., "Recommender Systems with Generative
Retrieval", arXiv:2305.05065) and RQ-KMeans in OneRec (arXiv:2502.18965): level l runs k-means on the residual left by
levels < l, so a song's code tuple refines coarse-to-fine. Written with torch matmuls so that the same code runs on
the CPU and on a GPU (the k-means itself is in kmeans.py). Cluster keys and the cluster index are in clusters.py,
the files' metadata header in io.py.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from playlistgen.common.io import DataError, atomic_path, file_metadata, read_file_metadata
from playlistgen.ids.kmeans import balanced_assign, kmeans, nearest_centroids

log = logging.getLogger(__name__)


@dataclass
class ResidualCodebooks:
    """Frozen codebooks (levels x codebook_size x dim); encode any vector later with the same codes."""

    codebooks: torch.Tensor  # (L, K, d) float32
    normalize: bool
    method = "rq_kmeans"

    @property
    def num_levels(self) -> int:
        return int(self.codebooks.shape[0])

    @property
    def codebook_size(self) -> int:
        return int(self.codebooks.shape[1])

    @property
    def dim(self) -> int:
        return int(self.codebooks.shape[2])

    def prepare(self, vectors: np.ndarray | torch.Tensor) -> torch.Tensor:
        """float32 on the codebooks' device (moved first, so the checks run there), validated, normalised."""
        if isinstance(vectors, torch.Tensor):
            x = vectors.to(self.codebooks.device, torch.float32)
        else:
            x = torch.as_tensor(np.asarray(vectors, dtype=np.float32)).to(self.codebooks.device)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise DataError(f"vectors of shape {tuple(x.shape)} do not match the codebooks' dimension {self.dim}.")
        if not torch.isfinite(x).all():
            raise DataError("vectors hold NaN or inf; drop or repair those songs before encoding.")
        if self.normalize:
            x = torch.nn.functional.normalize(x, dim=1)
        return x

    def encode(self, vectors: np.ndarray | torch.Tensor) -> np.ndarray:
        """Greedy residual encoding: (n, d) vectors -> (n, L) int codes."""
        return self.encode_with_error(vectors)[0].cpu().numpy()

    def encode_with_error(self, vectors: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, float]:
        """Codes (n, L) on the codebooks' device and the mean squared reconstruction error, in one pass."""
        residual = self.prepare(vectors).clone()
        codes = torch.empty((len(residual), self.num_levels), dtype=torch.long, device=residual.device)
        for level in range(self.num_levels):
            idx, _ = nearest_centroids(residual, self.codebooks[level])
            codes[:, level] = idx
            residual -= self.codebooks[level][idx]
        return codes, float((residual ** 2).sum(1).mean())

    def decode(self, codes: np.ndarray) -> np.ndarray:
        codes_t = torch.as_tensor(codes, dtype=torch.long, device=self.codebooks.device)
        out = torch.zeros((len(codes_t), self.dim), dtype=self.codebooks.dtype, device=self.codebooks.device)
        for level in range(self.num_levels):
            out += self.codebooks[level][codes_t[:, level]]
        return out.cpu().numpy()

    def save(self, path: str | Path) -> None:
        with atomic_path(path, suffix=".safetensors") as tmp:
            save_file({"codebooks": self.codebooks.detach().cpu().contiguous()}, str(tmp),
                      metadata=file_metadata({"method": self.method, "normalize": self.normalize}))

    @classmethod
    def load(cls, path: str | Path) -> "ResidualCodebooks":
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: codebooks not found; run the quantize stage (dvc repro quantize) first.")
        return cls(load_file(str(path))["codebooks"], bool(read_file_metadata(path).get("normalize", False)))


def refine_codebooks(x: torch.Tensor, codes: torch.Tensor, codebooks: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    """Jointly re-fit all levels' codebooks to fixed codes by least squares (faiss's Train_refine_codebook idea).

    With B the (n, L*K) one-hot matrix of codes, the best codebooks C minimise ||X - B C||^2: solve
    (B^T B + ridge I) C = B^T X. B^T B is built from code co-occurrence counts, so nothing n x L*K is materialised.
    Greedy level-by-level k-means never revisits earlier levels; this lets them adapt to the later ones.
    """
    levels, k, dim = codebooks.shape
    gram = torch.zeros(levels * k, levels * k, dtype=torch.float64, device=x.device)
    rhs = torch.zeros(levels * k, dim, dtype=torch.float64, device=x.device)
    for a in range(levels):
        rhs[a * k:(a + 1) * k].index_add_(0, codes[:, a], x.double())
        for b in range(levels):
            pair = torch.bincount(codes[:, a] * k + codes[:, b], minlength=k * k).reshape(k, k)
            gram[a * k:(a + 1) * k, b * k:(b + 1) * k] = pair.double()
    # unused codes keep their old vector (the ridge pulls them towards it)
    gram += ridge * torch.eye(levels * k, dtype=torch.float64, device=x.device)
    rhs += ridge * codebooks.reshape(levels * k, dim).double()
    solved = torch.linalg.solve(gram, rhs)
    return solved.reshape(levels, k, dim).to(codebooks.dtype)


def train_rq_kmeans(
    vectors: np.ndarray,
    num_levels: int,
    codebook_size: int,
    *,
    seed: int,
    normalize: bool,
    iters: int,
    max_points_per_centroid: int,
    init_points_per_centroid: int,
    max_songs_per_code: int | None,
    tol: float,
    refine_rounds: int,
    progressive_steps: int,
    progressive_min_dim: int,
    device: str | None = None,
) -> tuple[ResidualCodebooks, np.ndarray]:
    """Fit residual k-means codebooks and return them with the (n, L) codes of `vectors`. The k-means options have
    no defaults here: params.yaml's quantize block is their one home (kmeans_options turns it into these keywords).

    `max_songs_per_code` (optional) caps how many vectors one code takes at each level (balanced assignment).
    `refine_rounds` rounds of joint least-squares codebook refinement + re-encoding follow (not with a cap).
    `progressive_steps` > 1 trains each level with progressive-dimension k-means (see `kmeans`) when the vectors
    have at least `progressive_min_dim` dimensions. Below that an iteration's cost is the sample x codebook score
    matrix, not the dimension, so each extra stage costs a full k-means run: at 64 dims 4 stages took 1.9x the time
    for 3.5% lower MSE; at 768 dims, 1.1x the time for 8% lower MSE.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    generator = torch.Generator().manual_seed(seed)
    books = ResidualCodebooks(torch.empty(0, codebook_size, vectors.shape[1], device=device), normalize)
    x = books.prepare(vectors)
    residual = x.clone()
    codebooks, codes = [], []
    for level in range(num_levels):
        centroids = kmeans(residual, codebook_size, iters, generator, max_points_per_centroid,
                           init_points_per_centroid, tol,
                           progressive_steps if vectors.shape[1] >= progressive_min_dim else 0)
        if max_songs_per_code:
            idx = balanced_assign(residual, centroids, max_songs_per_code)
            # Refit centres to their capped members so decode matches encode's assignment on these songs.
            counts = torch.bincount(idx, minlength=codebook_size)
            sums = torch.zeros_like(centroids).index_add_(0, idx, residual)
            centroids = torch.where((counts > 0)[:, None], sums / counts.clamp_min(1)[:, None], centroids)
        else:
            idx, _ = nearest_centroids(residual, centroids)
        residual -= centroids[idx]
        codebooks.append(centroids)
        codes.append(idx)
        log.info("level %d: %d/%d codes used, residual MSE %.5f", level, int(torch.unique(idx).numel()),
                 codebook_size, float((residual ** 2).sum(1).mean()))
    books = ResidualCodebooks(torch.stack(codebooks), normalize)
    codes_t = torch.stack(codes, 1)
    mse = float((residual ** 2).sum(1).mean())
    for _ in range(refine_rounds if not max_songs_per_code else 0):
        refined = ResidualCodebooks(refine_codebooks(x, codes_t, books.codebooks), normalize)
        new_codes, new_mse = refined.encode_with_error(x)
        if new_mse >= mse:
            break  # greedy re-encoding can undo the gain; keep the better of the two
        log.info("codebook refinement: MSE %.5f -> %.5f", mse, new_mse)
        books, codes_t, mse = refined, new_codes, new_mse
    return ResidualCodebooks(books.codebooks.cpu(), normalize), codes_t.cpu().numpy()


def load_quantizer(path: str | Path):
    """Load saved codebooks of either method (RQ-KMeans or RQ-VAE) by the method recorded in the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: codebooks not found; run the quantize stage (dvc repro quantize) first.")
    method = read_file_metadata(path).get("method", "rq_kmeans")
    if method == "rq_vae":
        from playlistgen.ids.rqvae import RQVAEQuantizer

        return RQVAEQuantizer.load(path)
    return ResidualCodebooks.load(path)


def kmeans_options(block: dict) -> dict:
    """train_rq_kmeans's k-means keywords from a quantize block of params.yaml."""
    return {"iters": block["kmeans_iters"], "max_points_per_centroid": block["max_points_per_centroid"],
            "init_points_per_centroid": block["init_points_per_centroid"],
            "max_songs_per_code": block["max_songs_per_code"], "tol": block["kmeans_tol"],
            "refine_rounds": block["refine_rounds"], "progressive_steps": block["progressive_steps"],
            "progressive_min_dim": block["progressive_min_dim"]}


def fit_quantizer(vectors: np.ndarray, block: dict, seed: int):
    """The quantize block's method on `vectors`: (codebooks with prepare/encode/decode/save, (n, levels) codes)."""
    if block["method"] == "rq_kmeans":
        return train_rq_kmeans(vectors, block["num_levels"], block["codebook_size"], seed=seed,
                               normalize=block["normalize"], **kmeans_options(block))
    if block["method"] == "rq_vae":
        from playlistgen.ids.rqvae import RQVAEConfig, train_rq_vae

        cfg = RQVAEConfig(input_dim=vectors.shape[1], num_levels=block["num_levels"],
                          codebook_size=block["codebook_size"], normalize=block["normalize"], **block["rq_vae"])
        books, codes, _ = train_rq_vae(vectors, cfg, seed)
        return books, codes
    raise DataError(f"quantize.method '{block['method']}' is unknown; use rq_kmeans or rq_vae.")
