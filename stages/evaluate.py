"""evaluate stage: model and model_knn vs baselines on the test playlists (playlistgen.evaluation.report); writes
metrics/evaluate.json, evaluate_val.json, metrics_at_k.json and samples.md."""
from accelerate import Accelerator
from playlistgen.common.io import write_json, write_text
from playlistgen.evaluation.report import evaluate

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
    shown = ("ndcg@10", "r_precision", "expansion_f1")
    lines = [f"{'test split':<16}" + "".join(f"{m:>14}" for m in shown)]
    lines += [f"{name:<16}" + "".join(f"{v[m]:>14.4f}" for m in shown)
              for name, v in out.test.items()
              if isinstance(v, dict) and all(isinstance(v.get(m), float) for m in shown)]
    accelerator.print("\n".join(lines))


if __name__ == "__main__":
    run(main)
