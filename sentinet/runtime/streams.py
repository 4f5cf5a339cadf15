"""Standard input and output as sentinet's line-by-line commands use them: input split at
\\n only, a stdout that is closed or unwritable refused in one line, a reader that left
(``| head``) a quiet exit 0, an output file that appears whole when done, and the count of
the lines read (to say what an input without a single text held)."""

from __future__ import annotations

import contextlib
import itertools
import sys
from pathlib import Path

from sentinet.errors import SentinetError
from sentinet.fileio import atomic_open


@contextlib.contextmanager
def input_stream(name: str):
    """The input, UTF-8, split into lines at \\n (and \\r\\n) only, as every reader splits a
    file: a bare CR inside a text is not a record break here either."""
    if name == "-":
        sys.stdin.reconfigure(encoding="utf-8", errors="strict", newline="\n")
        yield sys.stdin
        return
    with open(name, encoding="utf-8", newline="\n") as f:
        yield f


class CountedLines:
    """An input stream's lines, counted as they are read (to say what an input without a
    single text held)."""

    def __init__(self, stream) -> None:
        self.stream, self.count = stream, 0

    def readline(self, size: int = -1) -> str:
        line = self.stream.readline(size)  # the readers read lines no longer than they allow
        self.count += bool(line)
        return line


def not_empty(records, lines: CountedLines, name: str, format: str):
    """``records``, or one line when the input had lines but no text at all (only blank lines,
    or a table's header alone): an empty result would pass for an answer. Blank lines among
    texts are skipped as ever; an input of no lines at all (an empty pipe) stays empty."""
    records = iter(records)
    first = next(records, None)
    if first is None and lines.count:
        header = format in ("tsv", "csv")
        blank = lines.count - header
        held = f"{'the header and ' if header else ''}{blank} blank line{'s' if blank != 1 else ''}"
        raise SentinetError(f"no texts in {name}: {held}; nothing to predict")
    return records if first is None else itertools.chain([first], records)


@contextlib.contextmanager
def reader_may_leave():
    """``predict ... | head``: when standard output's reader has gone, stop and exit 0, like a
    pipe's writer that got what was wanted read (not click's exit 1, nor a traceback)."""
    try:
        yield
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the flush at exit must not fail again
        raise SystemExit(0) from None


@contextlib.contextmanager
def output_stream(output: Path | None):
    """stdout, flushed chunk by chunk; or a file that appears whole (atomic) when done."""
    if output is None:
        yield Stdout()
        return
    with atomic_open(output, "w", named=True) as f:
        yield f


class Stdout:
    """Standard output for rows: closed (``>&-``) or unwritable (opened read-only, a device
    gone) is one line saying to use -o, not a traceback; a reader that left stays
    reader_may_leave's quiet exit."""

    def __init__(self) -> None:
        if sys.stdout is None:  # Python found file descriptor 1 closed at start
            raise _unwritable("it is closed")

    def write(self, text: str) -> int:
        return self._guarded(sys.stdout.write, text)

    def flush(self) -> None:
        self._guarded(sys.stdout.flush)

    @staticmethod
    def _guarded(call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # what is still buffered must not fail at exit
            raise _unwritable(exc.strerror or type(exc).__name__) from None


def _unwritable(why: str) -> SentinetError:
    return SentinetError(f"cannot write predictions to standard output ({why}): give -o FILE, or "
                         "redirect it to a file or pipe")
