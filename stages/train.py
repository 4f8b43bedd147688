"""train stage: T5 title -> cluster-ID model (playlistgen.modeling.trainer); run as `accelerate launch -m stages.train` (CPU, 1
or many GPUs) by stages/launch_train.py; writes work_dir/train/model and metrics/train.json."""
from playlistgen.common.io import write_json
from playlistgen.modeling.trainer import run_training

from ._common import run


def main(params: dict) -> None:
    summary = run_training(params)
    if summary is not None:  # the main process
        write_json("metrics/train.json", summary)
        print(f"train: best validation loss {summary['best_val_loss']} at epoch {summary['best_epoch']} of "
              f"{summary['epochs_run']}, {summary['steps']} steps, {summary['train_seconds']} s "
              f"({summary['tokens_per_s']} tokens/s, {summary['device']})")


if __name__ == "__main__":
    run(main)
