"""`python -m playlistgen ...` is the `playlistgen` command (serve, semantic-ids, add-songs, challenge, ...)."""
import sys

from .cli import admin_main

sys.exit(admin_main())
