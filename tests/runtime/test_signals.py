"""sentinet/runtime/signals.py, in-process: SIGTERM delivered as a Ctrl-C, Ctrl-C and SIGTERM
held across a block (an epoch's saves) and raised when it ends, a tune worker's one Ctrl-C.

Each test puts back the handlers it changes. A signal sent to this process runs its Python
handler at the main thread's next check, so the tests wait for what the handler does (a
held signal noted, an exception raised), never for a number of seconds.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from sentinet.runtime import signals
from sentinet.runtime.signals import Terminated

PATIENCE_S = 120  # only a broken handler gets anywhere near this


def wait_until(condition: Callable[[], object], what: str) -> None:
    """Spin until ``condition()`` holds (the handler of a signal just sent has run)."""
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"


def spin_until_raised(what: str) -> None:
    """Spin until a handler raises into this frame; failing if none does."""
    wait_until(lambda: False, what)


@pytest.fixture
def handlers() -> Iterator[None]:
    """SIGINT and SIGTERM as pytest found them, put back after the test."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_the_sigterm_handler_turns_sigterm_into_a_ctrl_c(handlers):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    terminated = signals.stop_on_sigterm()
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL and not terminated()
    with pytest.raises(KeyboardInterrupt) as stopped:
        os.kill(os.getpid(), signal.SIGTERM)
        spin_until_raised("raised on SIGTERM")
    assert isinstance(stopped.value, Terminated)  # the CLI exits 143, not 130
    assert terminated()


def test_the_sigterm_handler_leaves_a_disposition_it_did_not_set_alone(handlers):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # e.g. inherited from a parent that knows why
    terminated = signals.stop_on_sigterm()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN and not terminated()


def test_a_ctrl_c_during_the_block_is_held_until_it_ends_then_raised(handlers):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = False
    with pytest.raises(KeyboardInterrupt) as stopped:
        with signals.deferred_interrupts() as held:
            os.kill(os.getpid(), signal.SIGINT)
            wait_until(lambda: held, "held the Ctrl-C")
            finished = True  # the block ran to its end
    assert finished and held == [signal.SIGINT]
    assert not isinstance(stopped.value, Terminated)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_sigterm_held_during_the_block_reaches_sentinets_handler_after_it(handlers):
    """The CLI exits 143 only if its SIGTERM handler saw the signal: a SIGTERM that arrives
    while the saves hold it must be handed on to that handler, not raised in its place (CI
    once exited 130 after a SIGTERM that landed during an epoch's saves)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    terminated = signals.stop_on_sigterm()
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with signals.deferred_interrupts() as held:
            os.kill(os.getpid(), signal.SIGTERM)
            wait_until(lambda: held, "held the SIGTERM")
            assert not terminated()  # held, not handled, inside the block
    assert terminated()
    assert signal.getsignal(signal.SIGTERM) is handler


def test_a_block_without_signals_changes_nothing(handlers):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with signals.deferred_interrupts() as held:
        pass
    assert held == [] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_handlers_that_do_not_raise_are_not_held(handlers):
    """SIG_IGN stays ignored and someone else's handler still runs inside the block."""
    theirs: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: theirs.append(signum))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with signals.deferred_interrupts() as held:
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(lambda: theirs, "ran the other handler")
    assert held == [] and theirs == [signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_off_the_main_thread_nothing_is_held(handlers):
    """Only the main thread may set handlers; a block elsewhere just runs."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seen: list[object] = []

    def block() -> None:
        with signals.deferred_interrupts() as held:
            seen.append(held)

    thread = threading.Thread(target=block)
    thread.start()
    thread.join()
    assert seen == [[]] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_tune_worker_stops_at_the_first_ctrl_c_and_ignores_the_next(handlers):
    signals.stop_at_first_ctrl_c()
    with pytest.raises(KeyboardInterrupt):
        signals.send_ctrl_c(os.getpid())
        spin_until_raised("raised on the first Ctrl-C")
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the forwarded second one is dropped
