"""``python tests/fault_launcher.py ARGS`` is ``sentinet ARGS`` with fault injection, for the
kill -9 and Ctrl-C tests: it patches sentinet's save functions and adds a subscriber to the
training loop, then runs the CLI, so the product itself carries no test hooks.

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

import contextlib
import functools
import os
import runpy
import sys
import time
from pathlib import Path

INTERRUPT = "SENTINET_TEST_INTERRUPT_AFTER_EPOCH"
PAUSE = "SENTINET_TEST_PAUSE_IN_SAVE"
MARKER = "SENTINET_TEST_PAUSE_MARKER"
LAUNCHER = Path(__file__).resolve()


def wanted(variable: str, run_dir: Path, moment: str) -> bool:
    value = os.environ.get(variable)
    if not value:
        return False
    run, _, want = value.rpartition("/")
    return want == moment and run in ("", run_dir.name)


def freeze(message: str) -> None:
    Path(os.environ[MARKER]).write_text(message + "\n", encoding="utf-8")
    while True:  # until the test's kill -9
        time.sleep(60)


class _FreezesAfterFirstWrite:
    """A file that, once part of the data is on disk, freezes (a kill then finds it half written)."""

    def __init__(self, f, message: str):
        self.f, self.message = f, message

    def write(self, data) -> int:
        n = self.f.write(data)
        self.f.flush()
        freeze(self.message)
        return n

    def __getattr__(self, name):
        return getattr(self.f, name)


def install() -> None:
    from sentinet import fileio
    from sentinet.training import checkpoint
    from sentinet.training import loop
    from sentinet.training.events import Callback

    now = {"epoch": 0}  # the epoch being trained (runs, group members included, go one at a time)

    class Faults(Callback):
        def after_scoring(self, epoch: int, scores: dict) -> None:
            now["epoch"] = epoch

        def after_epoch(self, epoch: int, row: dict, run_dir: Path) -> None:
            if wanted(PAUSE, run_dir, f"epoch:{epoch}"):
                freeze(f"{run_dir}: paused at epoch in epoch {epoch}")
            if wanted(INTERRUPT, run_dir, str(epoch)):
                raise KeyboardInterrupt

    atomic_open = fileio.atomic_open

    @contextlib.contextmanager
    def pausing_open(path, mode="w", named=False):
        path = Path(path)
        with atomic_open(path, mode, named) as f:
            point = f"{path.name}:{now['epoch']}"
            if "b" in mode and path.name in ("model.pt", "last.pt") and wanted(PAUSE, path.parent, point):
                yield _FreezesAfterFirstWrite(f, f"{path.parent}: paused writing {point}")
            else:
                yield f

    save = checkpoint.save

    def pausing_save(run_dir: Path, state: dict) -> None:
        if wanted(PAUSE, run_dir, f"weights:{state['epoch']}"):
            freeze(f"{run_dir}: paused at weights in epoch {state['epoch']}")
        save(run_dir, state)
        if wanted(PAUSE, run_dir, f"metrics:{state['epoch']}"):
            freeze(f"{run_dir}: paused at metrics in epoch {state['epoch']}")

    train = loop.train

    @functools.wraps(train)
    def train_with_faults(*args, callbacks=(), **kwargs):
        return train(*args, callbacks=[*callbacks, Faults()], **kwargs)

    fileio.atomic_open, checkpoint.save, loop.train = pausing_open, pausing_save, train_with_faults


if __name__ == "__main__":
    install()
    sys.argv = ["sentinet", *sys.argv[1:]]
    runpy.run_module("sentinet", run_name="__main__", alter_sys=True)
