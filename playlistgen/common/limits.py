"""What one request may ask for, in one place: `generate-playlist`, the HTTP API, the web page and params
validation read these, so the command line and the server agree.

A title over MAX_TITLE_CHARS is refused by the API (422) and cut, with a warning, by the command line and the
library; the model reads the first `train.max_source_tokens` tokens of a title in any case.
"""
MAX_TITLE_CHARS = 500    # characters of a title
MAX_SONGS = 500          # songs in one playlist (-n, "n"; evaluate.playlist_length)
MAX_BEAMS = 16           # beam width of one request
MAX_TEMPERATURE = 100.0  # sampling temperature (above 0)
MAX_BATCH_TITLES = 256   # titles in one /api/batch request
