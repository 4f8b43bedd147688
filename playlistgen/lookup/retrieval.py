"""Retrieval as extra input: the clusters of the training playlists whose titles are nearest (the title-kNN
baseline's size-normalised cluster scores), given to the encoder as code tokens after the title.

The model then refines what similar titles held instead of recalling every title's clusters from its weights. A
training example retrieves with itself left out, so that it sees what an unseen title will see at inference.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from playlistgen.lookup.baselines import TitleKnnBaseline
from playlistgen.data.corpus import Example
from playlistgen.common.io import DataError, read_json, write_json

FILE = "retrieval.json"


@dataclass(frozen=True)
class RetrievalConfig:
    clusters: int            # clusters given per title (0 = off)
    neighbours: int          # nearest training titles whose clusters are scored
    ngram: tuple[int, int]   # character n-gram range of the TF-IDF title vectors

    @classmethod
    def from_params(cls, block: dict) -> "RetrievalConfig":
        try:
            cfg = cls(int(block["clusters"]), int(block["neighbours"]), tuple(int(n) for n in block["ngram"]))
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"params.yaml: train.retrieval needs clusters, neighbours (integers) and ngram "
                            f"([min, max]); got {block!r} ({err}).") from None
        if cfg.clusters < 0 or cfg.neighbours < 1 or len(cfg.ngram) != 2 or not 1 <= cfg.ngram[0] <= cfg.ngram[1]:
            raise DataError(f"params.yaml: train.retrieval: clusters >= 0, neighbours >= 1 and ngram [min, max] with "
                            f"1 <= min <= max; got {block!r}.")
        return cfg

    def save(self, model_dir: Path) -> None:
        write_json(Path(model_dir) / FILE, asdict(self))

    @classmethod
    def load(cls, model_dir: Path) -> "RetrievalConfig | None":
        """The retrieval a trained model reads, or None for a model trained without it."""
        path = Path(model_dir) / FILE
        if not path.exists():
            return None
        d = read_json(path)
        return cls(d["clusters"], d["neighbours"], tuple(d["ngram"]))


class NeighbourClusters:
    """Per title the `clusters` best clusters of its nearest training titles, as encoder input token ids."""

    def __init__(self, train: list[Example], cfg: RetrievalConfig, cluster_sizes: dict[str, int], vocab):
        self.cfg, self.vocab, self.train = cfg, vocab, train
        self.knn = TitleKnnBaseline(train, cfg.neighbours, cfg.ngram, cluster_sizes)

    def clusters(self, titles: list[str], exclude: list[int] | None = None) -> list[list[str]]:
        recs = self.knn.recommend(titles, [self.cfg.clusters] * len(titles), 0, exclude)
        return [r.clusters for r in recs]

    def token_ids(self, titles: list[str], exclude: list[int] | None = None) -> list[list[int]]:
        return [[i for key in keys for i in self.vocab.cluster_to_ids(key)] for keys in self.clusters(titles, exclude)]

    def for_training(self) -> list[list[int]]:
        """The training examples' own inputs: each retrieves with itself left out."""
        return self.token_ids([e.title for e in self.train], list(range(len(self.train))))
