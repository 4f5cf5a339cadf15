"""The ``INCOMPLETE`` note of a run (or --seeds/--folds group) directory that has not finished.

Written first, when the directory is made, and removed last, once every file is final; a
Ctrl-C rewrites its status line, a kill -9 or a full disk leaves it as it was. So a directory
is either complete or says that it is not, and how to go on (``sentinet train --resume``).
``eval``/``predict``/``serve``/``report`` warn about such a run; ``export`` refuses it.
Kept free of torch: ``report`` reads it too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sentinet.errors import SentinetError
from sentinet.fileio import atomic_write_text

NOTE = "INCOMPLETE"
GROUP = "group.json"  # in a --seeds/--folds group directory: what it trains
TRAINING = "training has not finished: it is running, or was killed"  # the first status


def mark(run_dir: Path, status: str) -> None:
    """``status`` is the line readers show."""
    atomic_write_text(run_dir / NOTE, f"{status}\n{hint(run_dir)}\n")


def clear(run_dir: Path) -> None:
    (run_dir / NOTE).unlink(missing_ok=True)


def status(run_dir: Path) -> str | None:
    """Why ``run_dir`` has not finished (its note's first line), or None when it has."""
    try:
        text = (run_dir / NOTE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        text = ""
    return (text.splitlines() or [""])[0].strip() or "no status"


def hint(run_dir: Path) -> str:
    """How to go on; a member of a --seeds/--folds group goes on with its group."""
    target = run_dir.parent if (run_dir.parent / GROUP).is_file() else run_dir
    return f"continue with: sentinet train --resume {target}"


def message(run_dir: Path, why: str) -> str:
    return f"{run_dir}: incomplete run ({why}); {hint(run_dir)}"


def warn(run_dir: Path) -> bool:
    """A run cut short still serves its best epoch so far, but the user should know."""
    why = status(run_dir)
    if why is not None:
        print(f"warning: {message(run_dir, why)}", file=sys.stderr)
    return why is not None


def require_done(run_dir: Path) -> None:
    why = status(run_dir)
    if why is not None:
        raise SentinetError(message(run_dir, why))
