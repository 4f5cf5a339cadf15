"""`sentinet serve` starting and stopping as a service manager drives it: SIGTERM (``kill``,
``docker stop``, systemd) removes an export archive's unpacked folder like Ctrl-C and exits 143,
even with a client that never finishes its request; a busy port, an unknown host or a privileged
port is one ``error:`` line before anything is announced (or unpacked)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from ..helpers import assert_one_line_error, run_cli
from .servers import free_port, read_so_far, refusing, start_server, stop

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")


@pytest.fixture(scope="module")
def archive(quick_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "run.tar.gz"
    result = run_cli("export", str(quick_run["run"]), str(out), "--vocab-size", "100")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def tmpdir_env(tmp_path) -> dict:
    """A private TMPDIR for the server, so what it leaves there can be counted."""
    (tmp_path / "tmp").mkdir()
    return {"TMPDIR": str(tmp_path / "tmp")}


def half_sent_request(port: int) -> socket.socket:
    """A client that announces a 100-byte body, sends one byte and waits: uvicorn's graceful
    shutdown would wait for it for ever. Returned once the request has reached the app, which
    awaits the rest of the body (a request the server has not read yet is no request in progress)."""
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 100\r\n\r\n{")
    read_so_far(port)
    return client


def serve_archive(archive: Path, tmp_path: Path, env: dict):
    port, log = free_port(), tmp_path / "stderr.txt"
    process = start_server(archive, port, log, env=env)
    unpacked = list(Path(env["TMPDIR"]).iterdir())
    assert len(unpacked) == 1 and unpacked[0].name.startswith("sentinet-"), unpacked
    return process, port, log


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_removes_the_unpacked_archive(archive, tmp_path, tmpdir_env, sig, code):
    process, _, log = serve_archive(archive, tmp_path, tmpdir_env)
    process.send_signal(sig)
    assert stop(process) == code  # 128 + the signal, as training exits
    assert list(Path(tmpdir_env["TMPDIR"]).iterdir()) == []
    assert "Traceback" not in log.read_text(encoding="utf-8")


def test_sigterm_does_not_wait_for_ever_on_a_half_sent_request(archive, tmp_path, tmpdir_env):
    from sentinet.serving.server import SHUTDOWN_GRACE_S

    process, port, log = serve_archive(archive, tmp_path, tmpdir_env)
    with half_sent_request(port):
        process.send_signal(signal.SIGTERM)
        assert stop(process, timeout=SHUTDOWN_GRACE_S + 30) == 143
    assert list(Path(tmpdir_env["TMPDIR"]).iterdir()) == []
    text = log.read_text(encoding="utf-8")
    assert "still in progress at shutdown was cut off" in text and "Traceback" not in text, text


def test_a_second_sigterm_stops_at_once(archive, tmp_path, tmpdir_env):
    process, port, log = serve_archive(archive, tmp_path, tmpdir_env)
    with half_sent_request(port):
        process.send_signal(signal.SIGTERM)
        refusing(port, process)  # the first one handled, the grace begun: the next is a second one
        process.send_signal(signal.SIGTERM)
        assert stop(process) == 143
    assert list(Path(tmpdir_env["TMPDIR"]).iterdir()) == []
    text = log.read_text(encoding="utf-8")
    assert "graceful shutdown exceeded" not in text and "Traceback" not in text, text  # no grace waited


@pytest.mark.parametrize("which", ["run", "archive"])
def test_a_busy_port_is_one_line_before_serving(quick_run, archive, tmp_path, tmpdir_env, which):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        target = quick_run["run"] if which == "run" else archive
        result = run_cli("serve", str(target), "--port", str(port), env=tmpdir_env, timeout=120)
    assert_one_line_error(result, f"port {port} on 127.0.0.1 is in use", "another --port")
    assert "serving" not in result.stderr
    assert list(Path(tmpdir_env["TMPDIR"]).iterdir()) == []  # refused before the archive is unpacked


def test_a_missing_run_is_said_before_a_busy_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("serve", str(tmp_path / "nowhere"), "--port", str(taken.getsockname()[1]))
    assert_one_line_error(result, "nowhere: no such run directory")


BAD_HOSTS = [
    ("no-such-host.invalid", "--host no-such-host.invalid: not an address this machine can listen on"),
    ("192.0.2.1", "--host 192.0.2.1: not an address of this machine"),  # TEST-NET-1, never local
    ("bad\nhost", "--host 'bad\\nhost': not an address this machine can listen on"),  # still one line
]


@pytest.mark.parametrize(("host", "fragment"), BAD_HOSTS)
def test_bind_socket_refuses_a_host_it_cannot_listen_on(host, fragment):
    """What serve binds its socket with before the model loads, in process."""
    from sentinet.errors import SentinetError
    from sentinet.serving.server import bind_socket

    with pytest.raises(SentinetError) as refused:
        bind_socket(host, free_port()).close()
    assert fragment in str(refused.value)


@pytest.mark.parametrize(("host", "fragment"), BAD_HOSTS[-1:])  # through the CLI: the newline its one line escapes
def test_a_host_that_cannot_be_listened_on_is_one_line(quick_run, host, fragment):
    result = run_cli("serve", str(quick_run["run"]), "--host", host, "--port", str(free_port()), timeout=120)
    assert_one_line_error(result, fragment)
    assert "serving" not in result.stderr


def unprivileged_port_start() -> int:
    """Linux's lowest port anyone may listen on (1024 unless the machine lowered it)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


@pytest.mark.skipif(os.geteuid() == 0 or unprivileged_port_start() <= 80,
                    reason="root (or anyone, on this machine) may listen on port 80")
def test_a_privileged_port_is_one_line(quick_run):
    result = run_cli("serve", str(quick_run["run"]), "--port", "80", timeout=120)
    assert_one_line_error(result, "port 80 on 127.0.0.1: permission denied", "--port 1024 or above")


def test_a_port_taken_between_bind_and_listen_is_said_before_serving():
    """Two sockets with SO_REUSEADDR may bind one port while neither listens; the second to
    listen is refused, and serve listens before it announces itself."""
    from sentinet.errors import SentinetError
    from sentinet.serving.server import bind_socket, start_listening

    port = free_port()
    with bind_socket("127.0.0.1", port) as first, bind_socket("127.0.0.1", port) as second:
        start_listening(first, "127.0.0.1", port)
        with pytest.raises(SentinetError, match=f"port {port} on 127.0.0.1 is in use"):
            start_listening(second, "127.0.0.1", port)
