"""A real HTTP server on 127.0.0.1 that plays the upstream host (or a mirror) for download
tests: it serves files the test makes, and misbehaves on request (a flipped byte, a short body,
a dropped connection, 404, 503, a redirect, a server that ignores Range). It records each
request's path and Range header, so a test can see what the client asked for."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Route:
    """What one path answers. ``body``: the file; ``faults``: one per request, in order, then
    plain serving ("drop": send half and close; "503"; "ignore-range": a 200 with the whole file)."""

    body: bytes = b""
    status: int = 200
    location: str | None = None  # a redirect's target
    faults: list[str] = field(default_factory=list)
    content_length: int | None = None  # a header that differs from the body (a short body)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: dict[str, Route]
    log: list[tuple[str, str | None]]

    def do_GET(self) -> None:  # noqa: N802
        self.log.append((self.path, self.headers.get("Range")))
        route = self.routes.get(self.path)
        if route is None:
            return self._plain(404, b"not found")
        if route.location is not None:
            self.send_response(route.status)
            self.send_header("Location", route.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if route.status != 200:
            return self._plain(route.status, b"no")
        fault = route.faults.pop(0) if route.faults else None
        if fault == "503":
            return self._plain(503, b"busy")
        start = _range_start(self.headers.get("Range"))
        if start is not None and fault != "ignore-range" and start < len(route.body):
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(route.body) - 1}/{len(route.body)}")
            body = route.body[start:]
        else:
            self.send_response(200)
            body = route.body
        self.send_header("Content-Length", str(route.content_length or len(body)))
        self.end_headers()
        if fault == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def _plain(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


def _range_start(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes=(\d+)-", header or "")
    return int(match.group(1)) if match else None


@dataclass
class Mirror:
    url: str
    routes: dict[str, Route]
    log: list[tuple[str, str | None]]

    def paths(self) -> list[str]:
        return [path for path, _ in self.log]


@contextmanager
def mirror(routes: dict[str, Route]) -> Iterator[Mirror]:
    """The server, on a free port, for the ``with`` block; ``routes`` may change while it runs."""
    log: list[tuple[str, str | None]] = []
    handler = type("Handler", (_Handler,), {"routes": routes, "log": log})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Mirror(f"http://127.0.0.1:{server.server_address[1]}", routes, log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
