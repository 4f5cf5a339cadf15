"""The loop's subscribers that keep records or govern the machine: metrics.csv and TensorBoard
after every committed epoch, and the CPU thread governor after every batch. (The schedule and
weight averaging live in optim.py, the progress bar in progress.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentinet.config.schema import RunConfig
from sentinet.errors import SentinetError, install_hint
from sentinet.reporting.plots import scalar_keys, write_csv
from sentinet.runs.rundir import TENSORBOARD
from sentinet.runtime.threads import ThreadGovernor
from sentinet.training.events import Callback


def require_tensorboard() -> None:
    """Fail before a run directory exists, not after, when the extra is missing."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise SentinetError("run.tensorboard: TensorBoard is not installed "
                            f"({install_hint('tensorboard')})")


class CsvLog(Callback):
    """metrics.csv, written whole after every committed epoch (a resumed run's earlier epochs
    are in ``epochs`` from the start)."""

    def __init__(self, epochs: Sequence[dict]):
        self.epochs = epochs

    def after_commit(self, epoch: int, row: dict, run_dir: Path) -> None:
        write_csv(run_dir, self.epochs)


class TensorBoard(Callback):
    """Per-epoch scalars to ``run_dir/tensorboard`` when ``run.tensorboard`` is on."""

    def __init__(self) -> None:
        self.writer = None

    def after_commit(self, epoch: int, row: dict, run_dir: Path) -> None:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / TENSORBOARD))
        for key in scalar_keys([row]):
            if row.get(key) is not None:
                self.writer.add_scalar(key, row[key], row["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def epoch_loggers(run: RunConfig, epochs: Sequence[dict]) -> list[Callback]:
    """The per-epoch logs a run keeps: metrics.csv always, TensorBoard when asked for."""
    return [CsvLog(epochs), *([TensorBoard()] if run.tensorboard else [])]


class GovernedThreads(Callback):
    """The thread governor (sentinet.runtime.threads) as a subscriber: it re-chooses torch's
    thread count after every optimizer step."""

    def __init__(self, governor: ThreadGovernor):
        self.governor = governor

    def after_batch(self) -> None:
        self.governor.tick()
