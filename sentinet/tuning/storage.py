"""Where a study lives: Optuna's database storage opened from a SQLAlchemy URL (SQLite by
default, PostgreSQL or MySQL for several machines), with a connect timeout, a password that is
never printed, and a connect that SIGTERM and Ctrl-C can stop."""

from __future__ import annotations

import importlib.util
import os
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import optuna
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from sentinet.errors import SentinetError, install_hint
from sentinet.runtime.signals import block_interrupts_in_this_thread

T = TypeVar("T")


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's database storage. SQLite waits up to a minute for a lock held by another
    worker; a first connection racing another one to create the tables is retried, but an
    attempt that used up the connect timeout (a server that never answers) is not. A
    network database is opened on a helper thread, so SIGTERM and Ctrl-C stop the command
    at once instead of after the driver's timeout."""
    parsed = parse_storage_url(url)
    shown = shown_url(url)
    parsed = _with_postgres_driver(parsed, shown)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    timeout = connect_timeout()
    kwargs = {"connect_args": {"timeout": 60}} if sqlite else _timeout_kwargs(parsed, timeout)
    make = partial(optuna.storages.RDBStorage, parsed.render_as_string(hide_password=False),
                   engine_kwargs=kwargs)
    for attempt in range(4):
        started = time.monotonic()
        try:
            return make() if sqlite else _interruptible(make)
        except ImportError:
            raise SentinetError(f"--storage {shown}: the {parsed.get_driver_name()} database "
                                "driver is not installed") from None
        except SQLAlchemyError as exc:
            error = exc
            if attempt == 3 or time.monotonic() - started >= timeout:
                break
            time.sleep(0.3 * (attempt + 1))
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    raise SentinetError(f"--storage {shown}: cannot open the study database ({_unsecret(reason, parsed)})")


def parse_storage_url(url: str) -> URL:
    """``url`` parsed; a malformed one (``postgresql://u:pw@[::1``) is one line that shows
    it without its password."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        why = "its port is not a number" if isinstance(exc, ValueError) else "not a database URL"
        raise SentinetError(f"--storage {_masked(url)!r}: {why} (e.g. sqlite:///study.db or "
                            "postgresql://user:password@host:5432/db)") from None


# A password may also come as a query parameter (libpq reads ``?password=``).
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def shown_url(url: str) -> str:
    """The URL as it may be printed: without its password (in the userinfo or the query)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        shown = _masked(url)
    else:  # as typed unless there is a password to hide (rendering percent-encodes ':memory:')
        shown = parsed.render_as_string(hide_password=True) if parsed.password else url
    return _QUERY_PASSWORD.sub(r"\1***", shown)


def _masked(url: str) -> str:
    """A URL too malformed to parse, its password (between ``user:`` and the last ``@``, as
    SQLAlchemy reads one; with or without ``scheme://``) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def _unsecret(text: str, url: URL) -> str:
    """``text`` (a driver's message) with the URL's passwords masked, should it quote them."""
    query = [v for k, values in url.query.items() if k.lower() == "password"
             for v in ((values,) if isinstance(values, str) else values)]
    for secret in filter(None, [url.password, *query]):
        text = text.replace(str(secret), "***")
    return text


CONNECT_TIMEOUT_VARIABLE = "SENTINET_DB_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 30  # seconds
TIMEOUT_ARGUMENT = {"psycopg2": "connect_timeout", "psycopg": "connect_timeout",
                    "pymysql": "connect_timeout", "mysqldb": "connect_timeout"}  # driver → its keyword


def connect_timeout() -> int:
    """How long connecting to a database server may take: $SENTINET_DB_TIMEOUT seconds (30)."""
    raw = os.environ.get(CONNECT_TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_CONNECT_TIMEOUT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 3600:
        raise SentinetError(f"${CONNECT_TIMEOUT_VARIABLE}: {raw[:40]!r} is not a whole number of "
                            "seconds from 1 to 3600")
    return int(raw)


def _timeout_kwargs(url: URL, timeout: int) -> dict[str, Any]:
    """SQLAlchemy engine arguments giving the driver a connect timeout (none of them has one
    by default: a server that accepts and never answers would hold the command forever);
    a timeout given in the URL itself (``?connect_timeout=5``) wins."""
    argument = TIMEOUT_ARGUMENT.get(url.get_driver_name())
    if argument is None or argument in url.query:
        return {}
    return {"connect_args": {argument: timeout}}


def _interruptible(make: Callable[[], T]) -> T:
    """``make()`` on a helper thread, waited for here. A driver blocked in C (libpq's connect)
    runs no Python signal handler until it returns; the waiting main thread takes SIGTERM
    and Ctrl-C at once, and the abandoned helper thread ends with the process."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        block_interrupts_in_this_thread()  # they go to the waiting main thread
        try:
            outcome["value"] = make()
        except BaseException as exc:  # noqa: BLE001 (re-raised in the waiting thread)
            outcome["error"] = exc

    helper = threading.Thread(target=target, name="sentinet-storage", daemon=True)
    helper.start()
    while helper.is_alive():
        helper.join(0.2)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _with_postgres_driver(url: URL, shown: str) -> URL:
    """A bare postgresql:// URL gets whichever driver is installed — psycopg2 (the postgres
    extra) or psycopg 3 — as SQLAlchemy's default differs between versions."""
    if url.drivername != "postgresql":
        return url
    for module in ("psycopg2", "psycopg"):
        if importlib.util.find_spec(module):
            return url.set(drivername=f"postgresql+{module}")
    raise SentinetError(f"--storage {shown}: PostgreSQL needs a driver: {install_hint('postgres')}")
