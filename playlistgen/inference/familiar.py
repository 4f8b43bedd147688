"""Does a title resemble anything the model was trained on? A title whose nearest training title is far both in
meaning (MiniLM sentence cosine) and in spelling (character n-gram TF-IDF cosine) gets a notice: the playlist is
still made, but the user is told it rests on no similar training playlist ("asdfgh qwerty", or "reggaeton" in a
catalog without it). The thresholds are export.unfamiliar_title in params.yaml, chosen on the validation titles."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE = "title_vectors.npz"


@dataclass(frozen=True)
class Familiarity:
    nearest: str       # the most similar training title by meaning
    sentence: float    # its sentence cosine
    ngram: float       # the largest character n-gram cosine with any training title
    unfamiliar: bool   # both below their thresholds

    def notice(self, title: str) -> str | None:
        if not self.unfamiliar:
            return None
        return (f"no training playlist has a title like {title!r} (nearest: {self.nearest!r}); this playlist is the "
                "model's guess from what it knows, not a match")


class TitleFamiliarity:
    """The training titles (unique) with their sentence vectors and n-gram TF-IDF rows."""

    def __init__(self, titles: list[str], vectors: np.ndarray, ngram: tuple[int, int], sentence_below: float,
                 ngram_below: float):
        from playlistgen.lookup.baselines import title_vectorizer

        self.titles, self.vectors = titles, vectors.astype(np.float32)
        self.vectorizer = title_vectorizer(tuple(ngram))
        self.matrix = self.vectorizer.fit_transform(titles).astype(np.float32).tocsr()
        self.sentence_below, self.ngram_below = float(sentence_below), float(ngram_below)

    @staticmethod
    def save(path: Path, titles: list[str], vectors: np.ndarray) -> None:
        from playlistgen.common.io import save_npz

        save_npz(path, titles=np.asarray(titles, dtype=str), vectors=vectors.astype(np.float16))

    @classmethod
    def load(cls, path: Path, ngram: tuple[int, int], thresholds: dict) -> "TitleFamiliarity":
        with np.load(path) as z:
            titles, vectors = [str(t) for t in z["titles"]], z["vectors"]
        return cls(titles, vectors, ngram, thresholds["sentence"], thresholds["ngram"])

    def check(self, titles: list[str], sentence_vectors: np.ndarray) -> list[Familiarity]:
        dense = sentence_vectors.astype(np.float32) @ self.vectors.T          # (titles, training titles)
        lexical = (self.vectorizer.transform(titles) @ self.matrix.T).toarray()
        out = []
        for i in range(len(titles)):
            j = int(dense[i].argmax())
            s, g = float(dense[i, j]), float(lexical[i].max(initial=0.0))
            out.append(Familiarity(self.titles[j], round(s, 3), round(g, 3),
                                   s < self.sentence_below and g < self.ngram_below))
        return out
