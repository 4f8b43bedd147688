"""Data in: catalogs (songs, feature sets, playlists), importers (MPD, TAAC), synthetic worlds, sentence and context feature sets, splits."""
