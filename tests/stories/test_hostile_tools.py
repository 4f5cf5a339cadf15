"""Hostile input to the tool commands (a security issue): a study database that never answers
or cannot be parsed (``tune --storage``), what ``kill -9`` during ``sentinet ensemble``
leaves, ``--set`` values and a run's ``config.yaml``/``metrics.json`` built to exhaust memory
or the stack (``config show``, ``train``, ``report``).

The contract of test_hostile.py: exit 2, one ``error:`` line naming the file or key, no
traceback, nothing outside touched; every child's address space is capped (MEMORY_CAP), so a
regression fails with a MemoryError instead of taking the machine down. Waits are for states
(a connection accepted, a process gone), with generous deadlines.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sentinet.config.schema import apply_overrides
from sentinet.errors import SentinetError

from ..helpers import assert_one_line_error, snapshot, study_files, tiny_project

MEMORY_CAP = 1536 << 20  # a predict of a tiny run peaks near 300 MB resident, 800 MB mapped
SECRET = "pw-Secret42"  # a password that must never be printed


def capped() -> None:
    """The child's address space capped, and SIGTERM at its default (the CLI installs its
    handler only then; a background shell may hand it ignored)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def sentinet(*args: str) -> list[str]:
    return [sys.executable, "-m", "sentinet", *args]


def run_capped(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``sentinet ARGS`` with its address space capped (text output, invalid UTF-8 replaced)."""
    result = subprocess.run(sentinet(*args), capture_output=True, timeout=timeout, preexec_fn=capped,
                            env={**os.environ, **(env or {})})
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode("utf-8", "replace"),
                                       result.stderr.decode("utf-8", "replace"))


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --------------------------------------------------------------------------------------
# tune --storage: a server that never answers, a URL that cannot be parsed, the password


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word (a
    firewall's tarpit, a stuck proxy); closed when the block ends."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.accepted.append(connection)

    def wait_for_a_client(self, deadline_s: float) -> bool:
        deadline = time.monotonic() + deadline_s
        while not self.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        return bool(self.accepted)

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (a close alone does not)
        self.listener.close()
        for connection in self.accepted:
            connection.close()
        self.thread.join(timeout=10)


@pytest.fixture
def study(tmp_path) -> dict:
    data, _ = tiny_project(tmp_path)
    return study_files(data, "train.optimizer.lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n")


def tune_args(study: dict, storage: str) -> list[str]:
    return ["tune", "--config", str(study["base"]), "--space", str(study["space"]),
            "--output-dir", str(study["out"]), "--trials", "1", "--storage", storage]


MALFORMED_URLS = {
    "ipv6 host unclosed": f"postgresql://tuner:{SECRET}@[::1",
    "port not a number": f"postgresql://tuner:{SECRET}@db.example:port/studies",
    "an @ in the password": f"postgresql://tuner:x@{SECRET}:more@db.example:5x/studies",
    "not a URL": f"tuner:{SECRET}@db.example",
}


@pytest.mark.parametrize("case", list(MALFORMED_URLS))
def test_tune_refuses_a_malformed_storage_url_without_showing_its_password(study, tmp_path, case):
    before = snapshot(tmp_path)
    result = run_capped(*tune_args(study, MALFORMED_URLS[case]), timeout=180)
    assert_one_line_error(result, "--storage")
    assert SECRET not in result.stdout + result.stderr
    assert snapshot(tmp_path) == before


def test_tune_on_a_closed_port_never_shows_the_password(study):
    """Connection refused (or no driver installed): one line, the password masked."""
    with socket.socket() as bound:  # bound, never listening: a connection is refused at once
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        result = run_capped(*tune_args(study, f"postgresql://tuner:{SECRET}@127.0.0.1:{port}/studies"),
                            timeout=180)
    assert_one_line_error(result, "--storage postgresql://tuner:***@127.0.0.1")
    assert SECRET not in result.stdout + result.stderr


def test_tune_gives_up_on_a_server_that_never_answers(study):
    pytest.importorskip("psycopg2", reason="psycopg2 not installed (pip install -e '.[postgres]')")
    with SilentServer() as server:
        started = time.monotonic()
        result = run_capped(*tune_args(study, f"postgresql://tuner:{SECRET}@127.0.0.1:{server.port}/studies"),
                            env={"SENTINET_DB_TIMEOUT": "2"}, timeout=180)
        took = time.monotonic() - started
    assert_one_line_error(result, "cannot open the study database", "timeout expired")
    assert SECRET not in result.stdout + result.stderr
    assert len(server.accepted) <= 2, "a timed-out connection was retried"  # libpq may try SSL, then plain
    print(f"tune on a silent server ended after {took:.1f}s (SENTINET_DB_TIMEOUT=2)")


def test_sigterm_while_connecting_to_the_study_database_exits_143(study):
    pytest.importorskip("psycopg2", reason="psycopg2 not installed (pip install -e '.[postgres]')")
    with SilentServer() as server:
        process = subprocess.Popen(sentinet(*tune_args(study, f"postgresql://tuner:{SECRET}@127.0.0.1:{server.port}/db")),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=capped,
                                   env={**os.environ, "SENTINET_DB_TIMEOUT": "3600"})
        try:
            assert server.wait_for_a_client(300), process.communicate(timeout=60)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            try:  # a second on a quiet machine; the driver's own timeout is an hour
                out, err = process.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                pytest.fail("SIGTERM did not stop the command while it connected")
            took = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 143, err
    assert "Traceback" not in err and SECRET not in out + err
    print(f"SIGTERM during the connect: exit 143 after {took:.2f}s")


def test_bad_connect_timeout_setting_is_one_line(study):
    result = run_capped(*tune_args(study, f"postgresql://tuner:{SECRET}@127.0.0.1:1/db"),
                        env={"SENTINET_DB_TIMEOUT": "soon"}, timeout=180)
    assert_one_line_error(result, "$SENTINET_DB_TIMEOUT: 'soon'")
    assert SECRET not in result.stdout + result.stderr


# --------------------------------------------------------------------------------------
# sentinet ensemble -o DIR after a kill -9: a dead writer's temp file does not block DIR


@pytest.fixture
def two_runs(quick_run, run_copy) -> list[str]:
    return [str(quick_run["run"]), str(run_copy)]


def test_ensemble_clears_a_dead_writers_temp_file_and_goes_on(two_runs, tmp_path):
    out = tmp_path / "ensemble"
    out.mkdir()
    leftover = out / f".metrics.json.{dead_pid()}.k3j_x9q2.tmp"
    leftover.write_text('{"half": ', encoding="utf-8")
    result = run_capped("ensemble", *two_runs, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert not leftover.exists()
    assert sorted(p.name for p in out.iterdir()) == ["ensemble.json", "metrics.json", "train.log"]


def _live_partial(out: Path) -> None:
    (out / f".metrics.json.{os.getpid()}.abcd1234.tmp").write_text("{", encoding="utf-8")  # this test runs


def _dead_named_folder(out: Path) -> None:
    (out / f".metrics.json.{dead_pid()}.abcd1234.tmp").mkdir()


def _dead_named_link(out: Path) -> None:
    (out / f".metrics.json.{dead_pid()}.abcd1234.tmp").symlink_to(out.parent / "elsewhere")


# what DIR holds besides nothing: each keeps DIR refused
NOT_EMPTY = {
    "a live writer's temp file": _live_partial,
    "a real file": lambda out: (out / "notes.txt").write_text("mine", encoding="utf-8"),
    "a hidden file": lambda out: (out / ".keep").write_text("", encoding="utf-8"),
    "a folder named like a dead temp file": _dead_named_folder,
    "a link named like a dead temp file": _dead_named_link,
    "a dead temp file beside a real file": lambda out: (
        (out / f".train.log.{dead_pid()}.abcd1234.tmp").write_text("", encoding="utf-8"),
        (out / "metrics.json").write_text("{}", encoding="utf-8")),
}


@pytest.mark.parametrize("case", list(NOT_EMPTY))
def test_ensemble_still_refuses_a_folder_that_holds_something(two_runs, tmp_path, case):
    out = tmp_path / "ensemble"
    out.mkdir()
    NOT_EMPTY[case](out)
    before = snapshot(out)
    result = run_capped("ensemble", *two_runs, "-o", str(out))
    assert_one_line_error(result, str(out), "exists and is not empty")
    assert snapshot(out) == before


# --------------------------------------------------------------------------------------
# --set values go through the config file's strict reader


LAUGHS = "[" + ", ".join(f"&l{i} [" + ", ".join([f"*l{i - 1}" if i else "1"] * 10) + "]" for i in range(9)) + "]"

# --set KEY=VALUE → a fragment of the one error line
BAD_SETS = {
    "nested 100,000 deep": ("train.epochs=" + "[" * 100_000, "nested too deep"),
    "an alias bomb": (f"data.labels={LAUGHS}", "refused, as an alias bomb would be"),
    "an alias inside itself": ("data.labels=&a [1, *a]", "endless value"),
    "a key given twice": ("train={epochs: 2, epochs: 3}", "key 'epochs' is given twice"),
}


@pytest.mark.parametrize("command", ["config show", "train --dry-run"])
@pytest.mark.parametrize("case", list(BAD_SETS))
def test_set_values_are_read_as_strictly_as_config_files(tmp_path, command, case):
    data, config = tiny_project(tmp_path)
    item, fragment = BAD_SETS[case]
    before = snapshot(tmp_path)
    name, *flags = command.split()
    args = ["config", "show", str(config)] if name == "config" else ["train", "--config", str(config), *flags]
    result = run_capped(*args, "--set", item, timeout=180)
    assert_one_line_error(result, f"--set {item.partition('=')[0]}", fragment)
    assert snapshot(tmp_path) == before


def test_a_set_value_past_the_config_size_limit_is_refused():
    """Past what a command line carries, but the Python API (sentinet.train) passes any."""
    with pytest.raises(SentinetError, match="--set train.x: 1,000,001 characters is no config"):
        apply_overrides({}, ["train.x=" + "a" * 1_000_001])


def test_set_values_that_are_not_yaml_stay_plain_text():
    raw: dict = {}
    apply_overrides(raw, ["data.text_column=body: text: here"])  # "mapping values are not allowed here"
    apply_overrides(raw, ["train.epochs=4"])
    assert raw == {"data": {"text_column": "body: text: here"}, "train": {"epochs": 4}}


# --------------------------------------------------------------------------------------
# report reads config.yaml and metrics.json as predict does


# a run's file → its new content, a fragment of the one error line
BAD_RUN_FILES = {
    "config: invalid UTF-8": ("config.yaml", b"data:\n  train: \xff\xfe\n", "not valid UTF-8"),
    "config: nested 50,000 deep": ("config.yaml", b"data: " + b"[" * 50_000, "nested too deep"),
    "config: an alias bomb": ("config.yaml", f"data: {{labels: {LAUGHS}}}\n".encode(), "alias bomb"),
    "config: an alias inside itself": ("config.yaml", b"data: &d {x: *d}\n", "endless value"),
}


@pytest.mark.parametrize("command", ["report", "predict"])
@pytest.mark.parametrize("case", list(BAD_RUN_FILES))
def test_report_refuses_a_hostile_config_as_predict_does(run_copy, quick_run, command, case):
    name, content, fragment = BAD_RUN_FILES[case]
    (run_copy / name).write_bytes(content)
    before = snapshot(run_copy)
    args = [str(run_copy)] if command == "report" else [str(run_copy), str(quick_run["lines"])]
    result = run_capped(command, *args)
    assert_one_line_error(result, str(run_copy / name), fragment)
    assert snapshot(run_copy) == before


BAD_METRICS = {
    "not JSON": (b'{"best": ', "unreadable metrics"),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "unreadable metrics"),
    "not an object": (b"[1, 2]", "not a JSON object"),
    "a score that is text": (b'{"best": {"f_macro": "high"}, "best_epoch": 1, "seconds": 1}', "unreadable metrics"),
    "seconds that are text": (b'{"best": {}, "best_epoch": 1, "seconds": "long"}', "unreadable metrics"),
    "an unknown metric": (b'{"best": {"score": 1, "metric": "luck"}, "best_epoch": 1}', "unreadable metrics"),
}


@pytest.mark.parametrize("case", list(BAD_METRICS))
def test_report_refuses_a_damaged_metrics_file(run_copy, case):
    content, fragment = BAD_METRICS[case]
    (run_copy / "metrics.json").write_bytes(content)
    result = run_capped("report", str(run_copy))
    assert_one_line_error(result, str(run_copy / "metrics.json"), fragment)


def test_report_never_reads_a_fifo_named_metrics_json(run_copy):
    (run_copy / "metrics.json").unlink()
    os.mkfifo(run_copy / "metrics.json")  # opening it to read would wait for a writer forever
    result = run_capped("report", str(run_copy), timeout=120)
    assert_one_line_error(result, str(run_copy), "metrics.json")


def test_report_shows_config_values_json_cannot_write(quick_run, run_copy):
    """YAML dates and number keys are config values too: shown, not a traceback."""
    config = run_copy / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "notes: {when: 2024-05-01, 7: seven}\n",
                      encoding="utf-8")
    result = run_capped("report", str(quick_run["run"]), str(run_copy))
    assert result.returncode == 0, result.stderr
    assert "notes.when" in result.stdout and "2024-05-01" in result.stdout
