"""A bounded load test of ``sentinet serve``: many requests at once, good and hostile mixed, while
/health is polled, to see that the server keeps answering, answers every bad body with its 4xx
(never a 5xx), and does not grow without bound.

    python scripts/bench_serve.py                       # trains a tiny 1-epoch GRU first
    python scripts/bench_serve.py --run runs/banks-gru  # an existing run (or export archive)
    python scripts/bench_serve.py --requests 400 --concurrency 100 --threads 2

The requests (--requests, all --concurrency of them in flight at once, over 127.0.0.1, one
connection each) cycle through: good /predict bodies of 1-20 texts, full batches of --max-texts
texts, one text too many (413), bodies that are not JSON (400), JSON of the wrong shape (422),
a declared Content-Length over --max-bytes (413), a chunked body that passes it (413), JSON nested
far too deep (400) and /explain bodies. It prints /health's latency during the burst
(median/p95/max), the status-code counts, every answer that was not the expected one, and the
server's RSS (VmRSS, and its peak VmHWM) before and after. Only the standard library: no load
tool to install. tests/stories/test_serve_load.py runs the same burst with small bounds. The
machine may be shared: the load average is printed beside the numbers.

    python scripts/bench_serve.py --slowloris 1100 --nofile 1024 --seconds 25

instead holds that many half-sent requests open (slowloris: each connection sends part of its
headers and a header line more every 5 s; those the server closed are opened again then, or at
once with --flood)
for --seconds, against a server whose open-file limit is --nofile, while /health is polled; it
prints /health's latency, how many connections the server closed, its open files and the size of
its stderr (lines, bytes, tracebacks). tests/stories/test_serve_hostile.py is the small version.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["сбербанк", "втб", "спасибо", "отлично", "ужасно", "плохо", "офис", "карта", "курс", "опять",
         "кошмар", "великолепно", "приложение", "завис", "быстро", "😀", "@user", "http://t.co/x"]


@dataclass
class Case:
    """One request: what is sent and what must come back (``rows``: predictions expected)."""
    kind: str
    path: str
    body: bytes = b""
    chunks: list[bytes] | None = None  # chunked transfer; sent without the closing chunk
    declared: int | None = None  # a Content-Length sent with no body behind it
    expect: int = 200
    rows: int | None = None


@dataclass
class Outcome:
    case: Case
    status: int | None = None
    rows: int | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == self.case.expect and self.rows == self.case.rows


def texts(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(2, 12))) + f" {rng.randint(0, 10**6)}" for _ in range(n)]


def plan(n: int, max_texts: int, max_bytes: int, seed: int = 0) -> list[Case]:
    """``n`` requests cycling through the kinds, each with its expected status."""
    rng = random.Random(seed)

    def predict(batch: list[str], **kw) -> Case:
        return Case(path="/predict", body=json.dumps({"texts": batch}, ensure_ascii=False).encode(), **kw)

    def good() -> Case:
        batch = texts(rng, rng.randint(1, 20))
        return predict(batch, kind="good", rows=len(batch))

    depth = min(100_000, (max_bytes - 2) // 2)  # far past Python's recursion limit, under --max-bytes
    makers = [
        good,
        lambda: predict(texts(rng, max_texts), kind="full batch", rows=max_texts),
        lambda: predict(texts(rng, max_texts + 1), kind="texts over --max-texts", expect=413),
        lambda: Case("not JSON", "/predict", b'{"texts": ["unclosed"', expect=400),
        lambda: Case("wrong shape", "/predict", rng.choice([b'{"texts": "one"}', b'["a"]', b'{"texts": [1]}']),
                     expect=422),
        lambda: Case("declared over --max-bytes", "/predict", declared=max_bytes + 1, expect=413),
        lambda: Case("chunked over --max-bytes", "/predict", expect=413,
                     chunks=[b'{"texts": ["'] + [b"x" * 4096] * (max_bytes // 4096 + 1)),
        lambda: Case("nested too deep", "/predict", b"[" * depth + b"]" * depth, expect=400),
        lambda: Case("good", "/predict", b'{"texts": []}', rows=0),
        lambda: Case("explain", "/explain", json.dumps({"text": texts(rng, 1)[0]}, ensure_ascii=False).encode()),
    ]
    return [makers[i % len(makers)]() for i in range(n)]


def send(port: int, case: Case, timeout: float = 120) -> Outcome:
    """One request on its own connection, by hand: a declared-but-unsent body and an unfinished
    chunked one cannot be written with http.client's request()."""
    started = time.perf_counter()
    out = Outcome(case)
    head = f"POST {case.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
    if case.chunks is not None:
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in case.chunks)
        head += "Transfer-Encoding: chunked\r\n\r\n"
    else:
        payload = case.body
        head += f"Content-Length: {case.declared if case.declared is not None else len(payload)}\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            try:
                sock.sendall(head.encode() + payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # it answered before reading everything: the answer is still there to read
            response = http.client.HTTPResponse(sock)
            response.begin()
            data = response.read()
            out.status = response.status
        if out.status == 200 and case.path == "/predict":
            out.rows = len(json.loads(data)["predictions"])
    except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"[:200]
    out.seconds = time.perf_counter() - started
    return out


def fire(port: int, cases: list[Case], concurrency: int) -> tuple[list[Outcome], list[float], float]:
    """Every case, ``concurrency`` at a time (all at once by default), released together, while a
    thread polls /health: (outcomes in plan order, /health latencies, wall seconds)."""
    outcomes: list[Outcome | None] = [None] * len(cases)
    todo = iter(range(len(cases)))
    lock, go, done = threading.Lock(), threading.Event(), threading.Event()

    def worker() -> None:
        go.wait()
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            outcomes[i] = send(port, cases[i])

    health: list[float] = []
    workers = [threading.Thread(target=worker) for _ in range(min(concurrency, len(cases)))]
    poller = threading.Thread(target=poll_health, args=(port, health, done))
    for t in workers:
        t.start()
    poller.start()
    started = time.perf_counter()
    go.set()
    for t in workers:
        t.join()
    wall = time.perf_counter() - started
    done.set()
    poller.join()
    return [o for o in outcomes if o is not None], health, wall


def poll_health(port: int, latencies: list[float], done: threading.Event, every: float = 0.05,
                fresh: bool = False) -> None:
    """GET /health on one kept-alive connection (``fresh``: a new one each time, as a load
    balancer's probe does) until ``done``; a failure counts as infinite."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not done.is_set():
        if fresh:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        try:
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started if response.status == 200 else float("inf"))
        except (OSError, http.client.HTTPException):
            latencies.append(float("inf"))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        time.sleep(every)
    connection.close()


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as answer:
            return answer.status == 200
    except OSError:
        return False


def summary(outcomes: list[Outcome], health: list[float], wall: float) -> dict:
    """What the script prints and the test asserts on."""
    finite = sorted(x for x in health if x != float("inf"))

    def ms(q: float) -> float:
        return round(1000 * finite[min(len(finite) - 1, int(q * len(finite)))], 1) if finite else float("nan")

    return {
        "requests": len(outcomes), "wall_s": round(wall, 2),
        "statuses": dict(sorted(Counter(o.status for o in outcomes if o.status is not None).items())),
        "by_kind": {k: dict(v) for k, v in kinds(outcomes).items()},
        "server_errors": [o for o in outcomes if o.status is not None and o.status >= 500],
        "wrong": [o for o in outcomes if not o.ok],
        "health": {"polls": len(health), "failed": len(health) - len(finite), "median_ms": ms(0.5),
                   "p95_ms": ms(0.95), "max_ms": ms(1.0)},
        "request_s": {"median": round(statistics.median(o.seconds for o in outcomes), 3),
                      "max": round(max(o.seconds for o in outcomes), 3)},
    }


def kinds(outcomes: list[Outcome]) -> dict[str, Counter]:
    table: dict[str, Counter] = {}
    for o in outcomes:
        table.setdefault(o.case.kind, Counter())[o.status if o.error is None else o.error.split(":")[0]] += 1
    return table


def start(run: Path, port: int, log: Path, args) -> subprocess.Popen:
    """``sentinet serve`` in a child (stderr to ``log``), once /health answers."""
    cmd = [sys.executable, "-m", "sentinet", "serve", str(run), "--port", str(port), "--threads",
           str(args.threads), "--max-texts", str(args.max_texts), "--max-bytes", str(args.max_bytes),
           "--no-access-log", *args.serve_args]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

    def limit_files() -> None:  # `ulimit -n NOFILE` for the server alone
        if args.nofile:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))

    with log.open("w") as err:
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, preexec_fn=limit_files)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if healthy(port):
            return process
        time.sleep(0.2)
    process.kill()
    sys.exit(f"the server did not come up: {log.read_text()}")


def tiny_run(work: Path) -> Path:
    """A 1-epoch GRU on the tests' generated tweets (tests/helpers.py): seconds, no data needed."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers import tiny_project

    _, config = tiny_project(work)
    subprocess.run([sys.executable, "-m", "sentinet", "train", "--config", str(config), "--set", "train.epochs=1"],
                   check=True, capture_output=True, cwd=ROOT)
    return next((work / "runs").iterdir())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(result: dict, rss: list[dict], log_text: str, still_healthy: bool) -> None:
    """The last round's numbers, and the server's memory after every round (a plateau is fine,
    a steady climb a leak)."""
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{result['requests']} requests in {result['wall_s']} s; per request median "
          f"{result['request_s']['median']} s, max {result['request_s']['max']} s")
    print(f"status codes: {result['statuses']}")
    for kind, counts in result["by_kind"].items():
        print(f"  {kind:28s} {dict(counts)}")
    h = result["health"]
    print(f"/health during the burst: {h['polls']} polls, {h['failed']} failed; median {h['median_ms']} ms, "
          f"p95 {h['p95_ms']} ms, max {h['max_ms']} ms")
    print(f"5xx answers: {len(result['server_errors'])}; answers not as expected: {len(result['wrong'])}")
    for o in result["wrong"][:10]:
        print(f"  {o.case.kind}: expected {o.case.expect} ({o.case.rows} rows), got {o.status} "
              f"({o.rows} rows) {o.error or ''}")
    mb = [f"{m['VmRSS'] / 1024:.1f}" for m in rss]
    print(f"server RSS {mb[0]} MB before, after each round {', '.join(mb[1:])} MB "
          f"(+{(rss[-1]['VmRSS'] - rss[0]['VmRSS']) / 1024:.1f} MB); peak {rss[-1]['VmHWM'] / 1024:.1f} MB")
    print(f"/health after the burst: {'200' if still_healthy else 'no answer'}; traceback in the server's "
          f"stderr: {'yes' if 'Traceback' in log_text else 'no'}")


def slowloris(port: int, n: int, seconds: float, every: float = 5.0, flood: bool = False) -> dict:
    """Hold ``n`` half-sent requests open for ``seconds``: every ``every`` s, a header line more
    on each and new ones for those the server closed, as slowloris.py does (``flood``: a new one
    at once for each closed, as fast as the server closes them). Counts what happened."""
    import selectors

    live: set[socket.socket] = set()
    counts = Counter()
    selector = selectors.DefaultSelector()
    deadline = time.monotonic() + seconds
    next_round = time.monotonic()

    def forget(sock: socket.socket, why: str) -> None:
        counts[why] += 1
        selector.unregister(sock)
        live.discard(sock)
        sock.close()

    while time.monotonic() < deadline:
        top_up = flood or time.monotonic() >= next_round
        while top_up and len(live) < n and time.monotonic() < deadline:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-0: ")
            except OSError as exc:
                counts[f"connect failed ({type(exc).__name__})"] += 1
                time.sleep(0.05)
                continue
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            live.add(sock)
            counts["opened"] += 1
        if time.monotonic() >= next_round:
            next_round = time.monotonic() + every
            for sock in list(live):
                try:
                    sock.send(b"a\r\nX-Slow: ")
                except OSError:
                    forget(sock, "closed by the server")
        for key, _ in selector.select(timeout=0.1):  # readable: the server closed it (or answered)
            forget(key.fileobj, "closed by the server")
    counts["held at the end"] = len(live)
    for sock in list(live):
        forget(sock, "closed by us")
    selector.close()
    return dict(counts)


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def attack(port: int, process: subprocess.Popen, log: Path, args) -> None:
    """--slowloris: the attack in this thread, /health polled in another; the numbers."""
    health: list[float] = []
    done = threading.Event()
    fds: list[int] = []
    poller = threading.Thread(target=poll_health, args=(port, health, done, 0.1, True))

    def watch() -> None:
        while not done.wait(0.5):
            fds.append(open_files(process.pid))

    watcher = threading.Thread(target=watch)
    rss = [memory(process.pid)]
    poller.start()
    watcher.start()
    try:
        counts = slowloris(port, args.slowloris, args.seconds, flood=args.flood)
    finally:
        done.set()
        poller.join()
        watcher.join()
    rss.append(memory(process.pid))
    finite = sorted(x for x in health if x != float("inf"))

    def q(f: float) -> str:
        return f"{1000 * finite[min(len(finite) - 1, int(f * len(finite)))]:.1f}" if finite else "nan"

    text = log.read_text(errors="replace")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"slowloris{' (flood)' if args.flood else ''}: {args.slowloris} half-sent requests held for "
          f"{args.seconds:g} s: {counts}")
    print(f"/health during the attack (a new connection each): {len(health)} polls, "
          f"{len(health) - len(finite)} failed; "
          f"median {q(0.5)} ms, p95 {q(0.95)} ms, max {q(1.0)} ms")
    print(f"server open files: max {max(fds, default=-1)} (limit {args.nofile or 'unchanged'}); RSS "
          f"{rss[0]['VmRSS'] / 1024:.1f} MB before, {rss[1]['VmRSS'] / 1024:.1f} MB after")
    print(f"server stderr: {len(text.splitlines())} lines, {len(text.encode())} bytes, "
          f"{text.count('Traceback')} tracebacks, {text.count('Too many open files')} 'Too many open files'")
    for line in text.splitlines()[:12]:
        print(f"  | {line[:160]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, help="Run, ensemble or export archive (default: train a tiny one).")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=None, help="In flight at once (default: all).")
    p.add_argument("--max-texts", type=int, default=1000, help="serve --max-texts (a full batch's size).")
    p.add_argument("--max-bytes", type=int, default=1_000_000, help="serve --max-bytes.")
    p.add_argument("--threads", type=int, default=1, help="serve --threads.")
    p.add_argument("--rounds", type=int, default=1, help="Bursts one after another (new texts each), "
                   "to see whether memory levels off.")
    p.add_argument("--slowloris", type=int, default=0, metavar="N",
                   help="Instead of the burst: hold N half-sent requests open (see above).")
    p.add_argument("--seconds", type=float, default=25, help="How long --slowloris lasts.")
    p.add_argument("--flood", action="store_true", help="--slowloris opens a new connection as soon as "
                   "the server closes one (default: every 5 s, as slowloris.py does).")
    p.add_argument("--nofile", type=int, default=0, help="The server's open-file limit (ulimit -n); "
                   "default: this shell's.")
    p.add_argument("--serve-arg", dest="serve_args", action="append", default=[], metavar="ARG",
                   help="One more argument for sentinet serve (repeatable): --serve-arg=--read-timeout=5")
    args = p.parse_args()
    if args.slowloris:  # this process holds them all: its own soft limit up to its hard one
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard != resource.RLIM_INFINITY and hard < args.slowloris + 64:
            sys.exit(f"--slowloris {args.slowloris} needs an open-file limit of {args.slowloris + 64} here; "
                     f"the hard limit is {hard}")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        run = args.run or tiny_run(work)
        port, log = free_port(), work / "serve-stderr.txt"
        process = start(run, port, log, args)
        if args.slowloris:
            try:
                attack(port, process, log, args)
            finally:
                process.terminate()
                process.wait(timeout=30)
            return
        try:
            rss = [memory(process.pid)]
            for seed in range(args.rounds):
                cases = plan(args.requests, args.max_texts, args.max_bytes, seed)
                outcomes, health, wall = fire(port, cases, args.concurrency or len(cases))
                time.sleep(0.5)
                rss.append(memory(process.pid))
            still = healthy(port)
        finally:
            process.terminate()
            process.wait(timeout=30)
        print(f"sentinet serve {run} (--threads {args.threads}, --max-texts {args.max_texts}, "
              f"--max-bytes {args.max_bytes}); exit code after SIGTERM {process.returncode}")
        report(summary(outcomes, health, wall), rss, log.read_text(), still)


if __name__ == "__main__":
    main()
