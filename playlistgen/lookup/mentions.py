"""Artists a title names: "this is scorpions", "best of lami sorako", "Muse Radio" ask for that artist's songs.

No model trained on a few thousand titles can know the catalog's artist names (most never occur in a training
title), but the catalog does. A title names an artist when the artist's normalised name occurs in it as whole
words, each word exact or with one letter dropped (the commonest typo: "lmi sorako"). Names that are everyday
words are the risk ("Future", "Intro", "Japan" are artists too): a one-word name counts only if it is long enough
and has several songs in the catalog, and any name only if the training titles that contain it, if any, mostly hold
that artist's songs ("Future House" playlists hold none of Future's). Used by the evaluate stage, the real-data
check and the bundle (evaluate.artist_mentions)."""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

MIN_SINGLE_WORD = 4  # a one-word name shorter than this ("Fun", "Day") is never matched ...
MIN_SINGLE_SONGS = 5  # ... nor one with fewer catalog songs: "Intro", "Rewind", "Coast" are artists of 1-4 songs
                      # (real playlists, validation: such words named the artist in none of the titles using them)
MIN_TYPO_WORD = 4    # a title word may drop one letter of a name's word at least this long ...
MIN_TYPO_SINGLE = 6  # ... or, in a one-word name (no second word to confirm it), at least this long
MIN_UNSPACED = 2     # a name in a script written without spaces (Chinese, Japanese kana) is found inside a title's
                     # words ("周杰伦精选" names 周杰伦) from this many characters on


def words(text: str) -> tuple[str, ...]:
    """Case-folded words without accents ("Guns N' Roses" -> ("guns", "n", "roses"); "Monáe" -> "monae")."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return tuple(re.findall(r"\w+", "".join(c for c in text if not unicodedata.combining(c))))


def unspaced(word: str) -> bool:
    """Written in a script without spaces between words: CJK ideographs, hiragana, katakana."""
    return bool(word) and all("\u4e00" <= c <= "\u9fff" or "\u3040" <= c <= "\u30ff" for c in word)


def _dropped(word: str, name_words: int = 2) -> set[str]:
    """The word with one interior letter dropped, for words long enough to stay distinctive (longer in a name of
    `name_words` = 1 word)."""
    if len(word) < (MIN_TYPO_WORD if name_words > 1 else MIN_TYPO_SINGLE):
        return set()
    return {word[:i] + word[i + 1:] for i in range(1, len(word) - 1)}


class ArtistMentions:
    """Which catalog artists a title names, and their songs."""

    def __init__(self, artist_of_song: dict[str, str], excluded: set[tuple[str, ...]] = frozenset()):
        songs_of: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for song, artist in artist_of_song.items():
            name = words(artist or "")
            if name and (len(name) > 1 or len(name[0]) >= (MIN_UNSPACED if unspaced(name[0]) else MIN_SINGLE_WORD)):
                songs_of[name].append(song)
        self.songs_of = {name: songs for name, songs in songs_of.items()
                         if len(name) > 1 or len(songs) >= MIN_SINGLE_SONGS}
        self.excluded = set(excluded)
        self.inside = {name[0]: name for name in self.songs_of if len(name) == 1 and unspaced(name[0])}
        self.longest_inside = max((len(n) for n in self.inside), default=0)
        # (first word as written in a title) -> names starting with it; a typo variant of the first word too
        self.by_first: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for name in self.songs_of:
            for first in {name[0]} | _dropped(name[0], len(name)):
                self.by_first[first].add(name)

    @classmethod
    def from_training(cls, artist_of_song: dict[str, str], train, min_share: float = 0.5) -> "ArtistMentions":
        """Excludes the names that training titles use for something else: of the training playlists whose title
        names the artist, fewer than `min_share` hold one of its songs. `train`: examples (title, song_ids)."""
        mentions = cls(artist_of_song)
        named: dict[tuple[str, ...], list[bool]] = defaultdict(list)
        for example in train:
            held = set(example.song_ids)
            for name in mentions.named(example.title, exclude=False):
                named[name].append(any(s in held for s in mentions.songs_of[name]))
        mentions.excluded = {name for name, holds in named.items() if sum(holds) < min_share * len(holds)}
        return mentions

    @classmethod
    def from_catalog(cls, songs: dict, train) -> "ArtistMentions":
        """from_training with the artists of catalog songs (song id -> catalog.Song)."""
        return cls.from_training({s: v.artist for s, v in songs.items()}, train)

    def _matches(self, title_words: tuple[str, ...], start: int, name: tuple[str, ...]) -> bool:
        window = title_words[start:start + len(name)]
        return len(window) == len(name) and all(w == n or w in _dropped(n, len(name))
                                                  for w, n in zip(window, name))

    def named(self, title: str, exclude: bool = True) -> list[tuple[str, ...]]:
        """The artists (normalised names) the title names, in title order; where names overlap the longest wins
        ("the band camino", not "the band")."""
        title_words = words(title)
        found, i = [], 0
        while i < len(title_words):
            candidates = [n for n in self.by_first.get(title_words[i], ()) if self._matches(title_words, i, n)]
            if not candidates and self.inside and unspaced(title_words[i][:1]):
                found += [n for n in self._inside(title_words[i]) if not (exclude and n in self.excluded)]
            if candidates:
                best = max(candidates, key=lambda n: (len(n), sum(map(len, n))))
                if not (exclude and best in self.excluded):
                    found.append(best)
                i += len(best)
            else:
                i += 1
        return list(dict.fromkeys(found))

    def _inside(self, word: str) -> list[tuple[str, ...]]:
        """The unspaced-script names inside one title word, left to right, the longest at each place."""
        found, i = [], 0
        while i < len(word):
            for size in range(min(self.longest_inside, len(word) - i), MIN_UNSPACED - 1, -1):
                if word[i:i + size] in self.inside:
                    found.append(self.inside[word[i:i + size]])
                    i += size
                    break
            else:
                i += 1
        return found

    def songs(self, title: str, weights: dict[str, float] | None = None) -> list[str]:
        """The songs of every artist the title names, none when it names none; by `weights` (highest first, e.g.
        clusters.ranking_weights), else in catalog order."""
        found = list(dict.fromkeys(s for name in self.named(title) for s in self.songs_of[name]))
        return sorted(found, key=lambda s: -weights.get(s, 0.0)) if weights is not None else found
