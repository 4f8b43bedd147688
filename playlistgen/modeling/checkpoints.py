"""Checkpoints a killed training run resumes from exactly: where training stands (Progress), the fingerprint of
what it trains on (a checkpoint of other params, data or code is never resumed) and the atomic save/restore."""
from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playlistgen.common.io import write_json


def fingerprint(settings: dict, files: list[Path]) -> str:
    """Hash of the training settings and input files: a checkpoint is resumed only when this matches."""
    import hashlib

    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in files:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Progress:
    """Where training stands; saved with every checkpoint so that a killed run resumes exactly."""

    epoch: int = 0               # epochs completed
    batch_in_epoch: int = 0      # micro-batches of the current epoch already trained (per process)
    step: int = 0                # optimizer steps
    best_val: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    tokens_seen: int = 0
    seconds: float = 0.0         # training time spent by earlier (interrupted) processes
    stopped_early: bool = False
    rows: list = field(default_factory=list)
    val_rows: list = field(default_factory=list)


class Checkpointer:
    """accelerator.save_state checkpoints that survive kill -9 at any moment.

    Each checkpoint is written to a hidden temporary folder, renamed into place, and only then named in
    `latest.json` (itself replaced atomically); older checkpoints are deleted after that. A run whose fingerprint
    (params and inputs) differs from the checkpoint's starts fresh.
    """

    def __init__(self, directory: Path, fingerprint: str, accelerator, keep: int = 1):
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.accelerator = accelerator
        self.keep = keep

    @property
    def best_dir(self) -> Path:
        return self.directory / "best_model"

    def restore(self) -> Progress | None:
        latest = self.directory / "latest.json"
        if not latest.exists():
            return None
        info = json.loads(latest.read_text())
        if info.get("fingerprint") != self.fingerprint:
            self.accelerator.print("checkpoint is from other params or data: starting fresh")
            self.accelerator.wait_for_everyone()
            if self.accelerator.is_main_process:
                shutil.rmtree(self.directory)
            self.accelerator.wait_for_everyone()
            return None
        self.accelerator.load_state(str(self.directory / info["name"]))
        progress = Progress(**info["progress"])
        self.accelerator.print(f"resumed from {info['name']} (epoch {progress.epoch + 1}, step {progress.step})")
        return progress

    def save(self, progress: Progress) -> None:
        name = f"step_{progress.step:07d}_{progress.epoch}_{progress.batch_in_epoch}"
        tmp = self.directory / f".{name}.tmp"
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process and tmp.exists():
            shutil.rmtree(tmp)
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(tmp))
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            final = self.directory / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            write_json(self.directory / "latest.json",
                       {"name": name, "fingerprint": self.fingerprint, "progress": asdict(progress)})
            done = sorted(p for p in self.directory.glob("step_*") if p.is_dir())
            for old in done[:-self.keep]:
                shutil.rmtree(old)
        self.accelerator.wait_for_everyone()
