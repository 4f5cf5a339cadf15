"""`sentinet serve`: a real server on 127.0.0.1, real HTTP requests, clear 4xx answers."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .servers import STOP_S, free_port, start_server, stop

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")


def request(url: str, body=None, raw: bool = False) -> tuple[int, dict | str]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=STOP_S) as response:
            data = response.read()
            return response.status, data.decode() if raw else json.loads(data)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def run(learned_run) -> Path:
    return learned_run["run"]


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve") / "stderr.txt"


@pytest.fixture(scope="module")
def server(run, server_log):
    """One server for the module: every test here only asks it questions."""
    port = free_port()
    process = start_server(run, port, server_log, "--max-texts", "5", "--max-bytes", "10000")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    stop(process)


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
    status, empty = request(server + "/predict", b'{"texts": []}')
    assert status == 200 and empty["predictions"] == [] and empty["prevalence"]["texts"] == 0
    assert empty["prevalence"]["average"] is None and empty["prevalence"]["labels"] == [-1, 0, 1]


def test_predict_answers_the_batch_prevalence(server):
    texts = ["сбербанк спасибо отлично", "втб ужасно плохо", "кошмар", "втб отлично"]
    status, answer = request(server + "/predict", json.dumps({"texts": texts[:4]}).encode())
    assert status == 200
    shares = answer["prevalence"]
    assert shares["classes"] == ["negative", "neutral", "positive"] and shares["texts"] == 4
    labels = [p["label"] for p in answer["predictions"]]
    assert shares["count"] == [labels.count(y) / 4 for y in (-1, 0, 1)]
    mean = [sum(p["probabilities"][n] for p in answer["predictions"]) / 4 for n in shares["classes"]]
    assert shares["average"] == pytest.approx(mean, abs=1e-5)
    assert shares["labels"] == [-1, 0, 1]  # the classes' labels, in the order of the names
    assert shares["em"] is None and "at least 30 texts; this batch has 4" in shares["em_left_out"]


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/nope", 404), ("GET", "/predict", 405),
                                                        ("DELETE", "/health", 405)])
def test_unknown_paths_and_methods_answer_in_the_same_error_shape(server, method, path, status):
    req = urllib.request.Request(server + path, method=method)
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=STOP_S)
    assert exc.value.code == status
    assert json.loads(exc.value.read()) == {"error": f"{method} {path}: " + ("Not Found" if status == 404
                                                                              else "Method Not Allowed")}


def test_explain_answers_what_the_python_api_says(server, run):
    import sentinet

    text = "сбербанк спасибо отлично"
    for method in ("occlusion", "integrated_gradients"):
        status, answer = request(server + "/explain", json.dumps({"text": text, "method": method}).encode())
        assert status == 200
        local = sentinet.load(run).explain(text, method).to_dict()
        assert answer["tokens"] == local["tokens"] == ["сбербанк", "спасибо", "отлично"]
        assert answer["label"] == 1 and answer["method"] == method
        assert answer["scores"] == pytest.approx(local["scores"], abs=1e-5)
    assert answer["completeness"]["relative_error"] <= 0.01


def test_explain_as_html_is_the_page(server):
    status, page = request(server + "/explain", json.dumps({"text": "втб ужасно <b>", "html": True}).encode(),
                           raw=True)
    assert status == 200 and page.lstrip().lower().startswith("<!doctype html")
    assert "ужасно" in page and "<b>" not in page  # the text is escaped, not markup


@pytest.mark.parametrize(("body", "fragment"), [
    (b'{"texts": ["a"]}', 'expected {"text"'),
    (b'{"text": 5}', 'expected {"text"'),
    (b'{"text": "x", "method": "shap"}', "unknown explanation method 'shap'"),
    (b'{"text": "x", "method": ["ig"]}', "unknown explanation method"),
    (b'{"text": "  "}', "the text is empty"),
    (b'{"text": "x", "steps": 5}', "unknown field 'steps'"),
    (b'{"text": "x", "html": "yes"}', '"html" must be true or false'),
])
def test_bad_explain_requests_get_422(server, body, fragment):
    status, answer = request(server + "/explain", body)
    assert status == 422 and fragment in answer["error"]


def post_chunked(url: str, chunks: list[bytes]) -> tuple[int, dict]:
    """POST ``chunks`` with Transfer-Encoding: chunked over a plain socket, then read the answer.

    A server that refuses a body as it arrives answers and closes while the client is still
    sending, so a later write may meet a reset; like curl, this keeps reading the answer then."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    path = "/" + url.removeprefix("http://").split("/", 1)[1]
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=STOP_S) as sock:
        try:
            sock.sendall(head)
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is already on the way
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass  # the reset that follows the answer
    status_line, _, rest = answer.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body)


def test_chunked_body_over_the_limit_is_refused_as_it_arrives(server):
    chunks = [b'{"texts": ["'] + [b"x" * 2000] * 10 + [b'"]}']  # no Content-Length: chunked
    status, answer = post_chunked(server + "/predict", chunks)
    assert status == 413 and "over 10000 bytes" in answer["error"]


@pytest.mark.parametrize("body", [b"[" * 4000 + b"]" * 4000, b'{"texts": ' + b"7" * 5000 + b"}"])
def test_json_too_deep_or_too_long_a_number_is_a_400(server, body):
    status, answer = request(server + "/predict", body)
    assert status == 400 and "JSON" in answer["error"]
    assert request(server + "/health")[0] == 200


@pytest.mark.parametrize(("body", "status", "fragment"), [
    (b'{"texts": ["unclosed"', 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not valid JSON"),
    (b'["a list"]', 422, "a list of strings"),
    (b'{"texts": "one string"}', 422, "a list of strings"),
    (b'{"texts": ["ok", 5]}', 422, "a list of strings"),
    (json.dumps({"texts": ["x"] * 6}).encode(), 413, "the limit is 5"),
    (json.dumps({"texts": ["слово " * 1000]}).encode(), 413, "over 10000 bytes"),
])
def test_bad_requests_get_clear_4xx(server, body, status, fragment):
    got, answer = request(server + "/predict", body)
    assert got == status and fragment in answer["error"]


def test_health_still_answers_after_bad_requests(server):
    request(server + "/predict", b"garbage")
    assert request(server + "/health")[0] == 200


def test_every_request_gets_an_access_line_on_stderr(server, server_log):
    request(server + "/predict", b'{"texts": ["ok"]}')
    request(server + "/predict", b"garbage")
    deadline = time.monotonic() + STOP_S  # a safety net: the line is logged before the answer is sent
    while time.monotonic() < deadline:
        log = server_log.read_text(encoding="utf-8")
        if '"POST /predict HTTP/1.1" 400' in log:
            break
        time.sleep(0.2)
    assert '"POST /predict HTTP/1.1" 200' in log and '"POST /predict HTTP/1.1" 400' in log, log
    assert "Traceback" not in log
