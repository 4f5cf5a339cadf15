"""The training loop's events: a side concern subscribes to them instead of living in
``train()`` (the learning-rate schedule, weight averaging, the CSV and TensorBoard logs, the
Optuna pruner do; so can an auxiliary objective or a new logger).

Subclass ``Callback`` and override the moments you need; the loop calls each subscriber in
the order it was given, at:

- ``after_batch()``: after every optimizer step (and the head's max-norm constraint);
- ``after_train_epoch(epoch)``: the epoch's batches are done, dev not yet scored;
- ``after_scoring(epoch, scores)``: dev scored; ``scores["score"]`` (train.metric) selects models;
- ``after_commit(epoch, row, run_dir)``: the epoch is saved (model.pt when best, last.pt,
  metrics.json); Ctrl-C is held until every subscriber returns, so keep it short;
- ``after_epoch(epoch, row, run_dir)``: outside that guard; raising here stops training with
  the epoch kept (the pruner's TrialPruned, a KeyboardInterrupt);
- ``close()``: training is over, however it ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class Callback:
    """A subscriber to the loop's events; every moment is optional (a no-op here)."""

    def after_batch(self) -> None:
        pass

    def after_train_epoch(self, epoch: int) -> None:
        pass

    def after_scoring(self, epoch: int, scores: dict) -> None:
        pass

    def after_commit(self, epoch: int, row: dict, run_dir: Path) -> None:
        pass

    def after_epoch(self, epoch: int, row: dict, run_dir: Path) -> None:
        pass

    def close(self) -> None:
        pass


class Events(Callback):
    """Many subscribers as one: each moment is passed on to all of them, in order."""

    def __init__(self, subscribers: Sequence[Callback]):
        self.subscribers = list(subscribers)

    def after_batch(self) -> None:
        for s in self.subscribers:
            s.after_batch()

    def after_train_epoch(self, epoch: int) -> None:
        for s in self.subscribers:
            s.after_train_epoch(epoch)

    def after_scoring(self, epoch: int, scores: dict) -> None:
        for s in self.subscribers:
            s.after_scoring(epoch, scores)

    def after_commit(self, epoch: int, row: dict, run_dir: Path) -> None:
        for s in self.subscribers:
            s.after_commit(epoch, row, run_dir)

    def after_epoch(self, epoch: int, row: dict, run_dir: Path) -> None:
        for s in self.subscribers:
            s.after_epoch(epoch, row, run_dir)

    def close(self) -> None:
        for s in self.subscribers:
            s.close()
