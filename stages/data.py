"""data stage: write the catalog (songs, playlists, feature sets) to base.raw_dir: the embedded synthetic world, an
import of Spotify MPD slices, or of plain tables; catalogs without vectors get them embedded (importers.py)."""
from playlistgen.data.importers import import_files_catalog, import_mpd_catalog
from playlistgen.common.io import DataError
from playlistgen.data.synth import generate_world, world_args, write_world
from playlistgen.data.synth_v2 import generate_world_v2

from ._common import run


def main(params: dict) -> None:
    p = params["data"]
    base, c, e = params["base"], params["corpus"], p["embed"]
    split = dict(seed=base["seed"], val_share=c["val_share"], test_share=c["test_share"])
    if p["source"] == "mpd":
        import_mpd_catalog(p["mpd"]["paths"], base["raw_dir"], p["mpd"]["min_track_frequency"], e["collab_dim"],
                           e["collab_method"],
                           text_features=e["text_features"], context_features=e["context_features"], **split)
        return
    if p["source"] == "files":
        f = p["files"]
        import_files_catalog(f["songs"], f["playlists"], f["vectors"] or {}, base["raw_dir"], e["collab_dim"],
                             e["collab_method"],
                             text_features=e["text_features"], context_features=e["context_features"],
                             standardize=f["standardize"],
                             embed=e["with_tables"], **split)
        return
    if p["source"] != "synthetic":
        raise DataError(f"data.source must be synthetic, mpd or files, not {p['source']!r}.")
    size = p["sizes"][p["size"]]
    shared = world_args(p, base["seed"], size["num_songs"], size["num_playlists"])
    if p["world"] == "v2":
        world = generate_world_v2(**shared, **p["v2"], split_seed=base["seed"], val_share=c["val_share"],
                                  test_share=c["test_share"])
    elif p["world"] == "v1":
        v1 = p["v1"]
        world = generate_world(**shared, feature_dims=v1["feature_dims"], feature_noise=v1["feature_noise"],
                               missing_share=v1["missing_share"], playlist_length=tuple(v1["playlist_length"]),
                               zh_share=v1["zh_share"], title_noise=v1["title_noise"])
    else:
        raise DataError(f"data.world must be v1 or v2, not {p['world']!r}.")
    write_world(world, base["raw_dir"])


if __name__ == "__main__":
    run(main)
