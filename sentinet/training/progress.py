"""Progress lines for a log that is not a terminal.

tqdm draws bars only on a terminal; under nohup, Docker, systemd or Slurm, stderr is a file
and an epoch can take most of an hour with nothing said between ``run: …`` and its end.
``ProgressLines`` subscribes to the loop's batches and writes one plain line every
``run.progress_every`` seconds instead: where the epoch is and about how long it has left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from sentinet.training.events import Callback


def duration(seconds: float) -> str:
    """"42s", "3m05s", "1h02m": short enough for a log line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressLines(Callback):
    """One line per ``every`` seconds of training: epoch, batches done, time left in the epoch."""

    def __init__(self, batches: int, epochs: int, first_epoch: int, every: float,
                 write: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.batches, self.epochs, self.epoch, self.every = batches, epochs, first_epoch, every
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.clock = clock
        self.done = 0
        self.started = self.last = clock()

    def after_batch(self) -> None:
        self.done += 1
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.started
        per_batch = elapsed / self.done
        left = (self.batches - self.done) * per_batch
        later = max(self.epochs - self.epoch, 0) * self.batches * per_batch  # early stopping may skip them
        self.write(f"epoch {self.epoch}/{self.epochs}: {self.done}/{self.batches} batches "
                   f"({self.done / max(self.batches, 1):.0%}), {duration(elapsed)} in, "
                   f"about {duration(left)} left in the epoch, at most {duration(left + later)} in the run")

    def after_epoch(self, epoch: int, row: dict, run_dir: Path) -> None:
        self.epoch, self.done = epoch + 1, 0
        self.started = self.clock()


def progress_lines(batches: int, epochs: int, first_epoch: int, every: float) -> Callback:
    """ProgressLines when stderr is not a terminal (a terminal has tqdm's bar) and ``every`` > 0."""
    if every <= 0 or sys.stderr.isatty():
        return Callback()
    return ProgressLines(batches, epochs, first_epoch, every)
