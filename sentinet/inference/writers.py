"""How ``predict``'s rows look and how they are written: csv (default), tsv (no quoting: a
tab or line break inside a value is written as a space), jsonl, or fastText's training format
(``__label__x text``, the labels and the text only), chunk by chunk (the streams they go to,
stdout or a file that appears whole when done, are sentinet/runtime/streams.py's).

A multi-label run's label cell is its set of labels: a JSON list, or in csv/tsv the labels
joined by ``label_separator`` ("|" unless the run's data.label_separator says otherwise)."""

from __future__ import annotations

import csv
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
        if isinstance(label, tuple):  # multi-label: --threshold P replaces the run's thresholds
            if self.threshold is not None:
                label = tuple(v for v, p in zip(values, probs) if round(float(p), 6) >= self.threshold)
        elif is_uncertain(probs.max(), self.threshold):
            label = None
        if self.format == "fasttext":
            return [label, record.text]
        if isinstance(label, tuple):
            label = list(label) if self.format == "jsonl" else self.label_separator.join(map(str, label))
        elif label is None and self.format != "jsonl":
            label = ""
        if self.top is None:
            cells = [round(float(x), 6) for x in probs]
        else:
            order = np.argsort(-probs, kind="stable")[: self.top]
            cells = [c for i in order for c in (values[i], round(float(probs[i]), 6))]
        return [record.id, label, *cells, *([record.text] if self.echo else [])]


def write_predictions(predictor: Predictor, records, out, row_format: RowFormat, batch_size: int,
                      chunk_size: int, keep: list | None = None, progress: bool = False,
                      total: int | None = None) -> int:
    """Label ``records`` chunk by chunk, writing and flushing each chunk's rows; ``keep``
    collects each chunk's probabilities (for --summary: a few bytes per record). ``progress``:
    a bar of the records labelled (of ``total``, when known) on stderr, drawn only when stderr
    is a terminal (tqdm's ``disable=None``), so a file or pipe never holds one."""
    from tqdm import tqdm

    classes = predictor.classes
    write_row = row_writer(out, row_format.format, row_format.columns(classes.names))
    count = 0
    with tqdm(total=total, desc="predict", unit=" records", leave=False, dynamic_ncols=True,
              disable=None if progress else True) as bar:
        while chunk := list(itertools.islice(records, chunk_size)):
            probs = predictor.predict_proba([r.text for r in chunk], batch_size, progress=False)
            if keep is not None:
                keep.append(probs)
            for r, y, p in zip(chunk, predictor.labels(probs), probs):
                write_row(row_format.row(r, y, p, classes.values))
            out.flush()
            count += len(chunk)
            bar.update(len(chunk))
    return count


def row_writer(out, output_format: str, columns: list[str]):
    """Write the header (csv, tsv) and return a function writing one row of values."""
    if output_format == "fasttext":
        return lambda values: out.write(fasttext_line(*values) + "\n")
    if output_format == "jsonl":
        return lambda values: out.write(json.dumps(dict(zip(columns, values)), ensure_ascii=False) + "\n")
    if output_format == "tsv":  # no quoting in TSV: a tab or line break inside a value is a space
        out.write("\t".join(TSV_UNSAFE.sub(" ", c) for c in columns) + "\n")  # a class name too
        return lambda values: out.write("\t".join(not_formula(TSV_UNSAFE.sub(" ", str(v))) for v in values) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    return lambda values: writer.writerow([not_formula(v) for v in values])


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
