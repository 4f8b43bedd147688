"""How every command ends: an expected failure is one line on stderr and a non-zero exit, never a traceback
(unless asked for with -v / PLAYLISTGEN_DEBUG=1); output piped into `head` ends quietly."""
from __future__ import annotations

import os
import re
import sys

from playlistgen.common.io import DataError

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
SURROGATE = re.compile(r"[\ud800-\udfff]")

EXPECTED = (DataError, ValueError, OSError, UnicodeError)


def printable(text) -> str:
    """`text` safe for a terminal or a line-based file: control characters (escape sequences, newlines, tabs)
    become one space, undecodable bytes (lone surrogates from a non-UTF-8 argument) become U+FFFD."""
    return SURROGATE.sub("\ufffd", CONTROL.sub(" ", str(text)))


def debug_wanted(verbose: bool = False) -> bool:
    return verbose or os.environ.get("PLAYLISTGEN_DEBUG", "") not in ("", "0", "false")


def guarded(fn, *args, verbose: bool = False) -> int:
    """Run fn(*args) -> exit code; expected errors print `error: ...` (exit 2), a closed pipe exits quietly,
    Ctrl-C exits 130, anything else prints one line naming it (exit 1) unless `verbose` asks for the traceback."""
    try:
        code = fn(*args)
        sys.stdout.flush()  # a reader that left (`| head`) shows here, not as a complaint at interpreter exit
        return code
    except BrokenPipeError:
        # the reader (e.g. `| head`) left: stop writing, and keep Python from complaining at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except EXPECTED as e:
        if debug_wanted(verbose):
            raise
        print(f"error: {printable(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: say so in one line, the traceback is one flag away
        if debug_wanted(verbose):
            raise
        print(f"error: unexpected {type(e).__name__}: {printable(e)} (run again with -v or PLAYLISTGEN_DEBUG=1 "
              "for the traceback, and please report it)", file=sys.stderr)
        return 1
