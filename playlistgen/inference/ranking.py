"""The ranking policy: every setting that turns generated clusters into ranked songs and drawn playlists, in one
typed object.

It is built once, from the params.yaml evaluate block (the evaluate stage, the real-data check, the export) or from
a bundle's manifest (generate-playlist, the server, the challenge), and read by every place that ranks, so the
evaluate stage scores exactly what ships. There are no fallback values: a manifest without a setting is an older
bundle, refused with one message saying to export it again, never read with a guessed default.

Methods are named policies (METHODS): `model_knn` is what ships (the nearest training titles fused into the song
order, the artists a title names first), `model` is the generative model alone (the same policy with both lookups
off).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from playlistgen.common.io import DataError

METHODS = ("model_knn", "model")


@dataclass(frozen=True)
class RankingPolicy:
    title_ranking: float          # w in exp(w x cos(title, song's title profile)); 0 = no title-aware order
    title_lexical: float          # weight of the character n-gram cosine in the title profile's score
    cluster_rank_discount: float  # a song's weight / (1 + its cluster's rank)^this
    cluster_score_power: float    # P(cluster | title)^this replaces the rank discount when > 0
    scored_clusters: int          # the likeliest clusters that join the generated ones (with cluster_score_power)
    knn_fusion: float             # weight of the nearest training titles' songs (model_knn); 0 = the model alone
    knn_neighbours: int           # nearest training titles fused (and the title_knn baseline's k)
    knn_ngram: tuple[int, int]    # character n-gram range of their TF-IDF
    artist_mentions: bool         # the songs of artists a title names first (model_knn only)
    draw_sharpness: float         # a drawn playlist's song weights ^ this
    draw_slots: str               # ranked: a drawn playlist follows the ranked list's clusters | generated
    popularity_power: float       # a song's training-playlist count enters the order as count^this (1 = as is)

    @classmethod
    def from_params(cls, evaluate: dict) -> "RankingPolicy":
        """From params.yaml's evaluate block (validated by params.validate)."""
        values = {f.name: evaluate[f.name] for f in fields(cls)}
        values["artist_mentions"] = bool(values["artist_mentions"] and values["knn_fusion"])  # a model_knn lookup
        return cls._typed(values)

    @classmethod
    def from_manifest(cls, decode: dict, where: str) -> "RankingPolicy":
        """From a bundle manifest's "decode" block; a bundle missing any setting was exported by an older version
        and is refused: its ranking would be guessed, not what its evaluation scored."""
        missing = [f.name for f in fields(cls) if f.name not in decode]
        if missing:
            raise DataError(f"{where}: the bundle has no ranking setting {', '.join(missing)} (exported by an older "
                            "version); export it again with `dvc repro export` (or `playlistgen-export`).")
        return cls._typed({f.name: decode[f.name] for f in fields(cls)})

    @classmethod
    def _typed(cls, values: dict) -> "RankingPolicy":
        return cls(title_ranking=float(values["title_ranking"]), title_lexical=float(values["title_lexical"]),
                   cluster_rank_discount=float(values["cluster_rank_discount"]),
                   cluster_score_power=float(values["cluster_score_power"]),
                   scored_clusters=int(values["scored_clusters"]), knn_fusion=float(values["knn_fusion"]),
                   knn_neighbours=int(values["knn_neighbours"]),
                   knn_ngram=(int(values["knn_ngram"][0]), int(values["knn_ngram"][1])),
                   artist_mentions=bool(values["artist_mentions"]), draw_sharpness=float(values["draw_sharpness"]),
                   draw_slots=str(values["draw_slots"]), popularity_power=float(values["popularity_power"]))

    def to_dict(self) -> dict:
        """What a manifest stores (from_manifest reads it back)."""
        out = asdict(self)
        out["knn_ngram"] = list(self.knn_ngram)
        return out

    def for_method(self, method: str) -> "RankingPolicy":
        """The named method's policy: model_knn as built, model with the lookups (nearest titles, named artists)
        off. model_knn from a policy without fusion is refused: it would be the model alone under another name."""
        if method == "model":
            return replace(self, knn_fusion=0.0, artist_mentions=False)
        if method != "model_knn":
            raise DataError(f"method {method!r}: use one of {', '.join(METHODS)}.")
        if not self.knn_fusion:
            raise DataError("this ranking fuses no nearest titles (evaluate.knn_fusion 0), so model_knn would be "
                            "the model alone; use the method model.")
        return self

    def song_weights(self, playlist_counts: dict[str, int], popularity: dict[str, float]) -> dict[str, float]:
        """The weight each song enters the order with: clusters.ranking_weights (training playlists holding it,
        the catalog's popularity breaking ties) ^ popularity_power. Below 1 the head of a long-tailed catalog
        stops deciding every cluster's order (on MPD-like data one song otherwise tops most lists), and the
        title-aware factor and the cluster decide more."""
        from playlistgen.ids.clusters import ranking_weights

        weights = ranking_weights(playlist_counts, popularity)
        if self.popularity_power == 1.0:
            return weights
        return {s: w ** self.popularity_power for s, w in weights.items()}

    def rank(self, index, clusters: list[str], limit: int | None, weights: dict[str, float], title_scores=None,
             neighbours: dict[str, float] | None = None, distribution: dict[str, float] | None = None,
             named: list[str] | None = None) -> list[str]:
        """`clusters`' songs best first under this policy (ClusterIndex.ranked_songs): `weights` the songs'
        training-playlist weights, `title_scores` ids -> cos(title, song profile), `neighbours` the nearest training
        titles' song scores, `distribution` P(cluster | title), `named` the songs of artists the title names. The
        lookups (`neighbours`, `named`) are ignored when the policy fuses none (the model alone)."""
        fused = self.knn_fusion > 0
        return index.ranked_songs(
            clusters, limit, weights, title_scores if self.title_ranking else None, self.title_ranking,
            self.cluster_rank_discount, neighbours if fused else None, self.knn_fusion,
            distribution if self.cluster_score_power else None, self.cluster_score_power, self.scored_clusters,
            named if fused and self.artist_mentions else None)
