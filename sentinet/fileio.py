"""Safe file writes: a crash, Ctrl-C or full disk never leaves a half-written file behind,
no output ever lands on one of the command's own input files, and torch files are read as
data, never as code.

A write goes to a hidden temp file beside its target (``.NAME.XXXXXXXX.tmp``) and is renamed
over it when complete. Only a kill -9 or a power cut can leave such a temp file; readers never
look at them, and ``sentinet train --resume`` removes those in the run directory it continues.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from sentinet.errors import SentinetError

PARTIAL = ".*.tmp"  # the glob of temp files a killed write leaves
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}  # only writing raises these


@contextlib.contextmanager
def atomic_path(path: str | Path, named: bool = False) -> Iterator[Path]:
    """A temp file name beside ``path`` for writers that want a name (gensim, tarfile); on
    success it replaces ``path`` in one rename.

    ``named``: the user typed this path (``-o FILE``), so a symlink there is theirs and is
    written through, and a device or pipe is written in place. Every other file, one that
    sentinet names inside a run directory, study, ensemble or export, is its own: a symlink,
    a hard link, a FIFO or a device at its name is refused (see ``check_own_file``), since a
    run directory may come from anyone and ``--resume`` must never write outside it.

    On any exception the temp file, and any folder made for it, is removed and whatever
    ``path`` held before is kept; a failed write of this file (disk full, quota) becomes a
    one-line error naming ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise SentinetError(f"{path}: is a directory; give a file name")
    if not named:
        check_own_file(path)
    elif writes_through(path):
        try:
            yield path
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        return
    shown = path
    if named and path.is_symlink():  # write through it: the link stays, the file it names is replaced
        path = Path(os.path.realpath(path))
        if not path.parent.is_dir():
            raise SentinetError(f"{shown}: a symlink to {path}, whose folder does not exist")
    made = _make_folders(path.parent)
    tmp = None
    try:
        _remove_dead_partials(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 would hide run files from others
        os.close(fd)
        yield Path(tmp)
        _fsync(tmp)
        if not named:
            check_own_file(path)  # planted while we wrote: the rename would still not follow it
        os.replace(tmp, path)
    except BaseException as exc:
        _remove(tmp)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        ours = exc.errno in WRITE_ERRNOS or exc.filename in (tmp, str(path)) if isinstance(exc, OSError) else False
        if ours:  # not the caller's own error (reading its input, say)
            raise _cannot_write(shown, exc) from None
        raise


def check_own_file(path: Path) -> None:
    """Refuse to write ``path``, a file sentinet names inside a folder it writes (a run
    directory, a study, an ensemble), unless it is absent or a regular file with one name.

    A run directory is passed around ("resume my half-trained run"): a ``metrics.json``
    planted as a symlink to ``~/.bashrc``, or a ``train.log`` hard-linked to it, would make
    sentinet write there. Checked with ``lstat``, so a link is seen, never followed."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    _refuse_odd(path, info)


def _refuse_odd(path: Path, info: os.stat_result) -> None:
    kind = _odd_kind(info)
    if kind is not None:
        raise SentinetError(f"{path}: {kind}, not a file of its own; sentinet never writes through it "
                            "(remove it, or copy the folder with cp -r from a source you trust)")


def _odd_kind(info: os.stat_result) -> str | None:
    """What makes a file unfit to be written in place, in a few words; None for a plain file."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if stat.S_ISREG(mode):
        return f"is a hard link ({info.st_nlink} names for one file)" if info.st_nlink > 1 else None
    return f"is {file_kind(mode)}"


def file_kind(mode: int) -> str:
    """A non-regular file's kind, with its article: "a FIFO", "a directory"..."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


@contextlib.contextmanager
def open_append(path: Path) -> Iterator[IO[str]]:
    """``path`` opened to append text (a run's train.log), created if absent, never through a
    link: ``O_NOFOLLOW`` refuses a symlink at the name, and the open file must be a regular
    file with one name (a hard link to ``~/.bashrc`` would be appended to as well). A FIFO is
    opened without blocking, then refused; one line names the file either way."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):  # a symlink; a FIFO nobody reads; a folder
            check_own_file(path)
        raise _cannot_write(path, exc) from None
    try:
        _refuse_odd(path, os.fstat(fd))
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "a", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


TREE_LIMIT = 100_000  # entries walked under a folder sentinet writes: a run holds tens, a group thousands


def check_own_tree(folder: Path) -> None:
    """Refuse to write into ``folder`` (a run directory to resume, a group, a study) if anything
    under it is a symlink, a hard link, a FIFO, a device or a socket: sentinet writes there
    (train.log, tensorboard/, a member's files), and a planted ``tensorboard -> ~/.ssh`` or
    ``seed-2 -> /etc`` would lead its writes outside. The folder itself may be a link the user
    made; a path that is no folder is left to the caller to report. One line names the first
    such entry."""
    if not os.path.isdir(folder):
        return
    stack, seen = [Path(folder)], 0
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                seen += 1
                if seen > TREE_LIMIT:
                    raise SentinetError(f"{folder}: over {TREE_LIMIT:,} files and folders; not a run directory")
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    stack.append(Path(entry.path))
                elif (kind := _odd_kind(info)) is not None:
                    raise SentinetError(f"{entry.path}: {kind}; sentinet writes into {folder} only where it holds "
                                        "plain files and folders of its own (remove it, or copy the folder with "
                                        "cp -r from a source you trust)")


RUN_FILE_LIMIT = 256 * 1024 ** 2  # the largest run file read whole: dev_predictions.json is ~50 MB at its limit


def read_own_bytes(path: Path, limit: int = RUN_FILE_LIMIT) -> bytes:
    """A file of a run directory (or archive, or study) read whole: it must be a regular file
    (a FIFO would block, ``/dev/zero`` never ends) of at most ``limit`` bytes. Symlinks are
    followed, as a user's copy of a run may use them; what they lead to is checked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SentinetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # before fdopen: a folder would raise IsADirectoryError there
        os.close(fd)
        raise SentinetError(f"{path}: is {file_kind(info.st_mode)}, not a file sentinet reads")
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise SentinetError(f"{path}: over {limit:,} bytes, too large for this file; is it the right one?")
    return data


def check_regular_file(path: Path) -> None:
    """Refuse ``path`` if it exists (through any links) and is no regular file: a FIFO would
    block its reader, ``/dev/zero`` would never end. An absent path is the caller's to report."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        raise SentinetError(f"{path}: is {file_kind(mode)}, not a file sentinet reads")


def read_own_text(path: Path, limit: int = RUN_FILE_LIMIT) -> str:
    """``read_own_bytes`` as UTF-8; invalid UTF-8 is one line naming the file and the byte."""
    try:
        return read_own_bytes(path, limit).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SentinetError(f"{path}: not valid UTF-8 (byte {exc.start})") from None


STREAM_ROOTS = ("/dev/", "/proc/")


def writes_through(path: Path) -> bool:
    """Whether ``path`` is written in place rather than replaced: a device, FIFO or socket
    (``/dev/null``, a named pipe) must stay what it is, and a path that is or passes through
    /dev or /proc (``/dev/stdout`` → ``/proc/self/fd/1``) is a stream whatever it points at,
    so ``-o /dev/stdout >> log`` appends to the log instead of replacing it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) or any(hop.startswith(STREAM_ROOTS) for hop in _link_hops(path))


def _link_hops(path: Path, limit: int = 40) -> list[str]:
    """``path`` and every path its symlinks lead through, each made absolute."""
    hops, current = [], os.path.abspath(path)
    for _ in range(limit):
        hops.append(current)
        if not os.path.islink(current):
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return hops


def _cannot_write(path: Path, exc: OSError) -> SentinetError:
    return SentinetError(f"{path}: cannot write ({exc.strerror or exc})")


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", named: bool = False) -> Iterator[IO]:
    """``open`` on a temp file beside ``path`` that replaces ``path`` when the block ends
    without an exception (see ``atomic_path``, and what ``named`` allows); a device or pipe a
    user named is written in place, in append mode (nothing to replace, and a redirected
    stdout keeps what it held)."""
    with atomic_path(path, named) as tmp:
        if tmp == Path(path):  # atomic_path hands back the path itself only to write through
            mode = mode.replace("w", "a")
        encoding = None if "b" in mode else "utf-8"
        with open(tmp, mode, encoding=encoding, newline=None if "b" in mode else "") as f:
            yield f


def atomic_write_text(path: str | Path, text: str, named: bool = False) -> None:
    with atomic_open(path, "w", named) as f:
        f.write(text)


def check_output(output: Path, inputs: Iterable[Path | int]) -> bool:
    """Refuse an output that is a folder or one of the command's inputs under any name
    (another spelling, a symlink, a hard link; an int is an open file descriptor, e.g. 0 for
    stdin). Returns whether an existing file will be replaced, for the command to say so."""
    if output.is_dir():
        raise SentinetError(f"{output}: is a directory; give the output file's name")
    for source in inputs:
        if same_file(output, source):
            what = ("standard input" if source == 0 else "the input" if Path(source) == output
                    else f"the input {source} (the same file)")
            raise SentinetError(f"{output}: the output would overwrite {what}; choose another file")
    return output.exists() and not writes_through(output)


def same_file(a: Path | int, b: Path | int) -> bool:
    """Whether two paths (or open file descriptors) are one file: the same path once ``..``
    is resolved (``new/../x`` is x even before new/ exists), or the same device and inode,
    as ``os.path.samefile`` compares them."""
    if not isinstance(a, int) and not isinstance(b, int) and os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samestat(*(os.fstat(x) if isinstance(x, int) else os.stat(x) for x in (a, b)))
    except (OSError, ValueError):
        return False


def replaced_note(replaced: bool) -> str:
    """The suffix of a command's "wrote ..." line when it replaced an existing file."""
    return " (replaced the existing file)" if replaced else ""


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through :func:`atomic_open`. torch reports a failed write (disk full)
    as a bare "unexpected pos" RuntimeError; the OSError behind it is kept and raised instead,
    so the message names the file and the cause."""
    import torch

    with atomic_open(path, "wb") as f:
        writer = _KeepsWriteError(f)
        try:
            torch.save(obj, writer)
        except RuntimeError:
            if writer.error is None:
                raise
            raise writer.error from None


class _KeepsWriteError:
    """A binary file that remembers the OSError of a failed write (torch swallows it)."""

    def __init__(self, f: IO[bytes]):
        self.f, self.error = f, None

    def write(self, data) -> int:
        try:
            return self.f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.f.flush()


def load_torch(path: Path, what: str) -> object:
    """``torch.load`` with ``weights_only``: tensors and plain containers are rebuilt and
    anything else refused, so a planted object never runs; any failure is one line."""
    import torch

    check_regular_file(path)  # a FIFO would block the load, /dev/zero would never end
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


def remove_partials(folder: Path) -> list[Path]:
    """Delete the temp files that killed writes left in ``folder``; returns what went."""
    gone = [p for p in folder.glob(PARTIAL) if p.is_file()]
    for p in gone:
        _remove(p)
    return gone


def _remove_dead_partials(path: Path) -> None:
    """Remove the temp files of ``path`` that a killed writer left (``kill -9`` mid-export):
    their name holds the writer's pid, so only those of processes that are gone are touched."""
    prefix = f".{path.name}."
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if entry.name.startswith(prefix) and dead_partial(entry):
                _remove(entry.path)


def dead_partial(entry: os.DirEntry) -> bool:
    """Whether ``entry`` is a temp file of this module's (``.NAME.PID.XXXXXXXX.tmp``) whose
    writer process is gone: only a regular file, only a dead pid."""
    if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
        return False
    parts = entry.name.removesuffix(".tmp").rsplit(".", 2)
    return (len(parts) == 3 and len(parts[0]) > 1 and parts[1].isdigit() and parts[2] != ""
            and entry.is_file(follow_symlinks=False) and not pid_alive(int(parts[1])))


def private_dir(kind: str) -> tempfile.TemporaryDirectory:
    """A temp folder only this user can read (mode 700), named ``sentinet-KIND-PID-…``; first
    removes such folders of this user whose process is gone, which ``kill -9`` mid-unpack or
    mid-export left behind (nothing else could ever clean them)."""
    root = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            parts = entry.name.split("-")
            if (len(parts) >= 4 and parts[0] == "sentinet" and parts[2].isdigit()
                    and not pid_alive(int(parts[2])) and entry.is_dir(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_uid == os.getuid()):
                shutil.rmtree(entry.path, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=f"sentinet-{kind}-{os.getpid()}-")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and runs: one of another user's counts (it is not ours to
    judge), a zombie does not (it runs nothing)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return pid > 0 and f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return pid > 0


def _remove(path: str | Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def current_umask() -> int:
    """The process umask (os has no getter before Python 3.13: set it and put it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; returns those created, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
