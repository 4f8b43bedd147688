"""evaluate stage: model and model_knn vs baselines on the test playlists (playlistgen.report); writes
metrics/evaluate.json, evaluate_val.json, metrics_at_k.json and samples.md."""
from accelerate import Accelerator
from playlistgen.io import write_json, write_text
from playlistgen.report import evaluate

from ._common import run


def main(params: dict) -> None:
    accelerator = Accelerator()
    out = evaluate(params, accelerator)
    if out is None:  # not the main process
        return
    write_json("metrics/evaluate.json", out.test)
    write_json("metrics/evaluate_val.json", out.validation)
    write_json("metrics/metrics_at_k.json", out.metrics_at_k)
    write_text("metrics/samples.md", out.samples)
    accelerator.print({k: v.get("expansion_f1") for k, v in out.test.items() if "expansion_f1" in v})


if __name__ == "__main__":
    run(main)
