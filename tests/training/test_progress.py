"""sentinet/training/progress.py: short durations, and the progress lines a log that is not a
terminal gets every ``run.progress_every`` seconds (a fake clock: no sleeps)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from sentinet.training.events import Callback
from sentinet.training.progress import ProgressLines, duration, progress_lines


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.4, "0s"), (-5, "0s"), (42, "42s"), (59.4, "59s"), (60, "1m00s"), (185, "3m05s"),
    (3599, "59m59s"), (3600, "1h00m"), (3725, "1h02m"), (90061, "25h01m"),
])
def test_duration(seconds, text) -> None:
    assert duration(seconds) == text


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(batches: int = 10, epochs: int = 3, first_epoch: int = 1, every: float = 30):
    clock, lines = Clock(), []
    return ProgressLines(batches, epochs, first_epoch, every, write=lines.append, clock=clock), clock, lines


def test_nothing_is_said_before_every_seconds_then_one_line() -> None:
    progress, clock, lines = make()
    for _ in range(2):
        clock.now += 10
        progress.after_batch()
    assert lines == []
    clock.now += 10  # 30 s in, 3 of 10 batches: 10 s a batch
    progress.after_batch()
    assert lines == ["epoch 1/3: 3/10 batches (30%), 30s in, about 1m10s left in the epoch, "
                     "at most 4m30s in the run"]


def test_the_next_line_waits_another_every_seconds() -> None:
    progress, clock, lines = make(every=30)
    for _ in range(9):
        clock.now += 10
        progress.after_batch()
    assert [line.split(":")[1].split(",")[0] for line in lines] == [" 3/10 batches (30%)", " 6/10 batches (60%)",
                                                                     " 9/10 batches (90%)"]


def test_a_new_epoch_counts_its_batches_and_time_from_its_start() -> None:
    progress, clock, lines = make(batches=4, epochs=2, every=5)
    for _ in range(4):
        clock.now += 1
        progress.after_batch()
    assert lines == []
    clock.now += 100  # dev scoring and saving: not a batch's time
    progress.after_epoch(1, {}, Path("run"))
    clock.now += 6
    progress.after_batch()
    assert lines == ["epoch 2/2: 1/4 batches (25%), 6s in, about 18s left in the epoch, at most 18s in the run"]


def test_the_last_epoch_adds_nothing_after_it() -> None:
    progress, clock, lines = make(batches=2, epochs=3, first_epoch=5, every=1)  # past train.epochs
    clock.now += 2
    progress.after_batch()
    assert lines == ["epoch 5/3: 1/2 batches (50%), 2s in, about 2s left in the epoch, at most 2s in the run"]


def test_the_default_write_is_one_flushed_line_on_stderr(capsys) -> None:
    clock = Clock()
    progress = ProgressLines(1, 1, 1, every=0.5, clock=clock)
    clock.now += 1
    progress.after_batch()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "epoch 1/1: 1/1 batches (100%), 1s in, about 0s left in the epoch, at most 0s in the run\n"


class Stderr(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("every, tty, lines", [(60, False, True), (0, False, False), (-1, False, False),
                                               (60, True, False)])
def test_progress_lines_only_for_a_log_that_is_not_a_terminal(monkeypatch, every, tty, lines) -> None:
    monkeypatch.setattr(sys, "stderr", Stderr(tty))
    callback = progress_lines(batches=5, epochs=2, first_epoch=1, every=every)
    assert isinstance(callback, ProgressLines) is lines
    assert isinstance(callback, Callback)
    if lines:
        assert (callback.batches, callback.epochs, callback.epoch, callback.every) == (5, 2, 1, 60)
