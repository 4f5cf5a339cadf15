"""``sentinet serve RUN``: a small HTTP API over a trained run (the ``serve`` extra).

    GET  /health   → {"status": "ok", "run": ..., "labels": [the run's labels], "classes": [their names]}
    POST /predict  {"texts": ["...", ...]} → {"predictions": [{"label": 1, "probabilities": {...}}],
                                              "prevalence": {each class's share, three estimators}}
                   (a multi-label run: each "label" a list of labels, possibly empty; no EM share)
    POST /explain  {"text": "...", "method": "occlusion" | "integrated_gradients", "html": false,
                    "class": optional} → each token's contribution to the label, or to the class
                   named (or, with "html": true, the page)

The model is loaded once, before the server starts, and runs in a worker thread so /health
answers while a large batch is being labelled. Requests are checked by hand rather than by a
schema so every mistake gets one plain sentence and the right status: 400 for a body that is
not JSON, 413 for one too big (counted as it arrives, chunked bodies included), 422 for JSON of
the wrong shape or a text the model cannot explain.

Hostile clients (``ConnectionGuard``): a connection has ``--read-timeout`` seconds to deliver a
whole request, headers and body (from its opening, or from its previous answer), or it is
closed; at most ``--max-connections`` are open at once (fewer where the open-file limit says so),
and one more closes the one that has waited longest for its request to arrive, so clients that
send half a request and wait (slowloris) cannot starve /health. What they cause is logged as
one line per kind per LOG_EVERY_S, never a traceback per connection. ``--allow-host NAME``
answers only requests whose Host header names one of the NAMEs (DNS rebinding).
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
# run time, and Request is imported inside build_app (fastapi is an optional extra).
import errno
import functools
import json
import logging
import signal
import socket
import sys
import threading

from sentinet.errors import SentinetError, install_hint
from sentinet.serving.guard import (
    ACCEPT_BURST, LISTEN_BACKLOG, ConnectionGuard, HostAllowList, Limits, Throttle, connection_cap,
    guarded_protocol, shown,
)


class BadRequest(Exception):
    """A request the server answers with ``status`` and one sentence, never a traceback."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def require_extra():
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise SentinetError(f"serve needs FastAPI and uvicorn: {install_hint('serve')}") from None


def build_app(model, max_texts: int, max_bytes: int):
    """The app over ``model`` (a ``sentinet.api.Model``)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app = FastAPI(title="sentinet", docs_url=None, redoc_url=None)
    lock = threading.Lock()  # predict grows the run's vocabulary with unseen words

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):  # 404, 405: the same shape
        return JSONResponse({"error": f"{request.method} {request.url.path}: {exc.detail}"},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    def locked(function, *args):
        try:
            with lock:
                return function(*args)
        finally:  # outside the lock: the next request need not wait for it
            release_memory()

    @app.get("/health")
    async def health() -> dict:  # on the event loop: the worker threads may all be waiting for the model
        return {"status": "ok", "run": str(model.path), "labels": list(model.classes),
                "classes": list(model.class_names)}

    @app.post("/predict")
    async def predict(request: Request):
        payload = await read_json(request, max_bytes)
        texts = payload.get("texts") if isinstance(payload, dict) else None
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise BadRequest(422, 'expected {"texts": ["a text", ...]}: a list of strings')
        if len(texts) > max_texts:
            raise BadRequest(413, f"{len(texts)} texts in one request; the limit is {max_texts}")
        return await run_in_threadpool(locked, predictions, model, texts)

    @app.post("/explain")
    async def explain(request: Request):
        payload = await read_json(request, max_bytes)
        text, method, as_html, target = explain_request(payload)
        try:
            explanation = await run_in_threadpool(locked, model.explain, text, method, target)
        except SentinetError as exc:
            raise BadRequest(422, str(exc)) from None
        if as_html:
            from sentinet.inference.explain import render_html

            return HTMLResponse(render_html(explanation))
        return explanation.to_dict()

    return app


# EM's class shares of a handful of texts are noise (a batch of 3 moves them anywhere): /predict
# leaves them out below this many texts, and says so; count and average stay.
EM_MIN_TEXTS = 30


def predictions(model, texts: list[str]) -> dict:
    """/predict's answer: each text's label and probabilities, and the batch's class shares
    (an empty batch too: the same keys, no rows)."""
    probs = model.predict_proba(texts)
    names = model.class_names
    rows = [{"label": y, "probabilities": {n: round(float(x), 6) for n, x in zip(names, p)}}
            for y, p in zip(model.labels(probs), probs)]
    shares = model.prevalence_of(probs)
    if 0 < len(texts) < EM_MIN_TEXTS and "em" in shares and "em_left_out" not in shares:  # multi-label: no EM
        shares.update(em=None, em_iterations=0, em_converged=False, em_left_out=f"EM shares need at least {EM_MIN_TEXTS} texts; this batch has "
                      f"{len(texts)} (count and average are exact for it)")
    return {"predictions": rows, "prevalence": shares}


def explain_request(payload) -> tuple[str, str, bool, str | int | None]:
    """(text, method, html, class) from an /explain body, or a 422 naming what is wrong in its
    shape; "class" (optional: a label or class name) picks the class to explain."""
    shape = ('expected {"text": "a text", "method": "occlusion" or "integrated_gradients", "html": false, '
             '"class": optional, a label or class name}')
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
        raise BadRequest(422, shape)
    unknown = sorted(set(payload) - {"text", "method", "html", "class"})
    if unknown:
        raise BadRequest(422, f"unknown field {unknown[0][:40]!r}: {shape}")
    as_html = payload.get("html", False)
    if not isinstance(as_html, bool):
        raise BadRequest(422, '"html" must be true or false')
    target = payload.get("class")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (str, int))):
        raise BadRequest(422, '"class" must be a label or class name (a string or an integer)')
    return payload["text"], payload.get("method", "occlusion"), as_html, target  # Model.explain checks them


async def read_json(request, max_bytes: int):
    """The request's JSON, read no further than ``max_bytes`` (a declared length above it is
    refused before reading; a chunked body is refused as soon as it passes the limit)."""
    too_big = BadRequest(413, f"request body over {max_bytes} bytes")
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    from starlette.requests import ClientDisconnect

    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                raise too_big
    except ClientDisconnect:  # gone (or cut off by --read-timeout) mid-body: nobody to answer
        raise BadRequest(400, "the client closed the connection before the body was complete") from None
    try:
        return json.loads(bytes(body))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(400, f"body is not valid JSON ({exc})") from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, an integer of thousands of digits
        raise BadRequest(400, f"body is not JSON this server reads ({str(exc)[:80]})") from None


def release_memory() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``) after a model
    call. Integrated gradients allocate hundreds of MB of path points and activations, in
    whichever worker thread ran them, and glibc keeps what they freed in that thread's arena:
    without this a server at 330 MB stayed at 743 MB after 50 requests of 1,000-2,000 words
    (359 MB with it). Cheap when there is little to give back (~0.03 ms); a no-op off glibc."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim`` from the libc this process already runs; None elsewhere."""
    try:
        import ctypes

        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None


def bind_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before the model loads and before "serving" is announced, so a
    busy port, an unknown host or a privileged port is one ``error:`` line (uvicorn would log it
    after the announcement and exit 1). SO_REUSEADDR as asyncio sets it: a port left in TIME_WAIT
    by the last server binds again, one another process listens on does not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, ValueError) as exc:  # ValueError: a NUL, a label over 63 characters
        raise SentinetError(f"--host {shown(host)}: not an address this machine can listen on "
                            f"({getattr(exc, 'strerror', None) or exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise SentinetError(_bind_error(exc, host, port)) from None
    return sock


def start_listening(sock: socket.socket, host: str, port: int) -> None:
    """Listen now, once the model is loaded: another server that bound the same port meanwhile
    (SO_REUSEADDR lets two bind while neither listens) is found here, still before "serving"."""
    try:
        sock.listen(LISTEN_BACKLOG)  # run_server's asyncio server listens again, then again with this
    except OSError as exc:
        raise SentinetError(_bind_error(exc, host, port)) from None


def _bind_error(exc: OSError, host: str, port: int) -> str:
    host = shown(host)
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use (another server listens there): choose another --port"
    if exc.errno == errno.EACCES:
        return (f"port {port} on {host}: permission denied (ports below 1024 need root): "
                f"choose --port 1024 or above")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine (0.0.0.0 listens on every interface)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


# How long a server told to stop (SIGTERM, Ctrl-C) waits for requests still in progress, a client
# that never finishes sending its body included, before cutting them off and exiting.
SHUTDOWN_GRACE_S = 5


def run_server(model, sock: socket.socket, max_texts: int, max_bytes: int, access_log: bool = True,
               limits: Limits = Limits()) -> None:
    """Serve on ``sock`` until SIGTERM or Ctrl-C. The shutdown is bounded (SHUTDOWN_GRACE_S; a
    second SIGTERM, like a second Ctrl-C, stops at once), and uvicorn then re-raises the signal
    with sentinet's own handler, so the caller's ``finally`` runs and the CLI exits 143 (130).
    Always uvicorn's h11 protocol on asyncio's own loop (not httptools or uvloop, where
    installed): the ConnectionGuard is built on them, and on asyncio's accept(), which backs
    off a second when it runs out of files and hands the error to ``loop_exception``."""
    import asyncio
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG
    from uvicorn.protocols.http.h11_impl import H11Protocol

    # uvicorn's own lines only for warnings; with access_log, one line per request on stderr
    # ('127.0.0.1:5012 - "POST /predict HTTP/1.1" 200 OK'), not on stdout.
    logs = copy.deepcopy(LOGGING_CONFIG)
    logs["loggers"]["uvicorn.error"]["level"] = "WARNING"
    logs["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    logs["handlers"]["access"]["stream"] = "ext://sys.stderr"
    max_connections, note = connection_cap(limits.max_connections)
    guard = ConnectionGuard(limits, max_connections)
    app = build_app(model, max_texts, max_bytes)
    if limits.allowed_hosts:
        app = HostAllowList(app, limits.allowed_hosts)
    # lifespan off: the app has no start-up or shutdown hooks, and a forced stop would cancel the
    # idle lifespan task, which starlette reports as a traceback
    config = uvicorn.Config(app, log_config=logs, log_level=None, access_log=access_log, lifespan="off",
                            timeout_graceful_shutdown=SHUTDOWN_GRACE_S, loop="asyncio",
                            http=guarded_protocol(H11Protocol, guard), ws="none", backlog=ACCEPT_BURST)
    throttle = Throttle()
    logging.getLogger("uvicorn.error").addFilter(_no_traceback_for_cut_requests)
    logging.getLogger("uvicorn.error").addFilter(throttle)
    logging.getLogger("asyncio").addFilter(throttle)
    if note:
        print(f"note: {note}", file=sys.stderr)

    def loop_exception(loop, context) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            guard.out_of_files(exc)  # instead of a traceback per accept() tried
        else:
            loop.default_exception_handler(context)

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            if sig == signal.SIGTERM and self.should_exit:  # uvicorn forces only on a second SIGINT
                self.force_exit = True
            super().handle_exit(sig, frame)

        async def serve(self, sockets=None) -> None:
            asyncio.get_running_loop().set_exception_handler(loop_exception)
            await super().serve(sockets)

        async def startup(self, sockets=None) -> None:
            # asyncio accepts up to `backlog` connections per turn and listens with the same
            # number: a small burst keeps the files within the cap, a long queue keeps a probe
            # that arrives behind a flood of connections from waiting for its SYN to be resent
            await super().startup(sockets)
            for listening in sockets or []:
                listening.listen(LISTEN_BACKLOG)

    Server(config).run(sockets=[sock])


def _no_traceback_for_cut_requests(record) -> bool:
    """A request cut off by the shutdown grace is one line, not "Exception in ASGI application"
    with a CancelledError traceback: nothing went wrong but the wait."""
    import asyncio

    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, asyncio.CancelledError):
        record.msg, record.args, record.exc_info = "a request still in progress at shutdown was cut off", (), None
    return True
