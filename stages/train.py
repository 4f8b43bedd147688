"""train stage: T5 title -> cluster-ID model (playlistgen.trainer); run as `accelerate launch -m stages.train` (CPU, 1
or many GPUs) by stages/launch_train.py; writes work_dir/train/model and metrics/train.json."""
from playlistgen.io import write_json
from playlistgen.trainer import run_training

from ._common import run


def main(params: dict) -> None:
    summary = run_training(params)
    if summary is not None:  # the main process
        write_json("metrics/train.json", summary)
        print(summary)


if __name__ == "__main__":
    run(main)
