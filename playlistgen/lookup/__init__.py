"""Title lookups over the training playlists: the baselines (title kNN, TF-IDF, MiniLM, popularity), retrieval for the encoder, artist mentions."""
