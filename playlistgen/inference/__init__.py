"""Titles -> ranked songs -> playlists: the ranking policy, constrained decoding, the recommender, the exported bundle, on-demand IDs."""
