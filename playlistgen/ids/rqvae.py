"""RQ-VAE: encoder MLP -> residual vector quantization -> decoder MLP.

Follows the RQ-VAE of Lee et al., "Autoregressive Image Generation using Residual Quantization" (arXiv:2203.01941),
as used for semantic IDs by TIGER (Rajput et al., arXiv:2305.05065): loss = reconstruction MSE + for each level
||sg[r] - e||^2 + beta * ||r - sg[e]||^2, straight-through gradients. Codebooks start from k-means++ on the first
batch's residuals; codes unused during an epoch are reset to residuals of random training vectors (dead-code reset),
which keeps every level from collapsing to a handful of codes. Defaults of the fast on-demand mode come from design
document 002: 4 quantizers x 256 codes, commitment 0.25, lr 1e-3, 20 epochs, batch 1024, loss logged every 5 epochs.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from playlistgen.common.io import DataError, atomic_path
from playlistgen.common.io import file_metadata, read_file_metadata
from playlistgen.ids.kmeans import kmeans_plus_plus, nearest_centroids

log = logging.getLogger(__name__)


@dataclass
class RQVAEConfig:
    input_dim: int
    latent_dim: int = 32
    hidden_dim: int = 128
    num_levels: int = 4          # design doc 002: num_quantizers = 4
    codebook_size: int = 256     # design doc 002
    commitment: float = 0.25     # design doc 002: commitment_cost
    lr: float = 1e-3             # design doc 002
    epochs: int = 20             # design doc 002: fast mode
    batch_size: int = 1024       # design doc 002
    log_every: int = 5           # design doc 002: print_frequency
    normalize: bool = False


class RQVAE(nn.Module):
    def __init__(self, cfg: RQVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = nn.Sequential(nn.Linear(cfg.input_dim, cfg.hidden_dim), nn.SiLU(),
                                     nn.Linear(cfg.hidden_dim, cfg.latent_dim))
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden_dim), nn.SiLU(),
                                     nn.Linear(cfg.hidden_dim, cfg.input_dim))
        self.codebooks = nn.Parameter(torch.zeros(cfg.num_levels, cfg.codebook_size, cfg.latent_dim))

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (B, D) -> (quantized z with straight-through grad, codes (B, L), codebook+commitment loss)."""
        residual, quantized = z, torch.zeros_like(z)
        codes, loss = [], z.new_zeros(())
        for level in range(self.cfg.num_levels):
            book = self.codebooks[level]                                   # (K, D)
            idx, _ = nearest_centroids(residual.detach(), book.detach())
            chosen = book[idx]                                             # (B, D)
            loss = loss + ((residual.detach() - chosen) ** 2).sum(1).mean() \
                + self.cfg.commitment * ((residual - chosen.detach()) ** 2).sum(1).mean()
            quantized = quantized + chosen
            residual = residual - chosen.detach()
            codes.append(idx)
        quantized = z + (quantized - z).detach()                           # straight-through estimator
        return quantized, torch.stack(codes, 1), loss

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        zq, codes, q_loss = self.quantize(z)
        return self.decoder(zq), codes, q_loss


class RQVAEQuantizer:
    """A trained RQ-VAE with the same interface as ResidualCodebooks: encode, decode, save, load."""

    method = "rq_vae"

    def __init__(self, model: RQVAE):
        self.model = model.eval()

    @property
    def num_levels(self) -> int:
        return self.model.cfg.num_levels

    @property
    def codebook_size(self) -> int:
        return self.model.cfg.codebook_size

    @property
    def dim(self) -> int:
        return self.model.cfg.input_dim

    def prepare(self, vectors) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise DataError(f"vectors of shape {tuple(x.shape)} do not match the RQ-VAE's input dimension {self.dim}.")
        if not torch.isfinite(x).all():
            raise DataError("vectors hold NaN or inf; drop or repair those songs before encoding.")
        return nn.functional.normalize(x, dim=1) if self.model.cfg.normalize else x

    @torch.no_grad()
    def encode(self, vectors) -> np.ndarray:
        x = self.prepare(vectors)
        out = [self.model.quantize(self.model.encoder(x[s:s + 65536]))[1] for s in range(0, len(x), 65536)]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def decode(self, codes) -> np.ndarray:
        codes_t = torch.as_tensor(codes, dtype=torch.long)
        z = sum(self.model.codebooks[level][codes_t[:, level]] for level in range(self.num_levels))
        return self.model.decoder(z).numpy()

    def save(self, path: str | Path) -> None:
        with atomic_path(path, suffix=".safetensors") as tmp:
            state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
            save_file(state, str(tmp), metadata=file_metadata({"method": self.method, "config": asdict(self.model.cfg)}))

    @classmethod
    def load(cls, path: str | Path) -> "RQVAEQuantizer":
        meta = read_file_metadata(path)
        if meta.get("method") != cls.method:
            raise DataError(f"{path}: not an RQ-VAE quantizer (method {meta.get('method')!r}).")
        model = RQVAE(RQVAEConfig(**meta["config"]))
        model.load_state_dict(load_file(str(path)))
        return cls(model)


def train_rq_vae(vectors: np.ndarray, cfg: RQVAEConfig, seed: int) -> tuple[RQVAEQuantizer, np.ndarray, list[dict]]:
    """Train on (n, d) vectors; returns the quantizer, the (n, L) codes of the vectors, and the loss log."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = RQVAE(cfg)
    prep = RQVAEQuantizer(model)
    x = prep.prepare(vectors)
    if len(x) < cfg.codebook_size:
        raise DataError(f"only {len(x)} vectors for a codebook of {cfg.codebook_size}; lower the codebook size.")
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history = []
    with torch.no_grad():  # k-means++ on the first batch's encoder outputs, level by level
        first = x[torch.randperm(len(x), generator=generator)[: max(cfg.batch_size, cfg.codebook_size)]]
        residual = model.encoder(first)
        for level in range(cfg.num_levels):
            model.codebooks[level] = kmeans_plus_plus(residual, cfg.codebook_size, generator)
            idx, _ = nearest_centroids(residual, model.codebooks[level])
            residual = residual - model.codebooks[level][idx]
    model.train()
    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(len(x), generator=generator)
        used = torch.zeros(cfg.num_levels, cfg.codebook_size, dtype=torch.bool)
        total, batches = 0.0, 0
        for start in range(0, len(x), cfg.batch_size):
            batch = x[order[start:start + cfg.batch_size]]
            recon, codes, q_loss = model(batch)
            loss = ((recon - batch) ** 2).sum(1).mean() + q_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            used.scatter_(1, codes.T, True)
            total, batches = total + float(loss.detach()), batches + 1
        with torch.no_grad():  # dead-code reset: unused codes move to residuals of random vectors
            dead = ~used
            if dead.any():
                sample = x[torch.randperm(len(x), generator=generator)[: cfg.batch_size]]
                residual = model.encoder(sample)
                for level in range(cfg.num_levels):
                    n_dead = int(dead[level].sum())
                    if n_dead:
                        pick = torch.randint(len(residual), (n_dead,), generator=generator)
                        model.codebooks[level][dead[level]] = residual[pick]
                    idx, _ = nearest_centroids(residual, model.codebooks[level])
                    residual = residual - model.codebooks[level][idx]
        history.append({"epoch": epoch, "loss": total / batches, "dead_codes_reset": int(dead.sum())})
        if epoch % cfg.log_every == 0 or epoch == cfg.epochs:
            log.info("Epoch %d/%d: Loss=%.4f", epoch, cfg.epochs, total / batches)
    quantizer = RQVAEQuantizer(model.eval())
    return quantizer, quantizer.encode(vectors), history
