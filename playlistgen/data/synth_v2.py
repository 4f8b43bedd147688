"""Synthetic world v2: the default data, built so that no shortcut solves it.

The hidden concepts are v1's (genre x mood x era, synth.py); what changes is everything a method can see:

- Titles come from a large vocabulary: several synonyms and occasions per facet, in English, Chinese and Spanish,
  emoji-only titles (moods), artist titles ("best of <artist>"), misspellings, casing and filler words. Each facet
  also has held-out wordings ("pianoforte", "haunted", "1995") that no training title uses: a share of validation
  and test titles is written with them alone, the unseen-wording slice the evaluate stage reports (a title whose
  words all miss from the training titles). Only a method that knows what words mean can answer those.
- Song tags are coarse and partial: a genre family ("urban" for hip hop and r&b) for most songs, sometimes wrong,
  and a mood for a quarter of them, sometimes wrong. Never the generating concept.
- Feature sets only partly agree with what people put together: `audio` hears genre (and era), `lyrics` hears
  mood, `context` is mostly noise. Clusters are useful, not perfect.
- A playlist draws most songs from the facets its title names (the others are free: a "workout" playlist mixes
  genres), often mixes in a neighbouring concept, takes a share from the global popular head, and has a length
  from a long-tailed range.

The split of a playlist (corpus.split_of) is a function of its id, so the world knows which playlists are for
training and keeps the held-out wordings out of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from playlistgen.data.corpus import split_of
from playlistgen.data.synth import ERAS, GENRES, MOODS, World, _misspell, _name, draw_songs, facet_pool, neighbour

# genre -> (English wordings, held-out English wordings, other languages)
GENRE_WORDS = {
    "piano": (["piano", "solo piano", "keys", "piano ballads"], ["pianoforte"], ["钢琴", "piano tranquilo"]),
    "jazz": (["jazz", "bebop", "swing", "jazz standards"], ["saxophone"], ["爵士", "jazz suave"]),
    "rock": (["rock", "rock anthems", "guitar rock", "classic rock"], ["grunge"], ["摇滚", "rock en español"]),
    "hip hop": (["hip hop", "rap", "hiphop", "bars"], ["rapper"], ["嘻哈", "说唱", "rap en español"]),
    "edm": (["edm", "electronic", "dance", "house music"], ["techno"], ["电子", "electrónica"]),
    "folk": (["folk", "acoustic", "singer songwriter", "indie folk"], ["banjo"], ["民谣", "folk acústico"]),
    "classical": (["classical", "orchestra", "symphony", "baroque"], ["philharmonic"], ["古典", "música clásica"]),
    "r&b": (["r&b", "rnb", "soul", "neo soul"], ["motown"], ["节奏布鲁斯", "soul latino"]),
    "metal": (["metal", "heavy metal", "metalcore", "headbang"], ["thrash"], ["金属", "metal pesado"]),
    "mandopop": (["mandopop", "c-pop", "chinese pop", "华语"], ["cantopop"], ["华语流行", "pop chino"]),
    "lofi": (["lofi", "lo-fi", "lofi beats", "chillhop"], ["vaporwave"], ["低保真", "lofi para estudiar"]),
    "country": (["country", "country roads", "americana", "honky tonk"], ["nashville"], ["乡村", "country latino"]),
}
# mood -> (English wordings, held-out, occasions, held-out occasions, other languages, emoji)
MOOD_WORDS = {
    "chill": (["chill", "relaxing", "calm", "mellow", "laid back"], ["unwind"],
              ["study", "late night", "rainy sunday", "coffee shop", "sunday morning"], ["reading"],
              ["放松", "学习", "深夜", "下雨天", "relajante", "para estudiar"], ["☕", "🌧", "🛋"]),
    "happy": (["happy", "feel good", "good vibes", "upbeat", "sunny"], ["cheerful"],
              ["summer", "road trip", "beach day", "bbq"], ["picnic"],
              ["快乐", "夏日", "自驾", "feliz", "verano"], ["☀️", "😎", "🏖"]),
    "sad": (["sad", "heartbreak", "melancholy", "crying"], ["sorrow"],
            ["breakup", "lonely night", "rainy day"], ["goodbye"],
            ["伤感", "失恋", "孤独夜晚", "triste", "desamor"], ["💔", "😢"]),
    "energetic": (["energetic", "hype", "pump up", "power"], ["adrenaline"],
                  ["workout", "running", "gym", "cardio"], ["marathon"],
                  ["燃", "健身", "跑步", "energía", "gimnasio"], ["🔥", "💪", "⚡"]),
    "romantic": (["romantic", "love songs", "in love", "sweet"], ["valentine"],
                 ["date night", "wedding", "anniversary"], ["honeymoon"],
                 ["浪漫", "约会", "婚礼", "romántica", "amor"], ["❤️", "💕", "🌹"]),
    "dark": (["dark", "spooky", "creepy", "gothic"], ["haunted"],
             ["halloween", "midnight drive", "horror night"], ["graveyard"],
             ["暗黑", "万圣节", "午夜驾驶", "oscuro", "noche de brujas"], ["🎃", "👻", "🖤"]),
    "dreamy": (["dreamy", "ethereal", "floating", "hazy"], ["celestial"],
               ["sleep", "stargazing", "bedtime"], ["lullaby"],
               ["梦幻", "睡前", "看星星", "soñador", "dormir"], ["🌙", "✨", "💤"]),
    "focus": (["focus", "concentration", "productive", "flow state"], ["mindful"],
              ["coding", "deep work", "office"], ["homework"],
              ["专注", "写代码", "工作", "concentración", "trabajo"], ["🧠", "💻"]),
}
# era -> (English wordings, held-out, other languages)
ERA_WORDS = {
    "80s": (["80s", "eighties", "1980s", "retro 80s"], ["1986"], ["80年代", "años 80"]),
    "90s": (["90s", "nineties", "1990s", "throwback 90s"], ["1995"], ["90年代", "años 90"]),
    "2000s": (["2000s", "00s", "y2k", "noughties"], ["2004"], ["千禧", "años 2000"]),
    "new": (["new", "fresh", "2024", "latest"], ["newest"], ["新歌", "nuevo"]),
}
# coarse, lossy tag families: what a catalog's genre field often says
GENRE_FAMILY = {"piano": "instrumental", "classical": "instrumental", "jazz": "jazz", "rock": "rock", "metal": "rock",
                "hip hop": "urban", "r&b": "urban", "edm": "electronic", "lofi": "electronic", "folk": "acoustic",
                "country": "acoustic", "mandopop": "pop"}
FAMILIES = sorted(set(GENRE_FAMILY.values()))

EN_TEMPLATES = [
    "{mood} {genre}", "{activity} {genre}", "{genre} for {activity}", "{era} {genre}", "{mood} {era} {genre}",
    "{activity}", "{mood} vibes", "my {mood} {genre} mix", "{genre} {activity} playlist", "{era} {mood} songs",
    "{activity} {mood}", "{genre} hits", "songs for {activity}", "{genre} to {activity} to", "{activity} mix",
    "{era} {genre} for {activity}", "{mood} {genre} playlist", "{era} throwbacks", "{genre} {emoji}",
    "{activity} {emoji}",
]
ZH_TEMPLATES = ["{activity}{genre}", "{mood}{genre}", "{era}{genre}", "{activity}", "{mood}的{genre}", "{activity}听的歌",
                "{era}{mood}{genre}"]
ES_TEMPLATES = ["{genre} {mood}", "{mood}", "{genre} {era}", "{activity} {genre}", "música {mood}", "{activity}",
                "lo mejor del {genre}"]
HELD_OUT_TEMPLATES = ["{mood} {genre}", "{activity} {genre}", "{era} {genre}", "{activity}", "{mood} {era} {genre}"]
ARTIST_TEMPLATES = ["best of {artist}", "{artist} radio", "this is {artist}", "{artist} and similar",
                    "{artist} essentials"]
FILLERS = ["mix", "playlist", "vibes", "songs", "music", "best", "2024", "2023", "lol", "!!", "!!!", "<3", "vol 2",
           "pt. 2", "(clean)", "🎶", "~", "collection", "faves", "only", "forever"]


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _facets(template: str) -> tuple[bool, bool, bool]:
    return ("{genre}" in template, "{mood}" in template or "{activity}" in template or "{emoji}" in template,
            "{era}" in template)


def _words(rng, genre: str, mood: str, era: str, lang: str, held_out: bool) -> dict[str, str]:
    g_en, g_held, g_other = GENRE_WORDS[genre]
    m_en, m_held, a_en, a_held, m_other, emoji = MOOD_WORDS[mood]
    e_en, e_held, e_other = ERA_WORDS[era]
    if held_out:
        return dict(genre=_pick(rng, g_held), mood=_pick(rng, m_held), activity=_pick(rng, a_held),
                    era=_pick(rng, e_held), emoji=_pick(rng, emoji))
    if lang == "en":
        return dict(genre=_pick(rng, g_en), mood=_pick(rng, m_en), activity=_pick(rng, a_en), era=_pick(rng, e_en),
                    emoji=_pick(rng, emoji))
    index = 0 if lang == "zh" else 1  # other-language lists: Chinese first, then Spanish
    g = g_other[min(index, len(g_other) - 1)] if lang == "zh" else g_other[-1]
    zh_moods = [w for w in m_other if not w.isascii() and not any(c in "áéíóúñ" for c in w)]
    es_moods = [w for w in m_other if w not in zh_moods]
    return dict(genre=g, mood=_pick(rng, zh_moods if lang == "zh" else es_moods),
                activity=_pick(rng, zh_moods if lang == "zh" else es_moods), era=e_other[index], emoji=_pick(rng, emoji))


def _noisy(rng, title: str, noise: float) -> str:
    if rng.random() >= noise:
        return title
    tokens = title.split()
    if len(tokens) > 1 and rng.random() < 0.5:
        j = int(rng.integers(len(tokens)))
        tokens[j] = _misspell(rng, tokens[j])
    for _ in range(int(rng.integers(0, 3))):
        tokens.append(_pick(rng, FILLERS))
    if rng.random() < 0.2:
        tokens.insert(0, _pick(rng, ["✨", "🎧", "~", "*"]))
    title = " ".join(tokens)
    casing = rng.random()
    return title.title() if casing < 0.25 else title.upper() if casing < 0.35 else title


@dataclass
class _Catalog:
    """World v2's songs as arrays: concept facets, artist, popularity; `pool` finds songs by facets."""
    genre: np.ndarray
    mood: np.ndarray
    era: np.ndarray
    artist: np.ndarray
    popularity: np.ndarray
    artist_names: list[list[str]]
    song_ids: list[str]
    pools: dict = field(default_factory=dict)

    def pool(self, key: tuple) -> np.ndarray:
        """Songs matching the facets in key (g, m, e, artist); -1 = any."""
        return facet_pool(self.pools, (self.genre, self.mood, self.era, self.artist), key)


def generate_world_v2(
    seed: int, num_songs: int, num_playlists: int, latent_dim: int, feature_dims: dict[str, int],
    feature_noise: dict[str, float], feature_facets: dict[str, list[float]], missing_share: dict[str, float],
    song_noise: float, popularity_zipf: float, concept_zipf: float, playlist_length: tuple[int, int],
    primary_share: float, secondary_share: float, secondary_prob: float, title_noise: float,
    language_share: dict[str, float], artist_share: float, emoji_share: float, held_out_share: float,
    split_seed: int, val_share: float, test_share: float,
) -> World:
    """Songs, playlists and feature sets of world v2; the same arguments always give the same world.
    `split_seed`, `val_share`, `test_share` must be the corpus stage's (held-out wordings stay out of training)."""
    rng = np.random.default_rng(seed)
    n_g, n_m, n_e = len(GENRES), len(MOODS), len(ERAS)
    facet_vecs = (rng.normal(size=(n_g, latent_dim)), rng.normal(size=(n_m, latent_dim)),
                  rng.normal(size=(n_e, latent_dim)) * 0.7)
    num_concepts = n_g * n_m * n_e
    song_concept = rng.choice(num_concepts, size=num_songs, p=rng.dirichlet(np.full(num_concepts, 2.0)))
    own = rng.normal(scale=song_noise, size=(num_songs, latent_dim))  # a song's own deviation from its concept
    cat, songs = _songs_v2(rng, song_concept, num_songs, popularity_zipf)
    features = {}
    for name, dim in sorted(feature_dims.items()):
        w_g, w_m, w_e = feature_facets[name]
        mixed = w_g * facet_vecs[0][cat.genre] + w_m * facet_vecs[1][cat.mood] + w_e * facet_vecs[2][cat.era] + own
        vectors = mixed @ (rng.normal(size=(latent_dim, dim)) / np.sqrt(latent_dim))
        vectors += rng.normal(scale=feature_noise[name], size=(num_songs, dim))
        present = rng.random(num_songs) >= missing_share[name]
        features[name] = (np.array(cat.song_ids)[present], vectors[present].astype(np.float32))

    concept_pop = 1.0 / (rng.permutation(num_concepts) + 1) ** concept_zipf
    concept_pop /= concept_pop.sum()
    global_p = cat.popularity / cat.popularity.sum()
    languages = ["en"] + sorted(language_share)
    language_p = [1 - sum(language_share.values())] + [language_share[k] for k in sorted(language_share)]
    shares = (held_out_share, artist_share, emoji_share)
    lo, hi = playlist_length
    playlists, cdfs = [], {}  # cdfs: draw_songs' cumulative weights per pool
    for p in range(num_playlists):
        playlist_id = f"p{p:06d}"
        evaluation = split_of(playlist_id, split_seed, val_share, test_share) != "train"
        c1 = int(rng.choice(num_concepts, p=concept_pop))
        g, m, e = c1 // (n_m * n_e), (c1 // n_e) % n_m, c1 % n_e
        title, template, artist = _title_v2(rng, cat, (g, m, e), evaluation, shares, languages, language_p, title_noise)
        named = (True, False, False) if artist >= 0 else _facets(template)
        primary = cat.pool((g if named[0] else -1, m if named[1] else -1, e if named[2] else -1, artist))
        if artist >= 0:  # an artist playlist: the artist's songs, then their genre
            primary = np.union1d(primary, cat.pool((g, -1, -1, -1))) if len(primary) < 10 else primary
        secondary = None
        if rng.random() < secondary_prob:  # a neighbouring concept: one facet changed
            g2, m2, e2 = neighbour(rng, (g, m, e), (n_g, n_m, n_e))
            secondary = cat.pool((g2 if named[0] or artist >= 0 else -1, m2 if named[1] else -1,
                                  e2 if named[2] else -1, -1))
        primary = primary if len(primary) else np.arange(num_songs)
        secondary = secondary if secondary is not None and len(secondary) else None
        length = int(round(np.exp(rng.uniform(np.log(lo), np.log(hi)))))  # long-tailed: many short, some long
        chosen = draw_songs(rng, length, primary, secondary, cat.popularity, global_p, primary_share, secondary_share,
                            cdfs)
        playlists.append({"playlist_id": playlist_id, "title": title, "song_ids": [cat.song_ids[s] for s in chosen]})
    return World(songs, playlists, features)


def _songs_v2(rng, song_concept: np.ndarray, num_songs: int, popularity_zipf: float) -> tuple[_Catalog, list[dict]]:
    """Each song's facets, artist (per genre), Zipf popularity and coarse, partly wrong tags."""
    genres, moods = [g for g, _ in GENRES], [m for m, _, _ in MOODS]
    n_m, n_e = len(MOODS), len(ERAS)
    song_g, song_m, song_e = song_concept // (n_m * n_e), (song_concept // n_e) % n_m, song_concept % n_e
    popularity = 1.0 / (rng.permutation(num_songs) + 1) ** popularity_zipf
    popularity /= popularity.max()
    artists_per_genre = max(2, num_songs // (len(GENRES) * 25))
    artist_names = [[_name(rng, 2) for _ in range(artists_per_genre)] for _ in range(len(GENRES))]
    song_artist = rng.integers(artists_per_genre, size=num_songs)
    song_ids = [f"s{i:06d}" for i in range(num_songs)]
    songs = []
    for i in range(num_songs):
        g, m = genres[song_g[i]], moods[song_m[i]]
        tags = []
        if rng.random() < 0.7:  # a genre family for most songs, one in ten wrong
            tags.append(GENRE_FAMILY[g] if rng.random() >= 0.1 else _pick(rng, FAMILIES))
        if rng.random() < 0.25:  # a mood for some, three in ten wrong
            tags.append(m if rng.random() >= 0.3 else _pick(rng, moods))
        songs.append({"song_id": song_ids[i], "title": _name(rng, int(rng.integers(1, 4))),
                      "artist": artist_names[song_g[i]][song_artist[i]], "album": _name(rng, 2), "tags": tags,
                      "popularity": round(float(popularity[i]) * 100, 3)})
    return _Catalog(song_g, song_m, song_e, song_artist, popularity, artist_names, song_ids), songs


def _title_v2(rng, cat: _Catalog, concept: tuple[int, int, int], evaluation: bool, shares: tuple[float, float, float],
              languages: list[str], language_p: list[float], title_noise: float) -> tuple[str, str, int]:
    """A playlist's title, the template it came from and the artist it names (-1: none): held-out wordings (only
    for validation and test playlists), an artist, emoji, or a template in one of the languages."""
    genres, moods, eras = [g for g, _ in GENRES], [m for m, _, _ in MOODS], [e for e, _ in ERAS]
    g, m, e = concept
    held_out_share, artist_share, emoji_share = shares
    u = rng.random()
    if evaluation and u < held_out_share:
        template = _pick(rng, HELD_OUT_TEMPLATES)
        return template.format(**_words(rng, genres[g], moods[m], eras[e], "en", held_out=True)), template, -1
    if u < held_out_share + artist_share:
        artist = int(rng.integers(len(cat.artist_names[g])))
        template = _pick(rng, ARTIST_TEMPLATES)
        return _noisy(rng, template.format(artist=cat.artist_names[g][artist]), title_noise), template, artist
    if u < held_out_share + artist_share + emoji_share:
        emoji = MOOD_WORDS[moods[m]][5]
        return "".join(_pick(rng, emoji) for _ in range(int(rng.integers(1, 4)))), "{emoji}", -1
    lang = languages[int(rng.choice(len(languages), p=language_p))]
    template = _pick(rng, {"en": EN_TEMPLATES, "zh": ZH_TEMPLATES, "es": ES_TEMPLATES}[lang])
    title = _noisy(rng, template.format(**_words(rng, genres[g], moods[m], eras[e], lang, False)), title_noise)
    return title, template, -1
