"""Atomic file writes (a crash, Ctrl-C or full disk never leaves a half-written file behind)
and torch files read as data, never as code."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sentinet.errors import SentinetError


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temp file beside ``path``; on success it replaces ``path`` in one rename.

    On any exception the temp file is removed and whatever ``path`` held before is kept; a
    failed write of this file (disk full, quota) becomes a one-line error naming ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 would hide run files from others
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if "b" in mode else "") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp, str(path)):  # not another file's
            raise SentinetError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_torch_save(obj: object, path: str | Path) -> None:
    """``torch.save`` through memory: writing the finished bytes makes a full disk an OSError
    (ENOSPC) that names the file, where torch's own writer reports 'unexpected pos'."""
    import torch  # late: fileio is imported by modules that need no torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_open(path, "wb") as f:
        f.write(buffer.getbuffer())


def load_torch(path: Path, what: str) -> object:
    """``torch.load`` with ``weights_only``: tensors and plain containers are rebuilt and
    anything else refused, so a planted object never runs; any failure is one line."""
    import torch

    try:
        with warnings.catch_warnings():  # garbage can look like an unusual pickle protocol
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, UnicodeDecodeError...
        raise SentinetError(f"{path}: not a sentinet {what}: {_load_failure(exc)}") from None


def _load_failure(exc: Exception) -> str:
    """Why torch.load failed, in a few words (torch's own text advises loading unsafely)."""
    text = str(exc)
    detail = text.partition("WeightsUnpickler error:")[2].strip() or text.strip()
    first = detail.splitlines()[0][:120] if detail else ""
    if first.startswith("Unsupported global"):  # "Unsupported global: GLOBAL x was not an allowed..."
        refused = first.split(" was not")[0]
        return f"it holds objects other than tensors, which sentinet never unpickles ({refused})"
    return f"not a torch file, or a damaged one ({type(exc).__name__}{': ' + first if first else ''})"


def current_umask() -> int:
    """The process umask (os has no getter before Python 3.13: set it and put it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
