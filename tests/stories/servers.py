"""Starting a real ``sentinet serve`` for a test and waiting for it, shared by the serve stories
that need a server of their own (signals, ports, load) rather than test_serve.py's module one."""

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path, port: int, log: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """``sentinet serve RUN --port PORT ARGS`` with stderr into ``log``, once /health answers
    (bounded: model loading included, 90 s on a busy 2-core machine)."""
    with log.open("w", encoding="utf-8") as err:
        # A shell that starts the suite in the background hands its children SIGINT ignored, and
        # Python keeps an ignored SIGINT ignored: give the server the default, as a terminal does.
        process = subprocess.Popen([sys.executable, "-m", "sentinet", "serve", str(run), "--port", str(port),
                                    "--threads", "1", *args], stdout=subprocess.DEVNULL, stderr=err,
                                   env={**os.environ, **(env or {})},
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 90
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited {process.returncode}: {log.read_text(encoding='utf-8')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("server did not come up in 90 s")


def stop(process: subprocess.Popen, timeout: float = 30) -> int:
    """Wait for a server told to stop; one that hangs is killed and the test fails."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"server still running {timeout} s after it was told to stop")
