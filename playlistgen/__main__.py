"""`python -m playlistgen ...` is the `playlistgen` command (serve, semantic-ids, add-songs, challenge, ...)."""
import sys

from playlistgen.serving.cli import admin_main

sys.exit(admin_main())
