"""The pipeline's plots as PNG files, drawn with matplotlib: viewable offline (`dvc plots show` renders HTML that
loads vega from a CDN). The plots stage writes one PNG per plot DVC declares, from the same metrics files."""
from __future__ import annotations

import csv
from pathlib import Path

from playlistgen.common.io import DataError, atomic_path, read_json

PLOTS = {  # file written -> what it shows
    "train_loss.png": "training loss per optimizer step (metrics/train_log.csv)",
    "val_loss.png": "validation loss per epoch (metrics/val_log.csv)",
    "cluster_sizes.png": "clusters by size (metrics/cluster_sizes.json)",
    "ndcg_at_k.png": "NDCG@k per method on the test split (metrics/metrics_at_k.json)",
}


def read_csv_columns(path: Path, x: str, y: str) -> tuple[list[float], list[float]]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        return [float(r[x]) for r in rows], [float(r[y]) for r in rows]
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{path}: cannot read columns {x!r} and {y!r} ({e}); rerun the train stage (dvc repro "
                        "train) to write it again.") from e


def write_plots(metrics_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Draw every plot in PLOTS from the files under `metrics_dir` into `out_dir`; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics_dir, out_dir = Path(metrics_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {}
    steps, loss = read_csv_columns(metrics_dir / "train_log.csv", "step", "loss")
    figures["train_loss.png"] = line_plot(plt, {"train loss": (steps, loss)}, "optimizer step", "loss", log_y=True)
    epochs, val = read_csv_columns(metrics_dir / "val_log.csv", "epoch", "val_loss")
    figures["val_loss.png"] = line_plot(plt, {"validation loss": (epochs, val)}, "epoch", "loss")
    sizes = read_json(metrics_dir / "cluster_sizes.json")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh([str(r["cluster_size"]) for r in sizes], [r["clusters"] for r in sizes])
    ax.set_xlabel("clusters")
    ax.set_ylabel("songs in the cluster")
    figures["cluster_sizes.png"] = fig
    series: dict[str, tuple[list, list]] = {}
    for row in read_json(metrics_dir / "metrics_at_k.json"):
        xs, ys = series.setdefault(row["method"], ([], []))
        xs.append(row["k"])
        ys.append(row["ndcg"])
    figures["ndcg_at_k.png"] = line_plot(plt, series, "k", "NDCG@k", markers=True)
    written = []
    for name, fig in figures.items():
        fig.suptitle(PLOTS[name].split(" (")[0], fontsize=10)
        fig.tight_layout()
        with atomic_path(out_dir / name) as tmp:
            fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        written.append(out_dir / name)
    return written


def line_plot(plt, series: dict[str, tuple[list, list]], x_label: str, y_label: str, log_y: bool = False,
              markers: bool = False):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, label=label, marker="o" if markers else None, linewidth=1.2)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if len(series) > 1:
        ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig
