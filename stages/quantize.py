"""quantize stage: song feature sets -> semantic IDs, cluster index, codebooks and the collision report."""
from pathlib import Path

from playlistgen.data.catalog import FEATURES_DIR, load_songs
from playlistgen.ids.collisions import collision_report, prefix_report, size_histogram
from playlistgen.data.features import read_song_vectors
from playlistgen.common.io import write_json, write_jsonl
from playlistgen.ids.clusters import songs_in_cluster
from playlistgen.ids.quantize import fit_quantizer

from ._common import run


def main(params: dict) -> None:
    p = params["quantize"]
    raw = Path(params["base"]["raw_dir"])
    catalog = load_songs(raw / "songs.jsonl")
    songs = read_song_vectors(raw / FEATURES_DIR, catalog, p["features"], p["normalize_each"])
    books, codes = fit_quantizer(songs.vectors, p, params["base"]["seed"])
    x = books.prepare(songs.vectors).numpy()
    mse = float(((x - books.decode(codes)) ** 2).sum(1).mean())

    out = Path(params["base"]["work_dir"]) / "quantize"
    books.save(out / "codebooks.safetensors")
    write_jsonl(out / "song_semantic_ids.jsonl",
                ({"song_id": s, "semantic_id": c} for s, c in zip(songs.song_ids, codes.tolist())))
    write_json(out / "clusters.json", {
        "cluster_levels": p["cluster_levels"],
        "codebook_size": p["codebook_size"],
        "songs_without_features": songs.songs_without_features,
        "clusters": songs_in_cluster(songs.song_ids, codes, p["cluster_levels"],
                                     {s: song.popularity for s, song in catalog.items()}),
    }, indent=None)
    report = collision_report(codes, p["cluster_levels"], p["codebook_size"], mse, p["large_cluster_size"])
    report["songs_without_features"] = len(songs.songs_without_features)
    report["prefixes"] = prefix_report(codes)  # the real-data check adds each level's genre NMI on labelled songs
    write_json("metrics/quantize.json", report)
    write_json("metrics/cluster_sizes.json", size_histogram(codes, p["cluster_levels"]))


if __name__ == "__main__":
    run(main)
