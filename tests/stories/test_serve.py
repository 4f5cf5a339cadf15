"""`sentinet serve`: a real server on 127.0.0.1, real HTTP requests, clear 4xx answers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, body: bytes | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def run(learned_run) -> Path:
    return learned_run["run"]


@pytest.fixture
def server(run):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sentinet", "serve", str(run), "--port", str(port),
                                "--max-texts", "5", "--max-bytes", "2000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:  # bounded wait for start-up (model loading included)
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.stderr.read()}")
        try:
            if request(base + "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("server did not come up in 90 s")
    yield base
    process.terminate()
    process.wait(timeout=30)


def test_health_and_predict(server, run):
    status, health = request(server + "/health")
    assert status == 200 and health["status"] == "ok" and health["run"] == str(run)
    body = json.dumps({"texts": ["сбербанк спасибо отлично", "втб ужасно плохо", "кошмар"]}).encode()
    status, answer = request(server + "/predict", body)
    assert status == 200
    assert [p["label"] for p in answer["predictions"]] == [1, -1, -1]
    for p in answer["predictions"]:
        assert set(p["probabilities"]) == {"negative", "neutral", "positive"}
        assert sum(p["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert request(server + "/predict", b'{"texts": []}') == (200, {"predictions": []})


@pytest.mark.parametrize(("body", "status", "fragment"), [
    (b'{"texts": ["unclosed"', 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not valid JSON"),
    (b'["a list"]', 422, "a list of strings"),
    (b'{"texts": "one string"}', 422, "a list of strings"),
    (b'{"texts": ["ok", 5]}', 422, "a list of strings"),
    (json.dumps({"texts": ["x"] * 6}).encode(), 413, "the limit is 5"),
    (json.dumps({"texts": ["слово " * 400]}).encode(), 413, "over 2000 bytes"),
])
def test_bad_requests_get_clear_4xx(server, body, status, fragment):
    got, answer = request(server + "/predict", body)
    assert got == status and fragment in answer["error"]


def test_health_still_answers_after_bad_requests(server):
    request(server + "/predict", b"garbage")
    assert request(server + "/health")[0] == 200
