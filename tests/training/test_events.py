"""sentinet/training/events.py: Events passes every moment, with its arguments, to every
subscriber in the order given; a Callback's moments are all optional no-ops."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinet.training.events import Callback, Events

MOMENTS = {  # each moment and the arguments the loop passes
    "after_batch": (),
    "after_train_epoch": (3,),
    "after_scoring": (3, {"score": 0.5}),
    "after_commit": (3, {"epoch": 3}, Path("run")),
    "after_epoch": (3, {"epoch": 3}, Path("run")),
    "close": (),
}


class Recorder(Callback):
    def __init__(self, name: str, log: list) -> None:
        self.name, self.log = name, log

    def __getattribute__(self, attr):
        if attr in MOMENTS:
            return lambda *args: self.log.append((self.name, attr, args))
        return super().__getattribute__(attr)


def test_the_moments_are_those_of_callback() -> None:
    assert {m for m in vars(Callback) if not m.startswith("_")} == set(MOMENTS)
    assert {m for m in vars(Events) if not m.startswith("_")} == set(MOMENTS)  # Events overrides each


@pytest.mark.parametrize("moment", MOMENTS)
def test_every_moment_goes_to_every_subscriber_in_order(moment) -> None:
    log: list = []
    events = Events([Recorder("a", log), Recorder("b", log), Recorder("c", log)])
    args = MOMENTS[moment]
    assert getattr(events, moment)(*args) is None
    assert log == [(name, moment, args) for name in "abc"]


def test_a_sequence_of_moments_keeps_its_order_per_subscriber() -> None:
    log: list = []
    events = Events((Recorder("a", log), Recorder("b", log)))  # any sequence, kept as a list
    assert isinstance(events.subscribers, list)
    for moment, args in MOMENTS.items():
        getattr(events, moment)(*args)
    assert log == [(name, moment, args) for moment, args in MOMENTS.items() for name in "ab"]


def test_a_subscriber_overriding_some_moments_gets_those_and_ignores_the_rest() -> None:
    seen = []

    class Batches(Callback):
        def after_batch(self) -> None:
            seen.append("batch")

    events = Events([Callback(), Batches()])
    for moment, args in MOMENTS.items():
        getattr(events, moment)(*args)
    assert seen == ["batch"]


def test_a_subscriber_that_raises_stops_the_ones_after_it() -> None:
    """after_epoch raising (the pruner's TrialPruned) stops training: later subscribers are
    not called for that moment."""
    log: list = []

    class Stop(Callback):
        def after_epoch(self, epoch, row, run_dir) -> None:
            raise KeyboardInterrupt

    events = Events([Recorder("a", log), Stop(), Recorder("b", log)])
    with pytest.raises(KeyboardInterrupt):
        events.after_epoch(*MOMENTS["after_epoch"])
    assert log == [("a", "after_epoch", MOMENTS["after_epoch"])]


def test_events_nest_and_no_subscribers_is_fine() -> None:
    log: list = []
    events = Events([Recorder("a", log), Events([Recorder("b", log), Recorder("c", log)]), Events([])])
    events.after_scoring(*MOMENTS["after_scoring"])
    assert [name for name, _, _ in log] == ["a", "b", "c"]
