"""Fault injection for the tests: stop or freeze training at an exact moment, so a test can
send the Ctrl-C or the kill -9 there. Inert unless a ``SENTINET_TEST_*`` variable is set.

Both variables take ``[RUN/]MOMENT``: RUN (optional) is the run directory's name, so one member
of a ``--seeds``/``--folds`` group can be picked out (``seed4/2``).

- ``SENTINET_TEST_INTERRUPT_AFTER_EPOCH=[RUN/]E``: a Ctrl-C once epoch E is saved.
- ``SENTINET_TEST_PAUSE_IN_SAVE=[RUN/]POINT:E``: in epoch E, create the file named by
  ``SENTINET_TEST_PAUSE_MARKER`` and sleep until killed, at POINT, one of (in save order)
  ``model.pt`` (its temp file half written), ``weights`` (model.pt saved, last.pt not yet),
  ``last.pt`` (half written), ``metrics`` (last.pt saved, metrics.json not yet) or ``epoch``
  (everything saved, the next epoch not begun).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

INTERRUPT = "SENTINET_TEST_INTERRUPT_AFTER_EPOCH"
PAUSE = "SENTINET_TEST_PAUSE_IN_SAVE"
MARKER = "SENTINET_TEST_PAUSE_MARKER"


def wanted(variable: str, run_dir: Path, moment: str) -> bool:
    value = os.environ.get(variable)
    if not value:
        return False
    run, _, want = value.rpartition("/")
    return want == moment and run in ("", run_dir.name)


def interrupt_after(run_dir: Path, epoch: int) -> None:
    if wanted(INTERRUPT, run_dir, str(epoch)):
        raise KeyboardInterrupt


def pause(run_dir: Path, point: str, epoch: int) -> None:
    if wanted(PAUSE, run_dir, f"{point}:{epoch}"):
        freeze(f"{run_dir}: paused at {point} in epoch {epoch}")


def pause_in_write(run_dir: Path, point: str, epoch: int):
    """The hook ``fileio.atomic_torch_save`` runs mid-write, or None when not wanted."""
    if not wanted(PAUSE, run_dir, f"{point}:{epoch}"):
        return None
    return lambda: freeze(f"{run_dir}: paused writing {point} in epoch {epoch}")


def freeze(message: str) -> None:
    Path(os.environ[MARKER]).write_text(message + "\n", encoding="utf-8")
    while True:  # until the test's kill -9
        time.sleep(60)
