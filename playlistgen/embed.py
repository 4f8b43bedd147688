"""Song vectors for catalogs that have none: collaborative vectors from playlist co-occurrence.

PPMI of song co-occurrence in playlists (Levy & Goldberg, "Neural Word Embedding as Implicit Matrix Factorization",
NIPS 2014: the SVD of the shifted PPMI matrix behaves like word2vec/item2vec), reduced by scikit-learn's
TruncatedSVD. Only training playlists may be passed in, so evaluation playlists do not leak into the vectors.
"""
from __future__ import annotations

import logging

import numpy as np
from scipy import sparse
from sklearn.decomposition import TruncatedSVD

from .catalog import Playlist
from .io import DataError

log = logging.getLogger(__name__)


def collaborative_vectors(playlists: list[Playlist], dim: int, seed: int) -> tuple[list[str], np.ndarray]:
    """(song ids, (n, dim) float32 vectors) for every song in the given playlists."""
    song_ids = sorted({s for p in playlists for s in p.song_ids})
    if len(song_ids) <= dim:
        raise DataError(f"only {len(song_ids)} songs in training playlists for {dim}-dim collaborative vectors; "
                        "lower data.mpd.collab_dim.")
    column = {s: i for i, s in enumerate(song_ids)}
    rows = [i for i, p in enumerate(playlists) for _ in set(p.song_ids)]
    cols = [column[s] for p in playlists for s in set(p.song_ids)]
    membership = sparse.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)),
                                   shape=(len(playlists), len(song_ids)))        # (playlists, songs) 0/1
    cooc = (membership.T @ membership).tocoo()                                    # (songs, songs) counts
    keep = cooc.row != cooc.col
    i, j, c = cooc.row[keep], cooc.col[keep], cooc.data[keep]
    totals = np.asarray(sparse.csr_matrix((c, (i, j)), shape=(len(song_ids),) * 2).sum(1)).ravel()
    pmi = np.log(c * c.sum() / (totals[i] * totals[j]))
    positive = pmi > 0
    ppmi = sparse.csr_matrix((pmi[positive], (i[positive], j[positive])), shape=(len(song_ids),) * 2)
    vectors = TruncatedSVD(n_components=dim, random_state=seed).fit_transform(ppmi).astype(np.float32)
    informative = ppmi.getnnz(axis=1) > 0  # a song that never co-occurs gets no vector rather than a zero one
    log.info("collaborative vectors: %d of %d songs from %d training playlists, dim %d",
             int(informative.sum()), len(song_ids), len(playlists), dim)
    return [s for s, ok in zip(song_ids, informative) if ok], vectors[informative]
