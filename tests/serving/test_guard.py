"""sentinet.serving.guard without a server: the serve options checked, the Host allow-list
middleware driven by hand, the connection guard over fake connections and a fake event loop,
and the open-file cap (tests/stories/test_serve_hostile.py covers host matching, the Throttle
and all of it against a live server)."""

from __future__ import annotations

import asyncio
import json
import logging
import resource

import pytest

from sentinet.errors import SentinetError
from sentinet.serving import guard
from sentinet.serving.guard import ConnectionGuard, HostAllowList, Limits, allowed_host, serve_limits, shown

# --------------------------------------------------------------------------------------
# The options


def test_serve_limits_defaults_and_values():
    assert serve_limits("10", "256", []) == Limits() == Limits(10.0, 256, ())
    limits = serve_limits("0.5", " 12 ", ["A.example.com", "a.example.com.", "::1", "[0:0::1]"])
    assert limits == Limits(0.5, 12, ("a.example.com", "[::1]"))  # normalised, each once, in order


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "-inf", ""])
def test_a_bad_read_timeout_is_one_line(value):
    with pytest.raises(SentinetError) as caught:
        serve_limits(value, "256", [])
    assert str(caught.value) == f"--read-timeout {value}: expected a number of seconds above 0 (default 10)"


@pytest.mark.parametrize("value", ["0", "-1", "+5", "1.5", "1e3", "1234567890", "٣", "", "many"])
def test_a_bad_max_connections_is_one_line(value):
    with pytest.raises(SentinetError) as caught:
        serve_limits("10", value, [])
    assert str(caught.value) == f"--max-connections {value}: expected a whole number of at least 1 (default 256)"


@pytest.mark.parametrize("value, allowed", [
    ("Example.COM.", "example.com"), (" host ", "host"), ("under_score.local", "under_score.local"),
    ("*.EXAMPLE.com", "*.example.com"), ("10.0.0.1", "10.0.0.1"), ("[0:0::1]", "[::1]"), ("::1", "[::1]"),
    ("a" * 253, "a" * 253),
])
def test_allowed_host_normalises(value, allowed):
    assert allowed_host(value) == allowed


@pytest.mark.parametrize("value", ["*", "*.", "a..b", "-a.com", "a-.com", "évil.com", "", "a" * 254, "*.*.x"])
def test_allowed_host_refuses_what_is_no_host_name(value):
    with pytest.raises(SentinetError) as caught:
        allowed_host(value)
    assert str(caught.value) == (f"--allow-host {value}: not a host name (letters, digits, '-', '.'; "
                                 "'*.example.com' for its subdomains too)")


def test_allowed_host_refuses_a_port_or_url_saying_which():
    with pytest.raises(SentinetError, match=r"^--allow-host \[::1\]:80: a host name without the port"):
        allowed_host("[::1]:80")
    with pytest.raises(SentinetError, match=r"^--allow-host ftp://x: a host name, not a URL"):
        allowed_host("ftp://x")
    with pytest.raises(SentinetError, match=r"^--allow-host 'evil\\x1b\[2J': not a host name"):
        allowed_host("evil\x1b[2J")  # shown quoted: the error stays one line, nothing acts on a terminal


def test_shown_quotes_only_what_is_unprintable():
    assert shown("example.com") == "example.com"
    assert shown("a\nb") == "'a\\nb'"


# --------------------------------------------------------------------------------------
# The Host allow-list middleware


def call(app, scope) -> list[dict]:
    """Run an ASGI app on ``scope``: the messages it sent."""
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


@pytest.fixture
def seen() -> list[dict]:
    return []


@pytest.fixture
def middleware(seen):
    async def app(scope, receive, send):
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    return HostAllowList(app, ("example.com", "*.api.example.com"))


def http(*hosts: bytes) -> dict:
    return {"type": "http", "headers": [(b"accept", b"*/*"), *((b"host", h) for h in hosts)]}


def test_a_listed_host_reaches_the_app(middleware, seen):
    for host in (b"example.com", b"EXAMPLE.com:8000", b"a.api.example.com"):
        sent = call(middleware, http(host))
        assert sent[0]["status"] == 200
    assert len(seen) == 3


@pytest.mark.parametrize("hosts, quoted", [
    ((b"evil.com",), '"evil.com"'), ((), "missing"), ((b"example.com", b"evil.com"), '"example.com"'),
    ((b"x" * 300,), json.dumps("x" * 100)),
])
def test_another_host_gets_400_and_one_sentence(middleware, seen, hosts, quoted):
    sent = call(middleware, http(*hosts))
    assert seen == []
    start, body = sent
    assert start["status"] == 400
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"application/json" and headers[b"connection"] == b"close"
    assert int(headers[b"content-length"]) == len(body["body"])
    assert json.loads(body["body"]) == {
        "error": f"Host {quoted} is not one this server answers to (sentinet serve --allow-host)"}


def test_other_scopes_pass_untouched(middleware, seen):
    call(middleware, {"type": "lifespan"})
    assert seen == [{"type": "lifespan"}]


# --------------------------------------------------------------------------------------
# The connection guard, over fake connections on a fake loop


class Deadline:
    def __init__(self, delay, callback, conn):
        self.delay, self.callback, self.conn, self.cancelled = delay, callback, conn, False

    def cancel(self):
        self.cancelled = True

    def fire(self):
        assert not self.cancelled
        self.callback(self.conn)


class Loop:
    def __init__(self):
        self.deadlines: list[Deadline] = []

    def call_later(self, delay, callback, conn):
        self.deadlines.append(Deadline(delay, callback, conn))
        return self.deadlines[-1]


class Transport:
    def __init__(self):
        self.aborted = False

    def abort(self):
        self.aborted = True

    def is_closing(self):
        return self.aborted


class Cycle:
    def __init__(self, more_body: bool):
        self.more_body = more_body


class Conn:
    def __init__(self, loop: Loop, name: str):
        self.loop, self.name, self.transport, self.cycle = loop, name, Transport(), None

    def __repr__(self):
        return self.name

    def request(self, more_body: bool = False):
        """Bytes came in: a request has begun (more_body) or is whole."""
        self.cycle = Cycle(more_body)


@pytest.fixture
def loop() -> Loop:
    return Loop()


def test_a_connection_waits_for_a_whole_request_within_the_read_timeout(loop):
    watch = ConnectionGuard(Limits(read_timeout=3.0), max_connections=10)
    conn = Conn(loop, "a")
    watch.opened(conn)
    assert watch.live == 1 and list(watch.waiting) == [conn] and loop.deadlines[0].delay == 3.0
    conn.request(more_body=True)  # headers in, the body still coming: still waiting
    watch.arrived(conn)
    assert conn in watch.waiting
    conn.cycle.more_body = False
    watch.arrived(conn)
    assert conn not in watch.waiting and loop.deadlines[0].cancelled  # whole: the app may take its time


def test_keep_alive_waits_again_and_the_answered_request_does_not_count(loop):
    watch = ConnectionGuard(Limits(read_timeout=3.0), max_connections=10)
    conn = Conn(loop, "a")
    watch.opened(conn)
    conn.request()
    watch.arrived(conn)
    watch.wait(conn)  # answered; kept alive: the same, finished cycle is no new request
    assert conn in watch.waiting and len(loop.deadlines) == 2
    conn.request()
    watch.arrived(conn)
    assert conn not in watch.waiting


def test_a_slow_client_is_closed_at_its_deadline(loop, caplog):
    watch = ConnectionGuard(Limits(read_timeout=2.5), max_connections=10)
    slow = Conn(loop, "slow")
    watch.opened(slow)
    with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
        loop.deadlines[0].fire()
    assert slow.transport.aborted and slow.sentinet_dropped and watch.live == 0
    assert caplog.messages == ["closed a connection that sent no whole request within --read-timeout 2.5 s"]
    watch.closed(slow)  # the loop reports its end later: it is not counted twice
    assert watch.live == 0


def test_over_the_limit_the_connection_that_waited_longest_is_closed(loop, caplog):
    watch = ConnectionGuard(Limits(), max_connections=2)
    a, b, c = (Conn(loop, n) for n in "abc")
    watch.opened(a)
    watch.opened(b)
    with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
        watch.opened(c)
    assert a.transport.aborted and not b.transport.aborted and not c.transport.aborted
    assert list(watch.waiting) == [b, c] and watch.live == 2
    assert caplog.messages == ["over --max-connections 2: closed the connection that had waited longest for its request"]


def test_connections_busy_with_a_request_are_kept_and_the_newcomer_goes(loop):
    watch = ConnectionGuard(Limits(), max_connections=2)
    a, b, c = (Conn(loop, n) for n in "abc")
    for conn in (a, b):
        watch.opened(conn)
        conn.request()
        watch.arrived(conn)
    watch.opened(c)
    assert c.transport.aborted and not a.transport.aborted and not b.transport.aborted
    assert watch.live == 2 and watch.waiting == {}


def test_a_closed_connection_frees_its_slot(loop):
    watch = ConnectionGuard(Limits(), max_connections=5)
    a = Conn(loop, "a")
    watch.opened(a)
    watch.closed(a)
    assert watch.live == 0 and watch.waiting == {} and loop.deadlines[0].cancelled
    assert watch.cancel(a) is False


def test_out_of_files_closes_the_two_that_waited_longest(loop, caplog, monkeypatch):
    monkeypatch.setattr(guard, "open_files", lambda: (90, 100))
    watch = ConnectionGuard(Limits(), max_connections=50)
    conns = [Conn(loop, n) for n in "abcd"]
    for conn in conns:
        watch.opened(conn)
    with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
        watch.out_of_files(OSError(24, "Too many open files"))
    assert [c.transport.aborted for c in conns] == [True, True, False, False] and watch.live == 2
    assert caplog.messages == ["cannot accept connections for now: Too many open files (open-file limit 100, "
                               "4 connections open); closing those that waited longest"]


def test_the_guarded_protocol_reports_each_event(loop):
    events = []

    class Base:
        def __init__(self):
            self.loop, self.transport, self.cycle = loop, Transport(), None

        def connection_made(self, transport):
            events.append("made")

        def data_received(self, data):
            events.append("data")
            self.cycle = Cycle(more_body=False)

        def on_response_complete(self):
            events.append("answered")

        def connection_lost(self, exc):
            events.append("lost")

    watch = ConnectionGuard(Limits(), max_connections=5)
    protocol = guard.guarded_protocol(Base, watch)()
    protocol.connection_made(protocol.transport)
    assert watch.live == 1 and protocol in watch.waiting
    protocol.data_received(b"GET / HTTP/1.1\r\n\r\n")
    assert protocol not in watch.waiting
    protocol.on_response_complete()
    assert protocol in watch.waiting  # kept alive: waiting for the next request
    protocol.connection_lost(None)
    assert watch.live == 0 and watch.waiting == {}
    assert events == ["made", "data", "answered", "lost"]
    closing = guard.guarded_protocol(Base, watch)()
    closing.connection_made(closing.transport)
    closing.data_received(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    closing.transport.abort()
    closing.on_response_complete()
    assert closing not in watch.waiting  # a closing connection waits for nothing more


# --------------------------------------------------------------------------------------
# The open-file cap


def fake_limits(monkeypatch, soft: int, hard: int, used: int, settable: bool = True) -> list:
    calls = []

    def setrlimit(which, limits):
        if not settable:
            raise ValueError("not allowed")
        calls.append(limits)

    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, hard))
    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    monkeypatch.setattr(guard, "open_files", lambda: (used, soft))
    return calls


def test_enough_files_leave_the_connections_as_asked(monkeypatch):
    calls = fake_limits(monkeypatch, soft=1024, hard=4096, used=10)
    assert guard.connection_cap(256) == (256, None)  # 10 + 48 + 256 fit in 1024
    assert calls == []


def test_the_soft_limit_is_raised_towards_the_hard_one(monkeypatch):
    calls = fake_limits(monkeypatch, soft=100, hard=4096, used=10)
    assert guard.connection_cap(256) == (256, None)
    assert calls == [(10 + guard.FD_HEADROOM + 256, 4096)]


def test_without_room_the_connections_are_lowered_with_a_note(monkeypatch):
    fake_limits(monkeypatch, soft=100, hard=100, used=10)
    assert guard.connection_cap(256) == (42, "--max-connections 256 lowered to 42: the open-file limit is 100 "
                                               "(ulimit -n) and 10 files are open")
    fake_limits(monkeypatch, soft=100, hard=4096, used=10, settable=False)  # raising refused
    assert guard.connection_cap(256)[0] == 42
    fake_limits(monkeypatch, soft=50, hard=50, used=40)
    assert guard.connection_cap(256)[0] == 1  # never none at all


def test_open_files_counts_this_process():
    used, soft = guard.open_files()
    assert soft == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    with open(__file__, encoding="utf-8"):
        assert guard.open_files()[0] == used + 1


# --------------------------------------------------------------------------------------
# The throttle keys on logger and message


def test_the_throttle_holds_back_each_message_of_each_logger_apart():
    throttle = guard.Throttle(every=3600)

    def record(name: str, msg: str, level: int = logging.WARNING) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, msg, None, None)

    assert throttle.filter(record("uvicorn.error", "a"))
    assert throttle.filter(record("uvicorn.error", "b"))  # another message
    assert throttle.filter(record("other", "a"))  # another logger
    assert not throttle.filter(record("uvicorn.error", "a"))
    assert throttle.filter(record("uvicorn.error", "a", logging.INFO))  # below warnings: never held
    assert throttle.skipped == {("uvicorn.error", "a"): 1}


def test_a_host_header_whose_port_is_no_ascii_number_is_refused():
    from sentinet.serving.guard import host_allowed

    assert host_allowed("example.com:8000", ("example.com",))
    assert not host_allowed("example.com:²", ("example.com",))  # '²'.isdigit(), yet no port
