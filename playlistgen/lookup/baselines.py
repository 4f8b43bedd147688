"""Baselines scored with the same metrics as the model: most popular, and title TF-IDF nearest neighbours.

Both return clusters (for the cluster-level and cluster-expansion metrics) and a ranked song list (for the
ranking metrics), given the same cluster budget as the model so that expansion sets are comparable in size.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from playlistgen.data.corpus import Example


@dataclass
class Recommendation:
    clusters: list[str]   # distinct clusters, best first
    songs: list[str]      # ranked songs, best first


class PopularityBaseline:
    """The most frequent songs and clusters in training playlists, whatever the title."""

    name = "popularity"

    def __init__(self, train: list[Example]):
        self.song_rank = [s for s, _ in Counter(s for e in train for s in e.song_ids).most_common()]
        self.cluster_rank = [c for c, _ in Counter(c for e in train for c in e.clusters).most_common()]

    def recommend(self, titles: list[str], n_clusters: list[int], n_songs: int) -> list[Recommendation]:
        return [Recommendation(self.cluster_rank[:n], self.song_rank[:n_songs]) for n in n_clusters]


SCORE_CACHE = 20_000  # titles whose neighbour scores a TitleKnnBaseline keeps


class TitleKnnBaseline:
    """Songs and clusters of the k training playlists whose titles are most similar (TF-IDF over character
    n-grams, which handles Chinese, casing and misspellings), each scored by the summed cosine similarity. With
    `cluster_sizes`, a cluster's score is divided by sqrt(its size): summed similarity alone favours big clusters,
    whose expansion is large and imprecise."""

    name = "title_knn"

    def __init__(self, train: list[Example], neighbours: int, ngram_range: tuple[int, int],
                 cluster_sizes: dict[str, int] | None = None):
        self.train = train
        self.neighbours = neighbours
        self.cluster_sizes = cluster_sizes
        self.vectorizer = title_vectorizer(ngram_range)
        self.matrix = self.vectorizer.fit_transform([e.title for e in train])  # (n_train, vocab), rows L2-normalised

    def similarities(self, titles: list[str]) -> np.ndarray:
        return (self.vectorizer.transform(titles) @ self.matrix.T).toarray()  # (n_titles, n_train) cosine

    def neighbour_scores(self, titles: list[str], exclude: list[int] | None = None) -> list[tuple[Counter, Counter]]:
        """Per title (song -> summed similarity, cluster -> summed similarity) over its k most similar training
        playlists, remembered per title (the evaluate stage asks for the same titles for title_knn, exact_title's
        fallback, model_knn and the sampled draws; at most SCORE_CACHE titles, so a server's memory stays bounded).
        `exclude`: per title a training row to leave out (a training playlist asking about itself; not cached).
        The returned counters are shared: read them, do not change them."""
        if exclude is not None:
            return self._neighbour_scores(titles, exclude)
        cache = self.__dict__.setdefault("_scores", {})
        todo = [t for t in dict.fromkeys(titles) if t not in cache]
        if len(cache) + len(todo) > SCORE_CACHE:
            cache.clear()
        if todo:
            cache.update(zip(todo, self._neighbour_scores(todo, None)))
        return [cache[t] for t in titles]

    def _neighbour_scores(self, titles: list[str], exclude: list[int] | None) -> list[tuple[Counter, Counter]]:
        sims = self.similarities(titles)
        if exclude is not None:
            sims[np.arange(len(titles)), exclude] = -1.0
        out = []
        for row in sims:
            song_score: Counter = Counter()
            cluster_score: Counter = Counter()
            for j in np.argsort(-row, kind="stable")[: self.neighbours]:
                if row[j] <= 0:
                    break
                for s in self.train[j].song_ids:
                    song_score[s] += row[j]
                for c in self.train[j].clusters:
                    cluster_score[c] += row[j]
            out.append((song_score, cluster_score))
        return out

    def recommend(self, titles: list[str], n_clusters: list[int], n_songs: int,
                  exclude: list[int] | None = None) -> list[Recommendation]:
        out = []
        for (song_score, cluster_score), n in zip(self.neighbour_scores(titles, exclude), n_clusters):
            if self.cluster_sizes:
                cluster_score = Counter({c: v / self.cluster_sizes.get(c, 1) ** 0.5 for c, v in cluster_score.items()})
            out.append(Recommendation([c for c, _ in cluster_score.most_common(n)],
                                      [s for s, _ in song_score.most_common(n_songs)]))
        return out


def title_vectorizer(ngram_range: tuple[int, int]):
    """TF-IDF over a title's character n-grams (within words, lower-cased, sublinear counts), unfitted."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # here: importing sklearn costs a CLI 1 s

    return TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(ngram_range), lowercase=True, sublinear_tf=True)


class DenseTitleKnnBaseline(TitleKnnBaseline):
    """The title-kNN baseline with dense sentence embeddings (all-MiniLM-L6-v2, offline) instead of TF-IDF."""

    name = "title_knn_dense"

    def __init__(self, train: list[Example], neighbours: int, cluster_sizes: dict[str, int] | None = None,
                 encoder=None):
        """`encoder`: a title_encoder.TitleEncoder already loaded (same vectors as sentence-transformers'), else
        the sentence-transformers model is loaded here."""
        self.train = train
        self.neighbours = neighbours
        self.cluster_sizes = cluster_sizes
        if encoder is None:
            from playlistgen.data.embed import sentence_model

            model = sentence_model()
            self.encode = lambda texts: model.encode(texts, batch_size=256, normalize_embeddings=True)
        else:
            self.encode = encoder.sentence_vectors
        self.matrix = self.encode([e.title for e in train])

    def similarities(self, titles: list[str]) -> np.ndarray:
        return self.encode(titles) @ self.matrix.T


class AnchorTitleKnn:
    """The plain title lookups a recommender engineer would try first, as they would write them: the k training
    playlists nearest the title (word 1-2-gram TF-IDF, or all-MiniLM-L6-v2 sentence vectors), each song scored by
    the summed cosine of the neighbours holding it, ties broken by training popularity. No cluster size
    normalisation, no title profile: the anchor every method here must beat (evaluate.anchor_*)."""

    def __init__(self, name: str, train: list[Example], neighbours: int, similarities):
        """`similarities`: titles -> (titles, training playlists) cosine matrix."""
        self.name, self.train, self.neighbours, self.similarities = name, train, neighbours, similarities
        self.popularity = Counter(s for e in train for s in set(e.song_ids))

    @classmethod
    def word_tfidf(cls, train: list[Example], neighbours: int, ngram_range: tuple[int, int]) -> "AnchorTitleKnn":
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(analyzer="word", ngram_range=tuple(ngram_range), lowercase=True,
                                     sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")  # keep 1-letter words, CJK
        matrix = vectorizer.fit_transform([e.title for e in train])
        return cls("tfidf_word_knn", train, neighbours,
                   lambda titles: (vectorizer.transform(titles) @ matrix.T).toarray())

    @classmethod
    def dense(cls, train: list[Example], neighbours: int, encoder=None,
              dense_knn: DenseTitleKnnBaseline | None = None) -> "AnchorTitleKnn":
        """Over MiniLM title vectors: those of `dense_knn` (the title_knn_dense baseline over the same training
        playlists) when given, so the training titles are encoded once, else encoded here."""
        dense_knn = dense_knn or DenseTitleKnnBaseline(train, neighbours, encoder=encoder)
        return cls("minilm_knn", train, neighbours, dense_knn.similarities)

    def recommend(self, titles: list[str], n_clusters: list[int], n_songs: int) -> list[Recommendation]:
        out = []
        for row, n in zip(np.atleast_2d(self.similarities(titles)), n_clusters):
            song_score: Counter = Counter()
            cluster_score: Counter = Counter()
            for j in np.argsort(-row, kind="stable")[: self.neighbours]:
                if row[j] <= 0:
                    break
                for s in dict.fromkeys(self.train[j].song_ids):
                    song_score[s] += float(row[j])
                for c in dict.fromkeys(self.train[j].clusters):
                    cluster_score[c] += float(row[j])
            songs = sorted(song_score, key=lambda s: (-song_score[s], -self.popularity[s]))
            if len(songs) < n_songs:  # a title sharing no word with any training title: the popular songs
                songs += [s for s, _ in self.popularity.most_common(n_songs) if s not in song_score]
            out.append(Recommendation([c for c, _ in cluster_score.most_common(n)], songs[:n_songs]))
        return out


class TitleProfileBaseline:
    """Retrieval without clusters: every song of the training playlists scored by its training-playlist weight x
    exp(w x cos(title, song's title profile)) (recommend.SongTitleProfiles), the model's own song ranking applied
    to the whole catalog instead of the generated clusters. It measures what the generated clusters add."""

    name = "title_profile"

    def __init__(self, profiles, weights: dict[str, float], title_weight: float, encoder, index=None):
        self.profiles, self.encoder, self.title_weight, self.index = profiles, encoder, title_weight, index
        self.pool = list(profiles.row)
        self.pool_weight = np.array([weights.get(s, 0.0) for s in self.pool])

    def recommend(self, titles: list[str], n_clusters: list[int], n_songs: int) -> list[Recommendation]:
        out = []
        for query, n in zip(self.profiles.queries(titles, self.encoder), n_clusters):
            score = self.pool_weight * np.exp(self.title_weight * self.profiles.scores(query, self.pool))
            songs = [self.pool[i] for i in np.argsort(-score, kind="stable")[:n_songs]]
            clusters = list(dict.fromkeys(self.index.cluster_of_song[s] for s in songs
                                          if s in self.index.cluster_of_song))[:n] if self.index else []
            out.append(Recommendation(clusters, songs))
        return out


class ExactTitleBaseline:
    """Training playlists with the same title (case and spacing ignored): their songs by how many of them hold
    each, their clusters likewise (size-normalised); a title never seen verbatim falls back to `fallback`."""

    name = "exact_title"

    def __init__(self, train: list[Example], fallback, cluster_sizes: dict[str, int]):
        self.by_title: dict[str, list[Example]] = {}
        for e in train:
            self.by_title.setdefault(_normal(e.title), []).append(e)
        self.fallback, self.cluster_sizes = fallback, cluster_sizes

    def recommend(self, titles: list[str], n_clusters: list[int], n_songs: int) -> list[Recommendation]:
        out = self.fallback.recommend(titles, n_clusters, n_songs)
        for i, (title, n) in enumerate(zip(titles, n_clusters)):
            same = self.by_title.get(_normal(title))
            if same:
                songs = Counter(s for e in same for s in e.song_ids)
                clusters = Counter(c for e in same for c in e.clusters)
                clusters = Counter({c: v / self.cluster_sizes.get(c, 1) ** 0.5 for c, v in clusters.items()})
                out[i] = Recommendation([c for c, _ in clusters.most_common(n)],
                                        [s for s, _ in songs.most_common(n_songs)])
        return out


class TagMatchBaseline:
    """A shortcut detector: songs whose catalog tags appear among the title's words (most matching tags first,
    then training-playlist popularity), clusters by their matching songs (size-normalised). It should stay weak
    when tags are not the hidden concept; if it ever rivals the model, the data has a shortcut."""

    name = "tag_match"

    def __init__(self, train: list[Example], tags_of_song: dict[str, list[str]], cluster_of_song: dict[str, str],
                 cluster_sizes: dict[str, int]):
        self.popular = [s for s, _ in Counter(s for e in train for s in e.song_ids).most_common()]
        self.rank = {s: i for i, s in enumerate(self.popular)}
        self.songs_with_tag: dict[str, list[str]] = {}
        for s, tags in tags_of_song.items():
            for tag in tags or ():
                self.songs_with_tag.setdefault(tag.lower(), []).append(s)
        self.cluster_of_song, self.cluster_sizes = cluster_of_song, cluster_sizes

    def recommend(self, titles: list[str], n_clusters: list[int], n_songs: int) -> list[Recommendation]:
        out = []
        for title, n in zip(titles, n_clusters):
            text = _normal(title)
            matches: Counter = Counter()
            for tag, songs in self.songs_with_tag.items():
                if tag in text.split() or (len(tag.split()) > 1 and tag in text):
                    matches.update(songs)
            ranked = sorted(matches, key=lambda s: (-matches[s], self.rank.get(s, len(self.rank)), s))
            ranked += [s for s in self.popular if s not in matches][:max(0, n_songs - len(ranked))]
            clusters: Counter = Counter()
            for s in ranked[:max(n_songs, 200)]:
                if s in self.cluster_of_song:
                    clusters[self.cluster_of_song[s]] += 1
            clusters = Counter({c: v / self.cluster_sizes.get(c, 1) ** 0.5 for c, v in clusters.items()})
            out.append(Recommendation([c for c, _ in clusters.most_common(n)], ranked[:n_songs]))
        return out


def _normal(title: str) -> str:
    return " ".join(title.lower().split())
