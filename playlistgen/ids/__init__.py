"""Semantic IDs: residual quantization (RQ-KMeans, RQ-VAE), collision reports and the cluster index (cluster -> songs)."""
