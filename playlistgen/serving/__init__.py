"""What users run: the generate-playlist / playlistgen CLI, the HTTP API and its web page, output formats."""
