"""What ``sentinet serve`` allows a client, and how it holds hostile ones off: the
``--read-timeout``/``--max-connections``/``--allow-host`` limits, the Host allow-list
middleware, the connection guard on uvicorn's h11 protocol (slowloris), and a log that says
each kind of trouble once per LOG_EVERY_S instead of a traceback per connection."""

import ipaddress
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass

from sentinet.errors import SentinetError


DEFAULT_READ_TIMEOUT_S = 10.0
DEFAULT_MAX_CONNECTIONS = 256
LOG_EVERY_S = 10.0  # a kind of trouble (timeouts, connections dropped, accept failing) logs once per this
FD_HEADROOM = 48  # files kept free beyond the connections: ~3 accept() bursts not yet closed, the model's
ACCEPT_BURST = 8  # connections accepted per turn of the loop before the guard sees them (asyncio: backlog)
LISTEN_BACKLOG = 2048  # the kernel's queue of connections not yet accepted (uvicorn's default)


@dataclass(frozen=True)
class Limits:
    """What ``serve`` allows a client: ``--read-timeout``, ``--max-connections``, ``--allow-host``."""
    read_timeout: float = DEFAULT_READ_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    allowed_hosts: tuple[str, ...] = ()  # empty: any Host


def serve_limits(read_timeout: str, max_connections: str, allow_hosts: list[str]) -> Limits:
    """The options as given on the command line, checked before anything loads: a bad value is
    one ``error:`` line."""
    try:
        seconds = float(read_timeout)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise SentinetError(f"--read-timeout {shown(read_timeout)}: expected a number of seconds above 0 "
                            f"(default {DEFAULT_READ_TIMEOUT_S:g})")
    text = max_connections.strip()
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise SentinetError(f"--max-connections {shown(max_connections)}: expected a whole number of at "
                            f"least 1 (default {DEFAULT_MAX_CONNECTIONS})")
    return Limits(seconds, int(text), tuple(dict.fromkeys(allowed_host(h) for h in allow_hosts)))


_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


def allowed_host(value: str) -> str:
    """One ``--allow-host``: a host name (``*.example.com`` for its subdomains too), an IPv4
    address or an IPv6 one (with or without brackets), lower-cased; never a port or a URL."""
    name = value.strip().lower().rstrip(".")
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    if ":" in bare:
        try:
            return f"[{ipaddress.IPv6Address(bare).compressed}]"
        except ValueError:
            pass
    if "://" in name or "/" in name:
        problem = "a host name, not a URL (e.g. --allow-host example.com)"
    elif ":" in bare:
        problem = "a host name without the port: the port is not checked (e.g. --allow-host localhost)"
    elif not _HOST_NAME.fullmatch(name) or len(name) > 253:
        problem = "not a host name (letters, digits, '-', '.'; '*.example.com' for its subdomains too)"
    else:
        return name
    raise SentinetError(f"--allow-host {shown(value)}: {problem}")


def host_allowed(header: str, allowed: tuple[str, ...]) -> bool:
    """Whether a Host header (port and a final dot dropped, any case) names one of ``allowed``."""
    host = header.strip().lower()
    if host.startswith("["):  # [v6]:port
        inside, bracket, _ = host[1:].partition("]")
        try:
            host = f"[{ipaddress.IPv6Address(inside).compressed}]" if bracket else ""
        except ValueError:
            return False
    else:
        name, colon, port = host.rpartition(":")
        if colon:
            host = name if (port.isascii() and port.isdigit()) or not port else ""
    host = host.rstrip(".")
    if not host:
        return False
    return any(host == a or (a.startswith("*.") and host.endswith(a[1:])) for a in allowed)


class HostAllowList:
    """ASGI middleware: a request whose Host header is not one of ``allowed`` gets 400 and one
    sentence, before the app sees it. A page on another site that rebinds its own name to
    127.0.0.1 sends its own name as Host; a listed name is the only way in."""

    def __init__(self, app, allowed: tuple[str, ...]):
        self.app, self.allowed = app, allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
            if not hosts or not all(host_allowed(h, self.allowed) for h in hosts):
                shown = json.dumps(hosts[0][:100]) if hosts else "missing"
                body = json.dumps({"error": f"Host {shown} is not one this server answers to "
                                            f"(sentinet serve --allow-host)"}).encode()
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode()),
                                        (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def open_files() -> tuple[int, int]:
    """(files this process has open, its soft open-file limit); 0 for what is unknown."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except ImportError:  # Windows
        soft = 0
    try:
        used = len(os.listdir("/proc/self/fd"))  # Linux; elsewhere the headroom must do
    except OSError:
        used = 0
    return used, soft


def connection_cap(wanted: int) -> tuple[int, str | None]:
    """``wanted`` connections, or as many as the open-file limit leaves room for (after the files
    open now and FD_HEADROOM), with the note that says so. The soft limit is raised towards the
    hard one first where that is needed and allowed, as servers do."""
    try:
        import resource
    except ImportError:
        return wanted, None
    used, _ = open_files()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = used + FD_HEADROOM + wanted
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted, None
    raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if raised > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (OSError, ValueError):
            pass
    room = max(1, soft - used - FD_HEADROOM)
    if room >= wanted:
        return wanted, None
    return room, (f"--max-connections {wanted} lowered to {room}: the open-file limit is {soft} "
                  f"(ulimit -n) and {used} files are open")


class ConnectionGuard:
    """Every connection of one server that waits for a request, in the order they began to.

    A connection waits from its opening, and again from each answer (keep-alive), until a whole
    request (headers and body) has arrived: if that takes over ``read_timeout`` seconds, it is
    closed. A connection over ``max_connections`` closes the one that has waited longest (the
    newcomer itself when every other one is busy with a request): half-sent requests cannot
    hold every slot, and a quick client (a /health probe) always gets in, since nothing but
    being newer protects a connection. (Preferring connections answered before would let an
    attacker who asks one cheap question on each of its connections lock new clients out.) An
    idle kept-alive connection may be closed under such pressure, as any server may close one;
    clients open a new one. uvicorn's h11 protocol has neither limit (its keep-alive timer
    starts only after a first answer, and a byte resets it). What is closed is counted in the
    log, not a line each."""

    def __init__(self, limits: Limits, max_connections: int):
        self.read_timeout = limits.read_timeout
        self.max_connections = max_connections
        self.waiting: dict = {}  # protocol → its deadline (a TimerHandle); the first waited longest
        self.live = 0  # open connections not yet told to close
        self.log = logging.getLogger("uvicorn.error")

    def opened(self, conn) -> None:
        self.live += 1
        self.wait(conn)
        if self.live > self.max_connections:
            self.log.warning("over --max-connections %d: closed the connection that had waited longest "
                             "for its request", self.max_connections)
            self.drop(next(iter(self.waiting)))  # conn itself is waiting: never empty

    def wait(self, conn) -> None:
        """``conn`` now waits for a whole request (again): its deadline starts now."""
        self.cancel(conn)
        conn.sentinet_cycle = conn.cycle  # a request counts once it is a new cycle with its body read
        self.waiting[conn] = conn.loop.call_later(self.read_timeout, self.timed_out, conn)
        self.arrived(conn)  # a pipelined request may be whole already

    def arrived(self, conn) -> None:
        """After bytes came in: a whole request stops the clock (the app may take its time)."""
        cycle = conn.cycle
        if cycle is not None and cycle is not conn.sentinet_cycle and not cycle.more_body:
            self.cancel(conn)

    def cancel(self, conn) -> bool:
        """Stop waiting for ``conn``; whether it was waiting."""
        deadline = self.waiting.pop(conn, None)
        if deadline is None:
            return False
        deadline.cancel()
        return True

    def timed_out(self, conn) -> None:
        self.log.warning("closed a connection that sent no whole request within --read-timeout %g s",
                         self.read_timeout)
        self.drop(conn)

    def drop(self, conn) -> None:
        if self.cancel(conn):
            self.live -= 1
            conn.sentinet_dropped = True
            conn.transport.abort()  # its file is closed on the loop's next turn

    def closed(self, conn) -> None:
        self.cancel(conn)
        if not getattr(conn, "sentinet_dropped", False):
            self.live -= 1

    def out_of_files(self, exc: OSError) -> None:
        """accept() failed for want of files (asyncio waits a second, then tries again): one line
        per LOG_EVERY_S, and the connections that waited longest make room."""
        self.log.warning("cannot accept connections for now: %s (open-file limit %d, %d connections open); "
                         "closing those that waited longest", exc.strerror or exc, open_files()[1], self.live)
        for conn in list(self.waiting)[:2]:  # asyncio tries again, up to ACCEPT_BURST times this turn
            self.drop(conn)


def guarded_protocol(base, guard: ConnectionGuard):
    """uvicorn's HTTP protocol class ``base`` (h11), reporting to ``guard``."""

    class Guarded(base):
        sentinet_cycle = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            guard.opened(self)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            guard.arrived(self)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                guard.wait(self)

        def connection_lost(self, exc) -> None:
            guard.closed(self)
            super().connection_lost(exc)

    return Guarded


class Throttle(logging.Filter):
    """At most one record per message per LOG_EVERY_S (warnings and errors; the access log is
    apart); the next one let through says how many were left out. An attacker can make a
    server fail the same way thousands of times a second, never fill its disk."""

    def __init__(self, every: float = LOG_EVERY_S):
        super().__init__()
        self.every = every
        self.last: dict = {}
        self.skipped: dict = {}

    def filter(self, record) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key, now = (record.name, str(record.msg)), time.monotonic()
        if key in self.last and now - self.last[key] < self.every:
            self.skipped[key] = self.skipped.get(key, 0) + 1
            return False
        self.last[key] = now
        skipped = self.skipped.pop(key, 0)
        if skipped:
            record.msg, record.args = f"{record.getMessage()} ({skipped} more like this not logged)", ()
        return True


def shown(host: str) -> str:
    """A value (a host, an option) as an error line shows it: quoted when it holds a newline or another control
    character, so the error stays one line."""
    return host if host.isprintable() else repr(host)
