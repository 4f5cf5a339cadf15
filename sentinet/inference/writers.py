"""Where ``predict``'s rows go and how they look: csv (default), tsv (no quoting: a tab or
line break inside a value is written as a space) or jsonl, to stdout chunk by chunk or to a
file that appears whole when done."""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentinet.errors import SentinetError
from sentinet.fileio import atomic_open

OUTPUT_FORMATS = ("csv", "tsv", "jsonl", "sentirueval")  # sentirueval: the input XML, filled in
TSV_UNSAFE = re.compile(r"[\t\r\n]")  # what TSV cannot hold inside a value (it has no quoting)
# A cell a spreadsheet would run as a formula (OWASP's CSV injection list), and a number, which
# starts the same way but is data ("-1", "+0.5", "-2e-3").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


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


@dataclass(frozen=True)
class Layout:
    """What a prediction row holds: ``format`` (csv, tsv, jsonl), the text too (``echo``), and
    one probability column per class or, with ``top``, the K most probable classes."""

    format: str = "csv"
    echo: bool = False
    top: int | None = None

    def columns(self, names: Sequence[str]) -> list[str]:
        if self.top is None:
            probabilities = [f"p_{name}" for name in names]
        else:
            probabilities = [c for i in range(1, min(self.top, len(names)) + 1) for c in (f"label_{i}", f"p_{i}")]
        return ["id", "label", *probabilities, *(["text"] if self.echo else [])]

    def row(self, record, label, probs: np.ndarray, values: Sequence) -> list:
        if self.top is None:
            cells = [round(float(x), 6) for x in probs]
        else:
            order = np.argsort(-probs, kind="stable")[: self.top]
            cells = [c for i in order for c in (values[i], round(float(probs[i]), 6))]
        return [record.id, label, *cells, *([record.text] if self.echo else [])]


def write_predictions(predictor, records, out, layout: Layout, batch_size: int, chunk_size: int,
                      keep: list | None = None) -> int:
    """Label ``records`` chunk by chunk, writing and flushing each chunk's rows; ``keep``
    collects each chunk's probabilities (for --summary: a few bytes per record)."""
    classes = predictor.classes
    write_row = row_writer(out, layout.format, layout.columns(classes.names))
    count = 0
    while chunk := list(itertools.islice(records, chunk_size)):
        probs = predictor.predict_proba([r.text for r in chunk], batch_size, progress=False)
        if keep is not None:
            keep.append(probs)
        for r, y, p in zip(chunk, predictor.labels(probs), probs):
            write_row(layout.row(r, y, p, classes.values))
        out.flush()
        count += len(chunk)
    return count


def row_writer(out, output_format: str, columns: list[str]):
    """Write the header (csv, tsv) and return a function writing one row of values."""
    if output_format == "jsonl":
        return lambda values: out.write(json.dumps(dict(zip(columns, values)), ensure_ascii=False) + "\n")
    if output_format == "tsv":  # no quoting in TSV: a tab or line break inside a value is a space
        out.write("\t".join(TSV_UNSAFE.sub(" ", c) for c in columns) + "\n")  # a class name too
        return lambda values: out.write("\t".join(not_formula(TSV_UNSAFE.sub(" ", str(v))) for v in values) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    return lambda values: writer.writerow([not_formula(v) for v in values])


def not_formula(value: object) -> object:
    """``value`` with a ``'`` before it when a spreadsheet opening the file would run it as a
    formula (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3``): a text, id or label is data, and
    Excel and LibreOffice show the quote as the cell's text prefix. Numbers stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(value):
        return "'" + value
    return value
