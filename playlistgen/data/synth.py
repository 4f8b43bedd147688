"""A deterministic synthetic music world: the embedded default dataset.

Latent concepts are genre x mood x era. A song belongs to one concept; its latent vector is the sum of the genre,
mood and era vectors plus song noise. Each feature set sees the latent through its own random projection, weighting
and noise (audio hears genre and era best, lyrics carry the mood), and some songs lack a set. Playlists pick a
primary concept (Zipf-popular) and often a neighbouring secondary one; their songs come mostly from those, the rest
from the popular head. Titles come from per-concept vocabularies in English or Chinese through templates, with
noise: dropped words, casing, emoji, filler words and misspellings. A title often names only some of the concept's
facets, so the task is ambiguous the way real titles are.

Over 300 lines on purpose: concepts, songs, feature sets, playlists and titles are drawn from one random stream
in one order; splitting them over files would hide that order, which every committed result depends on.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playlistgen.data.catalog import FEATURES_DIR, PLAYLISTS_FILE, SONGS_FILE
from playlistgen.common.io import save_npz, write_jsonl

GENRES = [
    ("piano", "钢琴"), ("jazz", "爵士"), ("rock", "摇滚"), ("hip hop", "嘻哈"), ("edm", "电子"),
    ("folk", "民谣"), ("classical", "古典"), ("r&b", "节奏布鲁斯"), ("metal", "金属"), ("mandopop", "华语流行"),
    ("lofi", "低保真"), ("country", "乡村"),
]
MOODS = [
    ("chill", "放松", [("study", "学习"), ("late night", "深夜"), ("rainy sunday", "下雨天")]),
    ("happy", "快乐", [("summer", "夏日"), ("road trip", "自驾")]),
    ("sad", "伤感", [("breakup", "失恋"), ("lonely night", "孤独夜晚")]),
    ("energetic", "燃", [("workout", "健身"), ("running", "跑步")]),
    ("romantic", "浪漫", [("date night", "约会"), ("wedding", "婚礼")]),
    ("dark", "暗黑", [("halloween", "万圣节"), ("midnight drive", "午夜驾驶")]),
    ("dreamy", "梦幻", [("sleep", "睡前"), ("stargazing", "看星星")]),
    ("focus", "专注", [("coding", "写代码"), ("deep work", "工作")]),
]
ERAS = [("80s", "80年代"), ("90s", "90年代"), ("2000s", "千禧"), ("new", "新歌")]

# A title names some facets of the playlist's concept; the facets it leaves out are not constrained (a "workout"
# playlist mixes genres and eras, a "90s rock" playlist mixes moods). {activity} stands for the mood.
EN_TEMPLATES = [
    "{mood} {genre}", "{activity} {genre}", "{genre} for {activity}", "{era} {genre}", "{mood} {era} {genre}",
    "{activity}", "{mood} vibes", "my {mood} {genre} mix", "{genre} {activity} playlist", "{era} {mood} songs",
    "{activity} {mood}", "{genre} hits", "{era} {genre} for {activity}",
]
ZH_TEMPLATES = ["{activity}{genre}", "{mood}{genre}", "{era}{genre}", "{activity}", "{mood}的{genre}", "{activity}听的歌",
                "{era}{mood}{genre}"]
FILLERS = ["mix", "playlist", "vibes", "songs", "music", "best", "2024", "lol", "!!", "<3"]
EMOJI = ["🎧", "🌧", "🔥", "💔", "✨", "🌙", "☀️"]
SYLLABLES = "la mi so ra ko ne vi da lu ka ze po ri ta no me shi yu an el or in ar ve lo".split()


@dataclass
class World:
    songs: list[dict]
    playlists: list[dict]
    features: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (song_ids, vectors)


def _name(rng: np.random.Generator, words: int) -> str:
    parts = ["".join(rng.choice(SYLLABLES, size=rng.integers(2, 4))) for _ in range(words)]
    return " ".join(p.capitalize() for p in parts)


def _misspell(rng: np.random.Generator, word: str) -> str:
    if len(word) < 4 or not word.isascii():
        return word
    i = int(rng.integers(1, len(word) - 1))
    return word[:i] + word[i + 1:]


def _facets(template: str) -> tuple[bool, bool, bool]:
    """Which of genre, mood, era a template names."""
    return "{genre}" in template, "{mood}" in template or "{activity}" in template, "{era}" in template


def _title(rng: np.random.Generator, template: str, zh: bool, genre: int, mood: int, era: int, noise: float) -> str:
    g_en, g_zh = GENRES[genre]
    m_en, m_zh, activities = MOODS[mood]
    a_en, a_zh = activities[rng.integers(len(activities))]
    e_en, e_zh = ERAS[era]
    words = dict(genre=g_zh, mood=m_zh, activity=a_zh, era=e_zh) if zh else dict(genre=g_en, mood=m_en, activity=a_en, era=e_en)
    title = template.format(**words)
    if rng.random() < noise:
        tokens = title.split()
        if not zh and len(tokens) > 1 and rng.random() < 0.5:
            j = int(rng.integers(len(tokens)))
            tokens[j] = _misspell(rng, tokens[j])
        if rng.random() < 0.5:
            tokens.append(str(rng.choice(FILLERS)))
        if rng.random() < 0.3:
            tokens.append(str(rng.choice(EMOJI)))
        title = " ".join(tokens)
    if not zh:
        casing = rng.random()
        title = title.title() if casing < 0.2 else title.upper() if casing < 0.25 else title
    return title


def world_args(data: dict, seed: int, num_songs: int, num_playlists: int) -> dict:
    """The keywords both worlds share, from params.yaml's data block (their one home)."""
    return dict(seed=seed, num_songs=num_songs, num_playlists=num_playlists, latent_dim=data["latent_dim"],
                song_noise=data["song_noise"], popularity_zipf=data["popularity_zipf"],
                concept_zipf=data["concept_zipf"], primary_share=data["primary_share"],
                secondary_share=data["secondary_share"], secondary_prob=data["secondary_prob"])


def generate_world(
    seed: int, num_songs: int, num_playlists: int, latent_dim: int, feature_dims: dict[str, int],
    feature_noise: dict[str, float], missing_share: dict[str, float], song_noise: float, popularity_zipf: float,
    concept_zipf: float, playlist_length: tuple[int, int], primary_share: float, secondary_share: float,
    secondary_prob: float, zh_share: float, title_noise: float,
) -> World:
    """Build songs, playlists and feature sets; the same arguments always give the same world."""
    songs, features, playlists = stream_world(
        seed, num_songs, num_playlists, latent_dim, feature_dims, feature_noise, missing_share, song_noise,
        popularity_zipf, concept_zipf, playlist_length, primary_share, secondary_share, secondary_prob, zh_share,
        title_noise)
    return World(songs, list(playlists), features)


def stream_world(
    seed: int, num_songs: int, num_playlists: int, latent_dim: int, feature_dims: dict[str, int],
    feature_noise: dict[str, float], missing_share: dict[str, float], song_noise: float, popularity_zipf: float,
    concept_zipf: float, playlist_length: tuple[int, int], primary_share: float, secondary_share: float,
    secondary_prob: float, zh_share: float, title_noise: float,
) -> tuple[list[dict], dict, Iterator[dict]]:
    """(songs, feature sets, an iterator of the playlists): generate_world's world with the playlists made one at a
    time as the iterator is read, so a world of a million playlists needs memory for its songs only."""
    rng = np.random.default_rng(seed)
    n_g, n_m, n_e = len(GENRES), len(MOODS), len(ERAS)
    facet_vecs = (rng.normal(size=(n_g, latent_dim)), rng.normal(size=(n_m, latent_dim)),
                  rng.normal(size=(n_e, latent_dim)) * 0.7)
    # Songs: concept, latent vector, metadata. Concept sizes are uneven, as real catalogs are.
    num_concepts = n_g * n_m * n_e
    concept_weight = rng.dirichlet(np.full(num_concepts, 2.0))
    song_concept = rng.choice(num_concepts, size=num_songs, p=concept_weight)
    columns = (song_concept // (n_m * n_e), (song_concept // n_e) % n_m, song_concept % n_e)
    own = rng.normal(scale=song_noise, size=(num_songs, latent_dim))
    popularity, songs = _songs_v1(rng, columns, num_songs, popularity_zipf)
    song_ids = [s["song_id"] for s in songs]
    features = _features_v1(rng, facet_vecs, columns, own, song_ids, feature_dims, feature_noise, missing_share)
    del own

    def playlists() -> Iterator[dict]:
        # a playlist: a concept and a title template; the pool is every song matching the facets the title names
        pools: dict[tuple, np.ndarray] = {}
        cdfs: dict = {}  # draw_songs' cumulative weights per pool
        concept_pop = 1.0 / (rng.permutation(num_concepts) + 1) ** concept_zipf
        concept_pop /= concept_pop.sum()
        global_p = popularity / popularity.sum()
        for p in range(num_playlists):
            c1 = int(rng.choice(num_concepts, p=concept_pop))
            g, m, e = c1 // (n_m * n_e), (c1 // n_e) % n_m, c1 % n_e
            zh = rng.random() < zh_share
            template = str(rng.choice(ZH_TEMPLATES if zh else EN_TEMPLATES))
            facets = _facets(template)
            primary = facet_pool(pools, columns, tuple(v if f else -1 for v, f in zip((g, m, e), facets)))
            secondary = None
            if rng.random() < secondary_prob:
                g2, m2, e2 = neighbour(rng, (g, m, e), (n_g, n_m, n_e))
                secondary = facet_pool(pools, columns, tuple(v if f else -1 for v, f in zip((g2, m2, e2), facets)))
            primary = primary if len(primary) else np.arange(num_songs)
            secondary = secondary if secondary is not None and len(secondary) else None
            length = int(rng.integers(playlist_length[0], playlist_length[1] + 1))
            chosen = draw_songs(rng, length, primary, secondary, popularity, global_p, primary_share, secondary_share,
                                cdfs)
            yield {"playlist_id": f"p{p:06d}", "title": _title(rng, template, zh, g, m, e, title_noise),
                   "song_ids": [song_ids[s] for s in chosen]}

    return songs, features, playlists()


def facet_pool(pools: dict, columns: tuple[np.ndarray, ...], key: tuple[int, ...]) -> np.ndarray:
    """The songs whose facet columns match `key` (one value per column, -1 = any), memoised in `pools`."""
    if key not in pools:
        match = np.ones(len(columns[0]), dtype=bool)
        for value, column in zip(key, columns):
            if value >= 0:
                match &= column == value
        pools[key] = np.flatnonzero(match)
    return pools[key]


def _songs_v1(rng, columns: tuple[np.ndarray, ...], num_songs: int, popularity_zipf: float) -> tuple[np.ndarray, list]:
    """Zipf popularity, and each song's name, artist (per genre), album and exact facet tags."""
    song_g, song_m, song_e = columns
    popularity = 1.0 / (rng.permutation(num_songs) + 1) ** popularity_zipf
    popularity /= popularity.max()
    artists_per_genre = max(2, num_songs // (len(GENRES) * 25))
    artist_names = [[_name(rng, 2) for _ in range(artists_per_genre)] for _ in range(len(GENRES))]
    songs = []
    for i in range(num_songs):
        g, m, e = int(song_g[i]), int(song_m[i]), int(song_e[i])
        songs.append({"song_id": f"s{i:06d}", "title": _name(rng, int(rng.integers(1, 4))),
                      "artist": artist_names[g][int(rng.integers(artists_per_genre))], "album": _name(rng, 2),
                      "tags": [GENRES[g][0], MOODS[m][0], ERAS[e][0]], "popularity": round(float(popularity[i]) * 100, 3)})
    return popularity, songs


def _features_v1(rng, facet_vecs, columns, own, song_ids, feature_dims, feature_noise, missing_share) -> dict:
    """Feature sets: each its own projection and facet weighting of the latent parts, its own noise and gaps."""
    facet_weights = {0: (1.0, 0.6, 0.9), 1: (0.5, 1.0, 0.4)}
    parts = [vecs[col] for vecs, col in zip(facet_vecs, columns)]
    latent = parts[0] + parts[1] + parts[2] + own
    latent_dim = own.shape[1]
    features = {}
    for k, (name, dim) in enumerate(sorted(feature_dims.items())):
        w_g, w_m, w_e = facet_weights.get(k, (1.0, 1.0, 1.0))
        mixed = w_g * parts[0] + w_m * parts[1] + w_e * parts[2] + (latent - parts[0] - parts[1] - parts[2])
        projection = rng.normal(size=(latent_dim, dim)) / np.sqrt(latent_dim)
        vectors = mixed @ projection + rng.normal(scale=feature_noise[name], size=(len(song_ids), dim))
        present = rng.random(len(song_ids)) >= missing_share[name]
        features[name] = (np.array(song_ids)[present], vectors[present].astype(np.float32))
    return features


def neighbour(rng: np.random.Generator, concept: tuple[int, int, int], sizes: tuple[int, int, int]) -> tuple[int, int, int]:
    """A neighbouring concept: (genre, mood, era) with one facet redrawn (the mood, the era or the genre)."""
    g, m, e = concept
    choice = rng.integers(3)
    if choice == 0:
        m = int(rng.integers(sizes[1]))
    elif choice == 1:
        e = int(rng.integers(sizes[2]))
    else:
        g = int(rng.integers(sizes[0]))
    return g, m, e


def draw_songs(rng: np.random.Generator, length: int, primary: np.ndarray, secondary: np.ndarray | None,
               popularity: np.ndarray, global_p: np.ndarray, primary_share: float, secondary_share: float,
               cdfs: dict | None = None) -> list[int]:
    """A playlist's distinct songs: each from the primary pool, the secondary pool or the global popular head
    (shares as given; without a secondary pool its share goes to the primary), popularity-weighted within a pool
    with a floor so the long tail still gets picked. `cdfs` (a dict kept across calls) caches each pool's
    cumulative weights, so a draw costs a binary search rather than a pass over the pool: the same draws as
    rng.choice(p=...) makes, at any catalog size."""
    cdfs = {} if cdfs is None else cdfs
    chosen: list[int] = []
    taken: set[int] = set()
    attempts = 0
    while len(chosen) < length and attempts < length * 20:
        attempts += 1
        u = rng.random()
        if u < primary_share or (secondary is None and u < primary_share + secondary_share):
            pool = primary
        elif u < primary_share + secondary_share:
            pool = secondary
        else:
            pool = None
        if pool is None:
            song = int(_cdf(cdfs, global_p, None).searchsorted(rng.random(), side="right"))
        else:
            song = int(pool[_cdf(cdfs, pool, popularity).searchsorted(rng.random(), side="right")])
        if song not in taken:
            taken.add(song)
            chosen.append(song)
    return chosen


def _cdf(cache: dict, array: np.ndarray, popularity: np.ndarray | None) -> np.ndarray:
    """The cumulative distribution rng.choice(len(p), p=p) searches (numpy's own arithmetic: cumsum, then divided by
    the last value), for p = `array` itself (popularity None) or a pool's floored popularity weights; cached by the
    array object, which the cache keeps alive so its id cannot be reused."""
    hit = cache.get(id(array))
    if hit is not None and hit[0] is array:
        return hit[1]
    if popularity is None:
        p = array
    else:
        weights = popularity[array] + 0.02
        p = weights / weights.sum()
    cdf = np.asarray(p, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    cache[id(array)] = (array, cdf)
    return cdf


def write_world(world: World, directory: str | Path) -> None:
    directory = Path(directory)
    write_jsonl(directory / SONGS_FILE, world.songs)
    write_jsonl(directory / PLAYLISTS_FILE, world.playlists)
    for name, (song_ids, vectors) in world.features.items():
        save_npz(directory / FEATURES_DIR / f"{name}.npz", song_ids=song_ids.astype(str), vectors=vectors)


def write_mpd_slices(songs: list[dict], playlists: Iterable[dict], directory: str | Path,
                     per_slice: int = 1000) -> list[Path]:
    """Playlists as Spotify MPD slices (mpd.slice.<first>-<last>.json, `per_slice` playlists each), written as
    the playlists come (one slice in memory at a time): MPD-format data to exercise the MPD path at scale where no
    real slices are at hand. Only the layout is MPD's; titles, co-occurrence and song names are the world's."""
    import json

    from playlistgen.common.io import write_text

    directory = Path(directory)
    by_id = {s["song_id"]: s for s in songs}
    paths: list[Path] = []

    def flush(chunk: list[dict], first: int) -> None:
        last = first + len(chunk) - 1
        path = directory / f"mpd.slice.{first}-{last}.json"
        write_text(path, json.dumps({"info": {"generated_by": "playlistgen.data.synth", "slice": f"{first}-{last}",
                                              "version": "synthetic"}, "playlists": chunk}, ensure_ascii=False))
        paths.append(path)

    chunk: list[dict] = []
    for pid, p in enumerate(playlists):
        tracks = [{"pos": pos, "track_uri": f"spotify:track:{s}", "track_name": by_id[s]["title"],
                   "artist_name": by_id[s]["artist"], "artist_uri": f"spotify:artist:{by_id[s]['artist']}",
                   "album_name": by_id[s]["album"], "album_uri": f"spotify:album:{by_id[s]['album']}",
                   "duration_ms": 180_000} for pos, s in enumerate(p["song_ids"])]
        chunk.append({"name": p["title"], "collaborative": "false", "pid": pid, "num_tracks": len(tracks),
                      "num_albums": len({t["album_uri"] for t in tracks}), "num_followers": 1, "tracks": tracks})
        if len(chunk) == per_slice:
            flush(chunk, pid + 1 - per_slice)
            chunk = []
    if chunk:
        flush(chunk, len(paths) * per_slice)
    return paths


def main(argv: list[str] | None = None) -> int:
    """python -m playlistgen.data.synth --mpd-out DIR [--playlists N --songs M --length MIN,MAX --seed S]"""
    import argparse
    import logging

    parser = argparse.ArgumentParser(description="Write the synthetic world as MPD-format slices.")
    parser.add_argument("--mpd-out", required=True, help="folder for mpd.slice.*.json")
    parser.add_argument("--playlists", type=int, default=10_000)
    parser.add_argument("--songs", type=int, default=50_000)
    parser.add_argument("--length", default="10,120", help="songs per playlist, MIN,MAX (MPD's mean is about 66)")
    parser.add_argument("--seed", type=int, default=None, help="default: base.seed of --params")
    parser.add_argument("--params", default="params.yaml", help="the data block's world settings come from here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from playlistgen.common.params import load

    params = load(args.params)
    data, v1 = params["data"], params["data"]["v1"]
    lo, hi = (int(x) for x in args.length.split(","))
    seed = params["base"]["seed"] if args.seed is None else args.seed
    songs, _, playlists = stream_world(**world_args(data, seed, args.songs, args.playlists), feature_dims={},
                                       feature_noise={}, missing_share={}, playlist_length=(lo, hi),
                                       zh_share=v1["zh_share"], title_noise=v1["title_noise"])
    paths = write_mpd_slices(songs, playlists, args.mpd_out)
    logging.info("wrote %d playlists of %d songs in %d slices to %s", args.playlists, len(songs), len(paths),
                 args.mpd_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
