"""One file over HTTP(S), safely: into ``NAME.part`` beside the target, resumed with an HTTP
Range request after a dropped connection, retried with backoff, and renamed over the target
only once its bytes match an accepted digest. A mismatch keeps nothing."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from sentinet.downloads.catalog import Digest, KnownFile
from sentinet.downloads.digests import keep_verified
from sentinet.errors import SentinetError

CHUNK = 1 << 16
# What a retry may cure: the network, a timeout, a dropped connection, an overloaded server.
TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout)
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Retry:
    """How hard to try: ``tries`` attempts, waiting ``backoff`` × 2^k seconds between them."""

    tries: int = 4
    backoff: float = 1.0
    timeout: float = 30.0  # seconds without a byte before an attempt counts as failed


class Refused(Exception):
    """The server answered, and no retry will change its answer (404, 403, too large)."""


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host, else a one-line error."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SentinetError(f"{url}: not an http(s) URL (a mirror is a web folder holding the same file names)")
    return url


def download(url: str, target: Path, file: KnownFile, retry: Retry = Retry(), progress: bool | None = None,
             offline_hint: str = "") -> Digest:
    """Fetch ``url`` to ``target``; returns the digest its bytes matched. ``progress``: a bar on
    stderr (None: only on a terminal). Every failure is one SentinetError naming the URL."""
    check_url(url)
    made = _make_folders(target.parent)
    part = target.with_name(target.name + ".part")
    try:
        _attempts(url, part, file, retry, progress, offline_hint)
        return _keep_if_verified(url, part, target, file)
    finally:
        if not part.exists():  # nothing to resume: the folders made for it go too
            for folder in made:
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _attempts(url: str, part: Path, file: KnownFile, retry: Retry, progress: bool | None, hint: str) -> None:
    reason = ""
    for attempt in range(retry.tries):
        if attempt:
            time.sleep(retry.backoff * 2 ** (attempt - 1))
        try:
            return _fetch(url, part, file, retry.timeout, progress)
        except Refused as exc:
            raise SentinetError(f"cannot download {url}: {exc}{hint}") from None
        except TRANSIENT as exc:
            reason = _reason(exc)
    raise SentinetError(f"cannot download {url}: {reason} (tried {retry.tries} times){hint}")


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; returns those made, deepest first."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _fetch(url: str, part: Path, file: KnownFile, timeout: float, progress: bool | None) -> None:
    """One attempt: continue ``part`` from its length when the server takes a Range request."""
    offset = part.stat().st_size if part.is_file() else 0
    if file.size is not None and offset > file.size:
        part.unlink()
        offset = 0
    headers = {"User-Agent": "sentinet", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing after the bytes we have: the file is complete
            return
        if exc.code in RETRY_STATUS:
            raise
        raise Refused(f"HTTP {exc.code} {exc.reason}") from None
    with response:
        if offset and not _continues(response, offset):
            offset = 0  # the server sent the whole file: start again
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else file.size
        if file.size is not None and total is not None and total > file.size:
            raise Refused(f"the server sends {total:,} bytes; {file.name} has {file.size:,}")
        with part.open("ab" if offset else "wb") as out, tqdm(
                total=total, initial=offset, desc=file.name, unit="B", unit_scale=True, unit_divisor=1024,
                leave=False, dynamic_ncols=True, disable=None if progress is None else not progress) as bar:
            received = 0
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if length and length.isdigit() and received < int(length):  # read() returns b"" on a drop
            raise http.client.IncompleteRead(b"", int(length) - received)


def _continues(response, offset: int) -> bool:
    """Whether a response to a Range request is the rest of the file from ``offset``."""
    if response.status != 206:
        return False
    content_range = response.headers.get("Content-Range", "")  # "bytes 100-999/1000"
    return content_range.startswith(f"bytes {offset}-")


def _keep_if_verified(url: str, part: Path, target: Path, file: KnownFile) -> Digest:
    """Rename ``part`` over ``target`` if its bytes match; else remove it and say so."""
    return keep_verified(part, target, file.digests, f"{url}: the file downloaded is not {file.name} (its "
                         "{found} match none of the checksums data/README.md lists); it was not kept")


def _reason(exc: BaseException) -> str:
    """A short phrase for a failed attempt: 'connection refused', 'timed out', 'HTTP 503 …'."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection closed before the file ended"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[0].lower() + text[1:] if text else type(exc).__name__
