"""data stage: write the embedded synthetic catalog (songs, playlists, feature sets) to base.raw_dir."""
from playlistgen.synth import generate_world, write_world

from ._common import run


def main(params: dict) -> None:
    p = params["data"]
    size = p["sizes"][p["size"]]
    world = generate_world(
        seed=params["base"]["seed"],
        num_songs=size["num_songs"],
        num_playlists=size["num_playlists"],
        latent_dim=p["latent_dim"],
        feature_dims=p["feature_dims"],
        feature_noise=p["feature_noise"],
        missing_share=p["missing_share"],
        song_noise=p["song_noise"],
        popularity_zipf=p["popularity_zipf"],
        concept_zipf=p["concept_zipf"],
        playlist_length=tuple(p["playlist_length"]),
        primary_share=p["primary_share"],
        secondary_share=p["secondary_share"],
        secondary_prob=p["secondary_prob"],
        zh_share=p["zh_share"],
        title_noise=p["title_noise"],
    )
    write_world(world, params["base"]["raw_dir"])


if __name__ == "__main__":
    run(main)
