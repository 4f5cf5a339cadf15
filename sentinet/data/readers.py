"""Read tweets from SentiRuEval XML, TSV/CSV, JSON Lines or plain text into ``Record``s.

Every format ends up as the same list of records, so the rest of sentinet never cares where
the tweets came from. SentiRuEval labels are per company (a tweet can mention several); the
other formats store their label under the key ``"label"``: one value, or a tuple of them where
a text carries several (a JSON list, several ``__label__`` in a fastText line, a TSV/CSV cell
split at ``data.label_separator``) — sentinet.labels.shape_labels fits them to the run.

Bad input is the user's problem to fix, so every failure is a one-line ``SentinetError``
that starts with the path and says where (line, byte, record id) and what is wrong.
TSV/CSV's dialect (separator, quoting, header) is sentinet.data.delimited's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from sentinet.data.delimited import is_quoted, table_cells, table_rows
from sentinet.data.encoding import (
    LONE_SURROGATE, UTF16_PROBE, refuse_utf16, replaced_surrogates, utf8_error,
)
from sentinet.data.records import (  # Record and the checks: callers import them from here too
    MAX_LINE_CHARS, SINGLE_LABEL, Record, check_readable, checked_length, label_value,
)
from sentinet.data.sentirueval_xml import read_sentirueval
from sentinet.errors import SentinetError

DATA_FORMATS = ("sentirueval", "tsv", "csv", "jsonl", "txt", "fasttext")
FASTTEXT_LABEL = "__label__"  # fastText's label prefix: `__label__positive some text`
EXTENSIONS = {
    ".xml": "sentirueval",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".txt": "txt",
}


# --------------------------------------------------------------------------------------
# Format and labels


TEXT_COLUMN_FIX = "set data.text_column"  # what read_records' errors advise by default (a config's reader)


def detect_data_format(path: Path) -> str:
    """The format implied by the file extension, so configs can say ``format: auto``; a .txt file
    (or one without a known extension) whose first line starts with ``__label__`` is fastText's."""
    suffix = Path(path).suffix.lower()
    if suffix in (".txt", ".ft") or suffix not in EXTENSIONS:
        if _starts_with_fasttext_label(Path(path)):
            return "fasttext"
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    what = f"extension {suffix!r}" if suffix else "no extension"
    raise SentinetError(
        f"{path}: cannot tell the data format from {what}; set data.format to one of "
        f"{', '.join(DATA_FORMATS)}"
    )


def _starts_with_fasttext_label(path: Path) -> bool:
    """Whether the file's first non-empty line begins with ``__label__`` (a peek, not a read)."""
    try:
        with path.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(FASTTEXT_LABEL.encode())


# --------------------------------------------------------------------------------------
# Reading


def read_records(
    path: str | Path,
    format: str = "auto",
    text_column: str = "text",
    label_column: str = "label",
    id_column: str = "id",
    date_column: str = "date",
    quoting: str = "auto",
    text_column_fix: str = TEXT_COLUMN_FIX,
    label_separator: str = "",
) -> list[Record]:
    """All records of a data file; raises SentinetError for anything a user must fix
    (``text_column_fix``: how the caller's user names another text column;
    ``label_separator``: what splits a TSV/CSV label cell into several labels, "" for none)."""
    path = Path(path)
    check_readable(path)
    if format == "auto":
        format = detect_data_format(path)
    if format not in DATA_FORMATS:
        raise SentinetError(f"unknown data format {format!r} (valid: auto, {', '.join(DATA_FORMATS)})")
    try:
        if format == "sentirueval":
            records = read_sentirueval(path)
        elif format == "txt":
            records = _read_txt(path)
        elif format == "fasttext":
            records = _read_fasttext(path)
        elif format == "jsonl":
            records = _read_jsonl(path, text_column, label_column, id_column, date_column, text_column_fix)
        else:
            quoted = is_quoted(format, quoting)
            records = _read_table(path, format, quoted, text_column, label_column, id_column, date_column,
                                  text_column_fix, label_separator)
    except OSError as exc:
        raise SentinetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not records:
        raise SentinetError(f"{path}: no records")
    for r in records:
        r.source = str(path)
    return records


def field_names(path: str | Path, format: str = "auto", quoting: str = "auto") -> list[str] | None:
    """The columns of a TSV/CSV header, or the fields of a JSONL file's first record, for an
    error that must say what the file holds; None for XML and plain text."""
    path = Path(path)
    format = detect_data_format(path) if format == "auto" else format
    if format not in ("jsonl", "tsv", "csv"):
        return None
    lines = (item for item in _lines(_read_text(path), str(path)) if item[1].strip())
    if format == "jsonl":
        first = next(lines, None)
        return [] if first is None else [str(k) for k in _json_object(path, first[0], first[1])]
    _, header = next(table_rows(lines, format, is_quoted(format, quoting), str(path)), (0, []))
    return [h.strip() for h in header]


def label_column_detail(path: str | Path, format: str, quoting: str, label_column: str, fix: str) -> str:
    """For "no record carries a label": the column looked in, what the file has, and ``fix``
    (the config key or flag that names another column); "" where a file has no columns."""
    names = field_names(path, format, quoting)
    if names is None:
        return ""
    kind = "fields" if (format if format != "auto" else detect_data_format(Path(path))) == "jsonl" else "columns"
    return f" in {label_column!r} ({kind}: {', '.join(names) or 'none'}; {fix})"


def _read_text(path: Path) -> str:
    """The whole file as text; line formats are small enough, and this pins UTF-8 errors."""
    data = path.read_bytes()
    refuse_utf16(data[:UTF16_PROBE], path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise utf8_error(path, data, exc) from None
    return text.removeprefix("\ufeff")  # a BOM from Excel or Notepad is not part of the text


def _lines(text: str, name: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for every line; splits on \\n only, since tweets may hold other
    characters that ``str.splitlines`` treats as line breaks (U+2028, U+0085)."""
    for n, line in enumerate(text.split("\n"), 1):
        yield n, checked_length(line.removesuffix("\r"), name, n)


def _read_txt(path: Path) -> list[Record]:
    return [Record(str(n), line) for n, line in _lines(_read_text(path), str(path)) if line.strip()]


def _read_fasttext(path: Path) -> list[Record]:
    """fastText's supervised format: ``__label__x text`` per line (a line without a label is
    an unlabelled record); several labels on one line are a multi-label record."""
    records = []
    for n, line in _lines(_read_text(path), str(path)):
        if not line.strip():
            continue
        labels, text = fasttext_line(line)
        label = label_value(labels if len(labels) > 1 else labels[0] if labels else None, f"{path}: line {n}")
        records.append(Record(str(n), text, {} if label is None else {SINGLE_LABEL: label}))
    return records


def fasttext_line(line: str) -> tuple[list[str], str]:
    """(labels without their prefix, text) of one fastText line: the leading ``__label__``
    words are labels, the rest is the text."""
    labels, rest = [], line.strip()
    while rest.startswith(FASTTEXT_LABEL):
        word, _, rest = rest.partition(" ")
        labels.append(word.removeprefix(FASTTEXT_LABEL))
        rest = rest.lstrip()
    return labels, rest


def _read_jsonl(path: Path, text_column: str, label_column: str, id_column: str,
                date_column: str, text_column_fix: str) -> list[Record]:
    records = []
    for n, line in _lines(_read_text(path), str(path)):
        if not line.strip():
            continue
        obj = _json_object(path, n, line)
        text = _jsonl_text(path, n, obj, text_column, text_column_fix)
        rid = _jsonl_id(path, n, obj, id_column)
        record = _single_label_record(path, rid, text, obj.get(label_column), label_column)
        record.date = None if obj.get(date_column) is None else replaced_surrogates(str(obj[date_column]))
        records.append(record)
    return records


def _json_object(path: Path, n: int, line: str) -> dict:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SentinetError(
            f"{path}: line {n}: invalid JSON ({exc.msg}, column {exc.colno}); "
            "expected one JSON object per line"
        ) from None
    if not isinstance(obj, dict):
        raise SentinetError(f"{path}: line {n}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _jsonl_text(path: Path, n: int, obj: dict, text_column: str, how_to_choose: str) -> str:
    text = obj.get(text_column)
    if not isinstance(text, str):
        fields = ", ".join(map(str, obj)) or "none"
        problem = "no" if text_column not in obj else "a non-string"
        raise SentinetError(
            f"{path}: line {n}: {problem} {text_column!r} field (fields: {fields}; {how_to_choose})"
        )
    return replaced_surrogates(text)


def _jsonl_id(path: Path, n: int, obj: dict, id_column: str) -> str:
    """The record's id (its line number when it has none); an id with a lone surrogate is
    refused, not mended: a changed id would match nothing it was meant to join with."""
    if obj.get(id_column) is None:
        return str(n)
    rid = str(obj[id_column])
    if LONE_SURROGATE.search(rid):
        raise SentinetError(f"{path}: line {n}: id {rid!r} holds a lone surrogate (an unpaired JSON "
                            "\\ud800-\\udfff escape); fix the id")
    return rid


def _read_table(
    path: Path, format: str, quoted: bool, text_column: str, label_column: str, id_column: str,
    date_column: str, text_column_fix: str, label_separator: str = "",
) -> list[Record]:
    rows = table_rows(_lines(_read_text(path), str(path)), format, quoted, str(path))
    records: list[Record] = []
    for cells in table_cells(rows, str(path), text_column, text_column_fix):
        rid = cells.get(id_column, str(len(records) + 1))
        label = cells.get(label_column)
        if label_separator and label and label_separator in label:
            label = [part for part in label.split(label_separator) if part.strip()]
        record = _single_label_record(path, rid, cells[text_column], label, label_column)
        record.date = cells.get(date_column) or None
        records.append(record)
    return records


def _single_label_record(path: Path, rid: str, text: str, value: object, column: str) -> Record:
    label = label_value(value, f"{path}: id {rid!r}, column {column!r}")
    return Record(rid, text, {} if label is None else {SINGLE_LABEL: label})


# --------------------------------------------------------------------------------------
# Streaming (predict on stdin or on files too big to hold)


def stream_records(stream: TextIO, format: str, name: str, text_column: str = "text",
                   id_column: str = "id", quoting: str = "auto") -> Iterator[Record]:
    """Records one line at a time from a text stream (txt, jsonl, tsv, csv), so a pipe or a
    million-line file is labelled in bounded memory. Labels are not read: this feeds predict."""
    path = Path(name)
    lines = _numbered_lines(stream, path)
    if format == "txt":
        yield from (Record(str(n), line) for n, line in lines if line.strip())
        return
    if format == "fasttext":  # labels are not read: predict labels the text after them
        yield from (Record(str(n), fasttext_line(line)[1]) for n, line in lines if line.strip())
        return
    if format == "jsonl":
        for n, line in lines:
            if line.strip():
                obj = _json_object(path, n, line)
                yield Record(_jsonl_id(path, n, obj, id_column),
                             _jsonl_text(path, n, obj, text_column, "use --text-column"))
        return
    if format not in ("tsv", "csv"):
        raise SentinetError(f"{name}: {format} cannot be streamed (use txt, fasttext, jsonl, tsv or csv)")
    rows = table_rows(lines, format, is_quoted(format, quoting), name)
    for count, cells in enumerate(table_cells(rows, name, text_column, "use --text-column"), 1):
        yield Record(cells.get(id_column, str(count)), cells[text_column])


def _numbered_lines(stream: TextIO, path: Path) -> Iterator[tuple[int, str]]:
    """Each line, read no further than MAX_LINE_CHARS (a pipe of NULs holds no line break);
    UTF-16 is refused from the first kilobyte on, before a record is labelled."""
    n, head, readline = 0, "", stream.readline
    try:
        while line := readline(MAX_LINE_CHARS + 2):  # room for \r\n
            n += 1
            if len(head) < UTF16_PROBE:
                head += line[:UTF16_PROBE]
                refuse_utf16(head.encode("utf-8")[:UTF16_PROBE], path)
            line = line.removesuffix("\n").removesuffix("\r")
            if len(line) > MAX_LINE_CHARS:  # checked here, not by a call per line: predict reads millions
                checked_length(line, str(path), n)
            yield n, line.removeprefix("\ufeff") if n == 1 else line
    except UnicodeDecodeError as exc:
        if n == 0:
            refuse_utf16(exc.object[:UTF16_PROBE], path)  # a byte-order mark
        raise SentinetError(f"{path}: not valid UTF-8 (line {n + 1})") from None
