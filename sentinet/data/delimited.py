"""TSV and CSV: how a delimited file's lines become rows and rows become {column: value}.

Kept apart from sentinet.data.readers because both the whole-file reader and predict's
streaming reader share it, and its dialect rules (which separator, whether quotes count, what
a header must hold) are the part of reading users most often get wrong, so every error here
names the line and says which setting to change.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from sentinet.errors import SentinetError

QUOTINGS = ("auto", "none", "quoted")  # auto: TSV none, CSV quoted
# Lines end at \n (or \r\n) in every reader, predict's streams included; a bare CR is a character.
BARE_CR = "a bare CR (carriage return) in an unquoted field: quote the field or remove the CR"


def is_quoted(format: str, quoting: str) -> bool:
    """Whether a TSV/CSV file uses quotes. Tab-separated files have none by convention (a
    tab separates, a newline ends a record, a '"' is a character, as in raw tweet exports);
    CSV has RFC 4180 quotes ("a, b", "" inside)."""
    if quoting not in QUOTINGS:
        raise SentinetError(f"quoting {quoting!r}: choose one of {', '.join(QUOTINGS)}")
    return quoting == "quoted" or (quoting == "auto" and format == "csv")


def table_rows(lines: Iterable[tuple[int, str]], format: str, quoted: bool,
               name: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank row, from every line of the file in order.
    Quoted files are read strictly, so a stray quote is an error, not silently merged fields."""
    delimiter = "\t" if format == "tsv" else ","
    if not quoted:
        yield from ((n, line.split(delimiter)) for n, line in lines if line.strip())
        return
    reader = csv.reader((line + "\n" for _, line in lines), delimiter=delimiter, strict=True)
    try:
        yield from ((reader.line_num, row) for row in reader if row)
    except csv.Error as exc:
        hint = "; for a TSV without quoting set data.quoting: none" if format == "tsv" else ""
        why = BARE_CR if "new-line character" in str(exc) else exc  # csv's own hint is about open()
        raise SentinetError(f"{name}: line {reader.line_num}: malformed {format.upper()} "
                            f"({why}{hint})") from None


def table_cells(rows: Iterator[tuple[int, list[str]]], name: str, text_column: str,
                how_to_choose: str) -> Iterator[dict[str, str]]:
    """Each row as {column: value}, checked against the header (the first row)."""
    _, header = next(rows, (0, []))
    header = [h.strip() for h in header]
    if text_column not in header:
        raise SentinetError(f"{name}: no {text_column!r} column in the header (columns: "
                            f"{', '.join(header) or 'none'}; {_delimiter_hint(header) or how_to_choose})")
    for n, row in rows:
        if len(row) != len(header):
            raise SentinetError(f"{name}: line {n}: {len(row)} fields, but the header has "
                                f"{len(header)}")
        yield dict(zip(header, row))


def _delimiter_hint(header: list[str]) -> str:
    """A one-column header holding another separator: the file is not split the way it is read."""
    if len(header) != 1:
        return ""
    found = [name for sep, name in ((";", "';'"), ("\t", "tabs"), (",", "','"), ("|", "'|'")) if sep in header[0]]
    if not found:
        return ""
    return (f"the header looks separated by {found[0]}, but CSV here means ',' and TSV tabs: "
            "give the file the extension (or data.format / --input-format) of its separator, "
            "or convert it")
