"""plots stage: the pipeline's plots as PNG files under metrics/plots/ (playlistgen.evaluation.plots), viewable
without a browser or a CDN."""
from playlistgen.evaluation.plots import write_plots

from ._common import run


def main(params: dict) -> None:
    for path in write_plots("metrics", "metrics/plots"):
        print(f"wrote {path}")


if __name__ == "__main__":
    run(main)
