"""What every stage entry point shares: reading params.yaml and setting up logging."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import yaml

from playlistgen.io import DataError

ROOT = Path(__file__).resolve().parent.parent


def load_params(path: str | Path = ROOT / "params.yaml") -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def setup_logging() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("accelerate", "httpx", "urllib3"):  # per-file checkpoint lines drown the stage's own log
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # T5 ties its embeddings and LM head; every checkpoint save warns "Removed shared tensor ... This should be OK"
    # although the tie is restored on load (test_resume: a resumed run ends exactly like an uninterrupted one).
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)


def run(main) -> None:
    """Run a stage's main(); a DataError ends the stage with its one-sentence message instead of a traceback."""
    setup_logging()
    try:
        from playlistgen import threads

        # several accelerate processes on one machine share its cores
        threads.configure(int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        main(load_params())
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
