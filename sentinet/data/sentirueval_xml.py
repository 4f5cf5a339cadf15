"""SentiRuEval-2016's XML (a phpMyAdmin export): a <table> row per tweet, a column per
company holding -1/0/1 or NULL. Read into Records, and written back with predictions filled
in (the official submission format)."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from xml.parsers import expat

from sentinet.data.encoding import utf8_error
from sentinet.data.records import Record, check_readable, checked_length, parse_label
from sentinet.errors import SentinetError
from sentinet.fileio import atomic_open

META_COLUMNS = ("id", "twitid", "date", "text")  # SentiRuEval columns that are not companies


def read_sentirueval(path: Path) -> list[Record]:
    """Stream the <table> rows: a tweet per row, one label per non-NULL company column."""
    records = []
    with path.open("rb") as f:
        try:
            for _, elem in ET.iterparse(f, events=("end",)):
                if elem.tag == "table":
                    records.append(_table_record(path, elem, len(records) + 1))
                    elem.clear()  # keep memory flat on big exports
        except ET.ParseError as exc:
            raise _xml_error(path, exc) from None
    if not records:
        raise SentinetError(
            f"{path}: no records: no <table> rows (expected a phpMyAdmin XML export; "
            "set data.format for other files)"
        )
    return records


def _columns(table: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in table if c.tag == "column"}


def _table_record(path: Path, table: ET.Element, n: int) -> Record:
    cells = {name: col.text or "" for name, col in _columns(table).items()}
    for required in ("id", "text"):
        if required not in cells:
            raise SentinetError(
                f"{path}: <table> row {n} has no {required!r} column "
                f"(columns: {', '.join(cells) or 'none'})"
            )
    rid = cells["id"].strip()
    checked_length(cells["text"], str(path), repr(rid[:40]), "the text of id")
    labels = {}
    for company, value in cells.items():
        if company in META_COLUMNS:
            continue
        label = parse_label(value, f"{path}: id {rid!r}, column {company!r}")
        if label not in (None, -1, 0, 1):  # the format's own labels
            raise SentinetError(f"{path}: id {rid!r}, column {company!r}: unknown label value "
                                f"{value!r} (SentiRuEval labels are -1, 0, 1 or NULL)")
        if label is not None:
            labels[company] = label
    return Record(rid, cells["text"], labels, date=cells.get("date") or None)


def _xml_error(path: Path, exc: ET.ParseError) -> SentinetError:
    """Where the XML broke; expat reports bad UTF-8 as a vague "invalid token", so name it."""
    line, column = exc.position
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        if data.count(b"\n", 0, bad.start) + 1 <= line:
            return utf8_error(path, data, bad)
    reason = expat.ErrorString(exc.code) if exc.code else str(exc)
    return SentinetError(f"{path}: malformed XML at line {line}, column {column + 1}: {reason}")


# --------------------------------------------------------------------------------------
# Writing predictions back


def write_sentirueval(
    input_path: str | Path, predictions: Mapping[str, int], output_path: str | Path
) -> None:
    """Copy a SentiRuEval XML with each tweet's labelled company columns set to its prediction.

    This is the official submission format: the scorer reads the same file layout, and only
    the columns the organisers marked (non-NULL) are scored.
    """
    input_path = Path(input_path)
    tree = _parse_xml(input_path)
    tables = list(tree.iter("table"))
    if not tables:
        raise SentinetError(f"{input_path}: no records: no <table> rows")
    missing = []
    for table in tables:
        columns = _columns(table)
        rid = (columns["id"].text or "").strip() if "id" in columns else ""
        if rid not in predictions:
            missing.append(rid)
            continue
        value = _label_text(predictions[rid])
        for name, col in columns.items():
            if name not in META_COLUMNS and (col.text or "").strip().upper() != "NULL":
                col.text = value
    if missing:
        raise SentinetError(
            f"{input_path}: no prediction for {len(missing)} of {len(tables)} tweets "
            f"(first missing id: {missing[0]!r})"
        )
    with atomic_open(output_path, "wb", named=True) as f:
        f.write(b'<?xml version="1.0" encoding="utf-8"?>\n')  # phpMyAdmin's own spelling
        tree.write(f, encoding="utf-8", xml_declaration=False)
        f.write(b"\n")


def _label_text(label: int) -> str:
    if label not in (-1, 0, 1):
        raise ValueError(f"prediction {label!r} is not -1, 0 or 1")
    return str(int(label))


def _parse_xml(path: Path) -> ET.ElementTree:
    """The whole document, comments and namespace prefixes included, so a rewrite differs
    from the input only where we change it."""
    check_readable(path)
    namespaces = {}
    try:
        with path.open("rb") as f:
            for _, (prefix, uri) in ET.iterparse(f, events=("start-ns",)):
                namespaces.setdefault(prefix, uri)
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
        tree = ET.parse(path, parser=parser)
    except ET.ParseError as exc:
        raise _xml_error(path, exc) from None
    _keep_namespaces(tree.getroot(), namespaces)
    return tree


def _keep_namespaces(root: ET.Element, namespaces: dict[str, str]) -> None:
    """ElementTree drops unused xmlns declarations and renames used prefixes to ns0;
    phpMyAdmin exports declare ``xmlns:pma``, so keep it as written."""
    used = {
        name[1:].partition("}")[0]
        for elem in root.iter()
        for name in (elem.tag, *elem.attrib)
        if isinstance(name, str) and name.startswith("{")
    }
    for prefix, uri in namespaces.items():
        if uri in used:
            with contextlib.suppress(ValueError):  # "ns0"-style prefixes are ET's own anyway
                ET.register_namespace(prefix, uri)
        else:
            root.set(f"xmlns:{prefix}" if prefix else "xmlns", uri)
