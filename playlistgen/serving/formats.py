"""A generated playlist as text: JSON, JSON lines, M3U, CSV or an aligned table (generate-playlist, the server)."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from playlistgen.common.entry import printable

FORMATS = ("table", "json", "jsonl", "m3u", "csv")


def render(tracks, fmt: str, title: str) -> str:
    """The playlist as json, m3u, csv or a table. Every text field of the line-based formats goes through
    `printable`: a title or a catalog field holding newlines or escape sequences cannot add M3U entries, CSV rows
    or terminal commands (JSON escapes them itself)."""
    if fmt in ("json", "jsonl"):
        return json.dumps({"title": title, "tracks": [t.to_json() for t in tracks]}, ensure_ascii=False,
                          indent=None if fmt == "jsonl" else 2)
    title = printable(title)
    if fmt == "m3u":
        lines = ["#EXTM3U", f"#PLAYLIST:{title}"]
        for t in tracks:
            lines += [f"#EXTINF:-1,{printable(t.artist)} - {printable(t.title)}", printable(t.song_id)]
        return "\n".join(lines)
    tracks = [replace(t, song_id=printable(t.song_id), title=printable(t.title), artist=printable(t.artist),
                      tags=[printable(x) for x in t.tags or []]) for t in tracks]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["position", "song_id", "title", "artist", "cluster", "tags"])
        writer.writerows([t.position, t.song_id, t.title, t.artist, t.cluster, ";".join(t.tags or [])] for t in tracks)
        return buf.getvalue().rstrip("\n")
    width_t = max([len(t.title) for t in tracks] + [5])
    width_a = max([len(t.artist) for t in tracks] + [6])
    width_c = max([len(t.cluster) for t in tracks] + [7])
    lines = [f"{'#':>3}  {'title':<{width_t}}  {'artist':<{width_a}}  {'cluster':<{width_c}}  tags"]
    lines += [f"{t.position:>3}  {t.title:<{width_t}}  {t.artist:<{width_a}}  {t.cluster:<{width_c}}  "
              f"{', '.join(t.tags or [])}".rstrip() for t in tracks]
    return "\n".join(lines)
