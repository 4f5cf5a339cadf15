"""Starting a real ``sentinet serve`` for a test and waiting for it, shared by the serve stories.

Every wait here is for a state the server shows (/health answering, its port refusing, its
process gone), never for a number of seconds; the deadlines are safety nets far beyond what a
2-core machine at load 5 needs, so a slow machine is never a failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ..helpers import free_port

__all__ = ["START_S", "STOP_S", "free_port", "read_so_far", "refusing", "start_server", "stop"]

START_S = 300  # model loading included (5 s on a quiet machine)
STOP_S = 120  # a server told to stop exits in about a second on a quiet machine


def start_server(run: Path, port: int, log: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """``sentinet serve RUN --port PORT ARGS`` with stderr into ``log``, once /health answers."""
    with log.open("w", encoding="utf-8") as err:
        # A shell that starts the suite in the background hands its children SIGINT ignored, and
        # Python keeps an ignored SIGINT ignored: give the server the default, as a terminal does.
        process = subprocess.Popen([sys.executable, "-m", "sentinet", "serve", str(run), "--port", str(port),
                                    "--threads", "1", *args], stdout=subprocess.DEVNULL, stderr=err,
                                   env={**os.environ, **(env or {})},
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited {process.returncode}: {log.read_text(encoding='utf-8')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    process.wait()
    pytest.fail(f"server did not come up in {START_S} s")


def read_so_far(port: int) -> None:
    """Return once the server has read everything sent to it on connections opened before this
    call (a half-sent request included, which it then holds as a request in progress): /health on
    a new connection answers only after that, as one event loop reads every connection in the
    order it accepted them. What a fixed sleep after sending hoped for, on a busy machine too."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=STOP_S) as answer:
        assert answer.status == 200


def refusing(port: int, process: subprocess.Popen) -> None:
    """Return once the server has closed its listening socket (uvicorn's first step of a
    shutdown): a stop signal sent before has been handled, so another one arrives as a second
    signal, not merged into the first as two sent in a row to a process not yet scheduled are."""
    deadline = time.monotonic() + STOP_S
    while process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        except ConnectionRefusedError:
            return
        except OSError:  # a connect that timed out on a busy machine: ask again
            pass
        assert time.monotonic() < deadline, f"the server still accepted connections {STOP_S} s after a stop signal"
        time.sleep(0.05)


def stop(process: subprocess.Popen, timeout: float = STOP_S) -> int:
    """Wait for a server told to stop; one that hangs is killed and the test fails."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"server still running {timeout} s after it was told to stop")
