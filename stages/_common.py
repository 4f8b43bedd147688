"""What every stage entry point shares: reading params.yaml and setting up logging."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from playlistgen.common.io import DataError

ROOT = Path(__file__).resolve().parent.parent


def load_params(path: str | Path = ROOT / "params.yaml") -> dict:
    """params.yaml, validated (playlistgen.common.params): a bad key is one DataError before any work."""
    from playlistgen.common.params import load

    return load(path)


def setup_logging() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("accelerate", "httpx", "urllib3"):  # per-file checkpoint lines drown the stage's own log
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # T5 ties its embeddings and LM head; every checkpoint save warns "Removed shared tensor ... This should be OK"
    # although the tie is restored on load (test_resume: a resumed run ends exactly like an uninterrupted one).
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)


def run_checks():
    """(params, 0), or (None, 2) after printing the one-line error of a bad params.yaml."""
    try:
        return load_params(), 0
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return None, 2


def run(main) -> None:
    """Run a stage's main(): a bad params.yaml or input ends it with one `error:` line and exit 2, never a
    traceback (PLAYLISTGEN_DEBUG=1 shows it); a bug is one line naming it, exit 1."""
    from playlistgen.common import threads
    from playlistgen.common.entry import guarded

    setup_logging()

    def stage() -> int:
        # several accelerate processes on one machine share its cores
        threads.configure(int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        main(load_params())
        return 0

    code = guarded(stage)
    if code:
        sys.exit(code)
