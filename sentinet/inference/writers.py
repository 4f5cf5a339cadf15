"""How ``predict``'s rows look and how they are written: csv (default), tsv (no quoting: a
tab or line break inside a value is written as a space), jsonl, or fastText's training format
(``__label__x text``, the labels and the text only), chunk by chunk (the streams they go to,
stdout or a file that appears whole when done, are sentinet/runtime/streams.py's).

A multi-label run's label cell is its set of labels: a JSON list, or in csv/tsv the labels
joined by ``label_separator`` ("|" unless the run's data.label_separator says otherwise)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentinet.inference.protocol import Predictor

OUTPUT_FORMATS = ("csv", "tsv", "jsonl", "fasttext", "sentirueval")  # sentirueval: the input XML, filled in
FASTTEXT_LABEL = "__label__"
TSV_UNSAFE = re.compile(r"[\t\r\n]")  # what TSV cannot hold inside a value (it has no quoting)
# A cell a spreadsheet would run as a formula (OWASP's CSV injection list), and a number, which
# starts the same way but is data ("-1", "+0.5", "-2e-3").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Where a cell of a TSV line (whose values hold no tab, CR or LF) may start a formula; where
# this finds none, not_formula changes no cell ("-1", "-0.25" are numbers).
MAY_START_FORMULA = re.compile(r"(?:^|\t)(?:[=+@]|-(?!\d+(?:\.\d+)?(?:\t|$)))")


def rounded(probs: np.ndarray) -> np.ndarray:
    """``round(float(x), 6)`` of every x, as an array: where x is a probability (0 ≤ x ≤ 1)
    and x·1e6 is not within 1e-9 of a half, numpy's rint(x·1e6) / 1e6 is the same double (the
    product is off by under 6e-11, so it rounds to the same integer k, and k / 1e6 is rounded
    once, as Python rounds the decimal k·1e-6); Python rounds the rest."""
    x = np.asarray(probs, dtype=np.float64)
    scaled = x * 1e6
    out = np.rint(scaled) / 1e6
    with np.errstate(invalid="ignore"):  # nan and inf are Python's
        odd = ~((x >= 0) & (x <= 1) & (np.abs(scaled - np.floor(scaled) - 0.5) > 1e-9))
    if odd.any():
        out[odd] = [round(v, 6) for v in x[odd].tolist()]
    return out


def _same(value: object) -> object:
    return value


def float_texts(written: np.ndarray) -> list[list[str | float]]:
    """``rounded``'s floats as lists, each from 0.0001 to 1 (not 1) as its ``repr`` (what csv and
    tsv write for it), made by numpy: such a float is k·1e-6 for a whole k, and its shortest
    repr is "0." and k's six digits, trailing zeros left out. The rest stay floats."""
    k = np.rint(written * 1e6)
    with np.errstate(invalid="ignore"):
        plain = (k >= 100) & (k < 1_000_000) & (k / 1e6 == written)
    digits = (np.where(plain, k, 0).astype(np.int64)[..., None] // 10 ** np.arange(5, -1, -1)) % 10
    text = np.empty(digits.shape[:-1] + (8,), np.uint8)
    text[..., :2] = np.frombuffer(b"0.", np.uint8)
    text[..., 2:] = digits + ord("0")
    text[..., 2:][np.cumprod((digits == 0)[..., ::-1], axis=-1)[..., ::-1].astype(bool)] = 0  # numpy ends strings at NUL
    table = text.view("S8")[..., 0].astype("U8").tolist()
    for i, j in zip(*np.nonzero(~plain)):
        table[i][j] = float(written[i, j])
    return table


def is_uncertain(top: float, threshold: float | None) -> bool:
    """Whether a row's top class probability, as written (six digits), is below ``threshold``
    (predict --threshold): judged on the written number, so whoever reads the file can check
    every mark against the probabilities beside it."""
    return threshold is not None and round(float(top), 6) < threshold


@dataclass(frozen=True)
class RowFormat:
    """What a prediction row holds: ``format`` (csv, tsv, jsonl), the text too (``echo``), and
    one probability column per class or, with ``top``, the K most probable classes. With
    ``threshold``, a row whose top probability is below it is uncertain: its label is empty
    (null in JSONL), which no class can be (an empty or NULL label is a missing one), so the
    mark cannot clash with a class name and the columns stay those of a row without it."""

    format: str = "csv"
    echo: bool = False
    top: int | None = None
    threshold: float | None = None
    label_separator: str = "|"  # a multi-label row's labels in one csv/tsv cell

    def columns(self, names: Sequence[str]) -> list[str]:
        if self.format == "fasttext":
            return ["label", "text"]
        if self.top is None:
            probabilities = [f"p_{name}" for name in names]
        else:
            probabilities = [c for i in range(1, min(self.top, len(names)) + 1) for c in (f"label_{i}", f"p_{i}")]
        return ["id", "label", *probabilities, *(["text"] if self.echo else [])]

    def row(self, record, label, probs: np.ndarray, values: Sequence) -> list:
        return self.rows([record], [label], np.asarray(probs)[None], values)[0]

    def rows(self, records: Sequence, labels: Sequence, probs: np.ndarray, values: Sequence,
             as_text: bool = False) -> list[list]:
        """Each record's row (``probs``: one row of probabilities per record), a chunk at a
        time: numpy is called once per chunk, not per row. Probabilities are Python floats
        rounded to six digits, so every format writes them alike. ``as_text``: rows as
        rows_writer(..., ready=True) takes them: most probabilities as the text csv and tsv
        write for them (float_texts), and in csv the other cells through not_formula already."""
        probs = np.asarray(probs, dtype=np.float64)  # what float(x) gives, for every float dtype
        written = rounded(probs)
        numbers = written.tolist()
        table = float_texts(written) if as_text else numbers
        tops = written.max(axis=1).tolist() if self.threshold is not None else itertools.repeat(None)
        order = None if self.top is None else np.argsort(-probs, axis=1, kind="stable")[:, : self.top].tolist()
        echo, jsonl = self.echo, self.format == "jsonl"
        defuse = not_formula if as_text and self.format == "csv" else _same  # probabilities need not
        if order is None and self.threshold is None and self.format != "fasttext" and not any(
                label is None or isinstance(label, tuple) for label in labels):  # each label written as it is
            if defuse is _same:
                return [[r.id, y, *p, r.text] if echo else [r.id, y, *p] for r, y, p in zip(records, labels, table)]
            return [[defuse(r.id), defuse(y), *p, defuse(r.text)] if echo else [defuse(r.id), defuse(y), *p]
                    for r, y, p in zip(records, labels, table)]
        rows = []
        for i, (record, label, p, top) in enumerate(zip(records, labels, table, tops)):
            if isinstance(label, tuple):  # multi-label: --threshold P replaces the run's thresholds
                if self.threshold is not None:
                    label = tuple(v for v, x in zip(values, numbers[i]) if x >= self.threshold)
            elif top is not None and top < self.threshold:  # is_uncertain (rounding keeps the order)
                label = None
            if self.format == "fasttext":
                rows.append([label, record.text])
                continue
            if isinstance(label, tuple):
                label = list(label) if jsonl else self.label_separator.join(map(str, label))
            elif label is None and not jsonl:
                label = ""
            cells = p if order is None else [c for j in order[i] for c in (defuse(values[j]), p[j])]
            head = [defuse(record.id), defuse(label)]
            rows.append([*head, *cells, defuse(record.text)] if echo else [*head, *cells])
        return rows


def write_predictions(predictor: Predictor, records, out, row_format: RowFormat, batch_size: int,
                      chunk_size: int, keep: list | None = None, progress: bool = False,
                      total: int | None = None) -> int:
    """Label ``records`` chunk by chunk, writing and flushing each chunk's rows; ``keep``
    collects each chunk's probabilities (for --summary: a few bytes per record). ``progress``:
    a bar of the records labelled (of ``total``, when known) on stderr, drawn only when stderr
    is a terminal (tqdm's ``disable=None``), so a file or pipe never holds one."""
    from tqdm import tqdm

    classes = predictor.classes
    as_text = row_format.format in ("csv", "tsv")  # they write str(x) of a float x
    write_rows = rows_writer(out, row_format.format, row_format.columns(classes.names), ready=as_text)
    count = 0
    with tqdm(total=total, desc="predict", unit=" records", leave=False, dynamic_ncols=True,
              disable=None if progress else True) as bar:
        while chunk := list(itertools.islice(records, chunk_size)):
            probs = predictor.predict_proba([r.text for r in chunk], batch_size, progress=False)
            if keep is not None:
                keep.append(probs)
            write_rows(row_format.rows(chunk, predictor.labels(probs), probs, classes.values, as_text))
            out.flush()
            count += len(chunk)
            bar.update(len(chunk))
    return count


def row_writer(out, output_format: str, columns: list[str]):
    """Write the header (csv, tsv) and return a function writing one row of values."""
    write_rows = rows_writer(out, output_format, columns)
    return lambda values: write_rows([values])


def rows_writer(out, output_format: str, columns: list[str], ready: bool = False):
    """Write the header (csv, tsv) and return a function writing rows of values: a chunk's
    rows are formatted into one string and written at once. ``ready``: csv rows of
    RowFormat.rows(..., as_text=True), whose cells not_formula has seen."""
    if output_format == "fasttext":
        return lambda rows: out.write("".join([fasttext_line(*values) + "\n" for values in rows]))
    if output_format == "jsonl":
        encode = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False)'s
        return lambda rows: out.write("".join([encode(dict(zip(columns, values))) + "\n" for values in rows]))
    if output_format == "tsv":  # no quoting in TSV: a tab or line break inside a value is a space
        out.write("\t".join(TSV_UNSAFE.sub(" ", c) for c in columns) + "\n")  # a class name too
        return lambda rows: out.write("".join([tsv_line(values) for values in rows]))
    csv.writer(out, lineterminator="\n").writerow(columns)

    def write_csv(rows: list[Sequence]) -> None:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows if ready else [list(map(not_formula, v)) for v in rows])
        out.write(text.getvalue())

    return write_csv


def tsv_line(values: Sequence) -> str:
    """One TSV line: each value as text, a tab or line break in it a space, a formula defused.
    Most lines need neither, which one look at the joined line tells."""
    cells = list(map(str, values))
    line = "\t".join(cells)
    if line.count("\t") >= len(cells) or "\n" in line or "\r" in line or MAY_START_FORMULA.search(line):
        line = "\t".join([not_formula(TSV_UNSAFE.sub(" ", c)) for c in cells])
    return line + "\n"


def fasttext_line(label, text: str) -> str:
    """``__label__a __label__b text`` (no label: the text alone, as fastText reads an unlabelled
    line); line breaks and tabs in the text become spaces, so one record stays one line."""
    labels = label if isinstance(label, tuple) else () if label is None else (label,)
    words = [f"{FASTTEXT_LABEL}{v}" for v in labels]
    return " ".join([*words, " ".join(str(text).split())])


def fasttext_unwritable(names: Sequence[str]) -> str | None:
    """A class name fastText's format cannot carry (a space would end the label), if any."""
    return next((n for n in names if not n or any(ch.isspace() for ch in n)), None)


def not_formula(value: object) -> object:
    """``value`` with a ``'`` before it when a spreadsheet opening the file would run it as a
    formula (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3``): a text, id or label is data, and
    Excel and LibreOffice show the quote as the cell's text prefix. Numbers stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(value):
        return "'" + value
    return value
