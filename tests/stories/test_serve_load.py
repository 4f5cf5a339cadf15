"""`sentinet serve` under a burst: 200 requests in flight at once, good and hostile mixed
(scripts/bench_serve.py's plan, small bounds), while /health is polled. No timing asserts: what
must hold on any machine is that every request got its own answer, none a 5xx, /health never
failed, memory stayed bounded and the server's stderr holds no traceback."""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path

import pytest

from .servers import free_port, start_server, stop

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")

MAX_TEXTS, MAX_BYTES = 300, 100_000


def bench_serve():
    """scripts/bench_serve.py as a module (scripts/ is no package)."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "bench_serve.py"
    spec = importlib.util.spec_from_file_location("bench_serve", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_two_hundred_requests_at_once_each_get_their_answer(quick_run, tmp_path):
    bench = bench_serve()
    port, log = free_port(), tmp_path / "stderr.txt"
    process = start_server(quick_run["run"], port, log, "--max-texts", str(MAX_TEXTS), "--max-bytes",
                           str(MAX_BYTES), "--no-access-log")
    try:
        cases = bench.plan(200, MAX_TEXTS, MAX_BYTES)
        before = bench.memory(process.pid)
        outcomes, health, wall = bench.fire(port, cases, concurrency=len(cases))
        result = bench.summary(outcomes, health, wall)
        after = bench.memory(process.pid)
        still_healthy = bench.healthy(port)
    finally:
        process.send_signal(signal.SIGTERM)
        code = stop(process)
    assert len(outcomes) == 200
    assert result["server_errors"] == []
    assert result["wrong"] == [], [(o.case.kind, o.case.expect, o.status, o.case.rows, o.rows, o.error)
                                   for o in result["wrong"]]
    expected = {c.kind for c in cases}
    assert set(result["by_kind"]) == expected and len(expected) == 9  # every kind was sent
    assert result["statuses"].keys() == {200, 400, 413, 422}
    assert result["health"]["polls"] > 0 and result["health"]["failed"] == 0
    assert still_healthy
    assert after["VmRSS"] - before["VmRSS"] < 300 * 1024, (before, after)  # kB
    assert code == 143
    assert "Traceback" not in log.read_text(encoding="utf-8")
