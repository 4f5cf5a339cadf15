"""Atomic file writes: a crash or Ctrl-C never leaves a half-written file behind.

A write goes to a hidden temp file beside its target (``.NAME.XXXXXXXX.tmp``) and is renamed
over it when complete. Only a kill -9 or a power cut can leave such a temp file; readers never
look at them, and ``sentinet train --resume`` removes those in the run directory it continues.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sentinet.errors import SentinetError

PARTIAL = ".*.tmp"  # the glob of temp files a killed write leaves
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}  # only writing raises these


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temp file beside ``path``; on success it replaces ``path`` in one rename.

    On any exception the temp file is removed and whatever ``path`` held before is kept. A
    failed write (disk full, no permission) is a one-line error naming ``path``, not the temp file.
    """
    path = Path(path)
    if path.is_dir():
        raise SentinetError(f"{path}: is a directory; give a file name")
    tmp, writing = None, False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 would hide run files from others
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if "b" in mode else "") as f:
            writing = True
            yield f
            writing = False
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        if writing and exc.errno not in WRITE_ERRNOS:
            raise  # the caller's own error (reading its input, say), not this write's
        raise SentinetError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_torch_save(obj: Any, path: str | Path,
                      after_first_write: Callable[[], None] | None = None) -> None:
    """``torch.save`` through :func:`atomic_open`. torch reports a failed write (disk full)
    as a bare "unexpected pos" RuntimeError; the OSError behind it is kept and raised instead,
    so the message names the file and the cause. ``after_first_write`` is a test hook: it runs
    once the temp file holds part of the data (see sentinet.faults)."""
    import torch

    with atomic_open(path, "wb") as f:
        writer = _KeepsWriteError(f, after_first_write)
        try:
            torch.save(obj, writer)
        except RuntimeError:
            if writer.error is None:
                raise
            raise writer.error from None


class _KeepsWriteError:
    """A binary file that remembers the OSError of a failed write (torch swallows it)."""

    def __init__(self, f: IO[bytes], after_first_write: Callable[[], None] | None):
        self.f, self.after_first_write, self.error = f, after_first_write, None

    def write(self, data) -> int:
        try:
            n = self.f.write(data)
        except OSError as exc:
            self.error = exc
            raise
        if self.after_first_write is not None:
            hook, self.after_first_write = self.after_first_write, None
            self.f.flush()
            hook()
        return n

    def flush(self) -> None:
        self.f.flush()


def remove_partials(folder: Path) -> list[Path]:
    """Delete the temp files that killed writes left in ``folder``; returns what went."""
    gone = [p for p in folder.glob(PARTIAL) if p.is_file()]
    for p in gone:
        _remove(p)
    return gone


def _remove(path: str | Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def current_umask() -> int:
    """The process umask (os has no getter before Python 3.13: set it and put it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
