"""Signals, in one place: what sentinet does when it is told to stop.

- ``stop_on_sigterm``: the CLI turns SIGTERM (``kill``, ``docker stop``, systemd, Slurm's
  time limit) into a Ctrl-C, ``Terminated``, so that a run stopped either way keeps its
  checkpoint and removes its temp files; the CLI then exits 143 instead of 130.
- ``deferred_interrupts``: a Ctrl-C or that SIGTERM is held while an epoch is saved, so the
  saves happen all or none and a stopped run is exactly its last checkpoint.
- ``stop_at_first_ctrl_c`` and ``send_ctrl_c``: ``sentinet tune``'s worker processes stop at
  the first Ctrl-C, whether the terminal or the main process sent it.
- ``block_interrupts_in_this_thread``: a helper thread stuck in C (a database connect) leaves
  Ctrl-C and SIGTERM to the main thread, which can act on them at once.

Only the main thread runs Python's signal handlers, so only it installs or holds them.
Imports no torch: the CLI installs its handler before anything is parsed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM delivered as a Ctrl-C, so a run stops the same careful way: its checkpoint kept,
    resumable. A KeyboardInterrupt, so everything that stops cleanly on a Ctrl-C stops on it."""


class _SigtermToCtrlC:
    """sentinet's SIGTERM handler: notes the signal (the CLI's exit code says which one
    stopped it) and raises ``Terminated``. A class of its own, so ``deferred_interrupts``
    tells it from a handler someone else installed."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        raise Terminated


def stop_on_sigterm() -> Callable[[], bool]:
    """Install the SIGTERM → ``Terminated`` handler, unless SIGTERM is not at its default
    (ignored, or someone else's handler: left as it is). A run started in the background ignores
    SIGINT, so SIGTERM is how it is stopped. Returns whether a SIGTERM has arrived since."""
    handler = _SigtermToCtrlC()
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, handler)
    return lambda: bool(handler.received)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[list[int]]:
    """Hold a Ctrl-C (or a SIGTERM ``stop_on_sigterm`` turned into one) until the block ends,
    then hand it to the handler it was held from, which raises it: an epoch's saves (model.pt,
    last.pt, metrics) happen all or none. Yields the signals held so far. Handlers that do not
    raise (SIG_IGN, someone else's) are left alone; off the main thread nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    caught: list[int] = []
    held = {signum: signal.signal(signum, lambda n, frame: caught.append(n))
            for signum in (signal.SIGINT, signal.SIGTERM) if _raises_interrupt(signal.getsignal(signum))}
    try:
        yield caught
    finally:
        for signum, previous in held.items():
            signal.signal(signum, previous)
    if caught:  # the held-from handler runs (sentinet's SIGTERM one notes the signal for the exit code)
        signum = signal.SIGTERM if signal.SIGTERM in caught else caught[0]
        held[signum](signum, None)
        raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt  # a handler that returned


def _raises_interrupt(handler: object) -> bool:
    """Python's own Ctrl-C handler or sentinet's SIGTERM one (not SIG_IGN, not someone else's)."""
    return handler is signal.default_int_handler or isinstance(handler, _SigtermToCtrlC)


def stop_at_first_ctrl_c() -> None:
    """For a tune worker process: the first SIGINT raises KeyboardInterrupt and any later one
    is ignored (a terminal's Ctrl-C reaches it, and the main process then forwards one more)."""
    signal.signal(signal.SIGINT, _interrupt_once)


def _interrupt_once(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def send_ctrl_c(pid: int) -> None:
    """A Ctrl-C for one process (a tune worker, when only the main process got a kill -INT)."""
    os.kill(pid, signal.SIGINT)


def block_interrupts_in_this_thread() -> None:
    """For a helper thread about to block in C (libpq's connect): SIGINT and SIGTERM are
    blocked in it, so the kernel delivers them to the main thread. Delivered to a thread stuck
    in C, a signal's Python handler would wait until the call returned (the driver's timeout);
    the main thread, waiting in short joins, runs it at once."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
