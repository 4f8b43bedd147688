"""quantize stage: song feature sets -> semantic IDs, cluster index, codebooks and the collision report."""
from pathlib import Path

from playlistgen.catalog import load_catalog
from playlistgen.collisions import collision_report, size_histogram
from playlistgen.features import combine_feature_sets
from playlistgen.io import DataError, write_json, write_jsonl
from playlistgen.quantize import songs_in_cluster, train_rq_kmeans
from playlistgen.rqvae import RQVAEConfig, train_rq_vae

from ._common import run


def main(params: dict) -> None:
    p = params["quantize"]
    catalog = load_catalog(params["base"]["raw_dir"], feature_names=p["features"], with_playlists=False)
    songs = combine_feature_sets(list(catalog.features.values()), list(catalog.songs), p["normalize_each"])
    seed = params["base"]["seed"]
    if p["method"] == "rq_kmeans":
        books, codes = train_rq_kmeans(
            songs.vectors, p["num_levels"], p["codebook_size"], p["kmeans_iters"], seed, p["normalize"],
            p["max_points_per_centroid"], p["init_points_per_centroid"], p["max_songs_per_code"],
            tol=p["kmeans_tol"], refine_rounds=p["refine_rounds"], progressive_steps=p["progressive_steps"],
            progressive_min_dim=p["progressive_min_dim"],
        )
    elif p["method"] == "rq_vae":
        cfg = RQVAEConfig(input_dim=songs.vectors.shape[1], num_levels=p["num_levels"],
                          codebook_size=p["codebook_size"], normalize=p["normalize"], **p["rq_vae"])
        books, codes, _ = train_rq_vae(songs.vectors, cfg, seed)
    else:
        raise DataError(f"quantize.method '{p['method']}' is unknown; use rq_kmeans or rq_vae.")
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
                                     {s: song.popularity for s, song in catalog.songs.items()}),
    }, indent=None)
    report = collision_report(codes, p["cluster_levels"], p["codebook_size"], mse, p["large_cluster_size"])
    report["songs_without_features"] = len(songs.songs_without_features)
    write_json("metrics/quantize.json", report)
    write_json("metrics/cluster_sizes.json", size_histogram(codes, p["cluster_levels"]))


if __name__ == "__main__":
    run(main)
