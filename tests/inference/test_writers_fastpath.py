"""writers' chunk-at-a-time rows and their rounding write byte for byte what the row-at-a-time
writer before them wrote (kept here as the reference), for every format and row layout, on
generated rows with hostile cells and probabilities on the edges of six-digit rounding."""

from __future__ import annotations

import csv
import io
import json
import random
from types import SimpleNamespace

import numpy as np
import pytest

from sentinet.data.readers import Record
from sentinet.inference.writers import (
    TSV_UNSAFE, RowFormat, fasttext_line, float_texts, is_uncertain, not_formula, rounded, tsv_line,
    write_predictions,
)

# --------------------------------------------------------------------------------------
# The reference: rows and lines as they were made one at a time


def reference_row(fmt: RowFormat, record, label, probs: np.ndarray, values) -> list:
    if isinstance(label, tuple):
        if fmt.threshold is not None:
            label = tuple(v for v, p in zip(values, probs) if round(float(p), 6) >= fmt.threshold)
    elif is_uncertain(probs.max(), fmt.threshold):
        label = None
    if fmt.format == "fasttext":
        return [label, record.text]
    if isinstance(label, tuple):
        label = list(label) if fmt.format == "jsonl" else fmt.label_separator.join(map(str, label))
    elif label is None and fmt.format != "jsonl":
        label = ""
    if fmt.top is None:
        cells = [round(float(x), 6) for x in probs]
    else:
        order = np.argsort(-probs, kind="stable")[: fmt.top]
        cells = [c for i in order for c in (values[i], round(float(probs[i]), 6))]
    return [record.id, label, *cells, *([record.text] if fmt.echo else [])]


def reference_file(fmt: RowFormat, names: list[str], records, labels, probs, values) -> str:
    out = io.StringIO()
    columns = fmt.columns(names)
    if fmt.format == "fasttext":
        write = lambda v: out.write(fasttext_line(*v) + "\n")  # noqa: E731
    elif fmt.format == "jsonl":
        write = lambda v: out.write(json.dumps(dict(zip(columns, v)), ensure_ascii=False) + "\n")  # noqa: E731
    elif fmt.format == "tsv":
        out.write("\t".join(TSV_UNSAFE.sub(" ", c) for c in columns) + "\n")
        write = lambda v: out.write("\t".join(not_formula(TSV_UNSAFE.sub(" ", str(x))) for x in v) + "\n")  # noqa: E731
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        write = lambda v: writer.writerow([not_formula(x) for x in v])  # noqa: E731
    for r, y, p in zip(records, labels, probs):
        write(reference_row(fmt, r, y, p, values))
    return out.getvalue()


# --------------------------------------------------------------------------------------
# Generated rows

CELLS = ["1", "-1", "+1", "-0.5", "-inf", "1e5", "=1+1", "+7 999", "-2+3", "@SUM(A1)", "-", "", " ", " =1", "'=1",
         "a,b", 'say "hi"', "tab\there", "cr\rhere", "line\nbreak", "\t=x", "\r@x", "сбербанк 🙂", "x\u2028y",
         "__label__x", "-x", "--1", "@", "=", "1-1", "0.25", "-12.5", "-1e-3", "- 1"]
EDGES = [0.0, 1.0, -0.0, 0.5, 1e-7, 5e-7, 4.9999999e-7, 1e-4, 9.99995e-5, 0.1234565, 0.9999995, 0.9999994999,
         2.5e-6, 3.5e-6, 1.5, -0.25, 1e-300, float("nan"), float("inf"), -float("inf")]


def generated_probs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Softmax-like rows, some float32, some exactly on or a few ulps off a half at the
    seventh digit, some odd (0, 1, nan, inf, out of [0, 1])."""
    probs = rng.dirichlet(np.ones(k), n)
    halves = (rng.integers(0, 1_000_000, (n, k)) + 0.5) / 1e6
    nudged = halves
    for _ in range(int(rng.integers(0, 4))):
        nudged = np.nextafter(nudged, rng.choice([-1.0, 2.0], (n, k)))
    pick = rng.random((n, k))
    probs = np.where(pick < 0.15, nudged, probs)
    probs = np.where((pick > 0.95) & (pick < 0.98), rng.choice(EDGES, (n, k)), probs)
    return probs.astype(np.float32) if rng.random() < 0.5 else probs


class Canned:
    """A predictor whose probabilities and labels are given."""

    def __init__(self, names, values, probs, labels) -> None:
        self.classes = SimpleNamespace(names=tuple(names), values=tuple(values))
        self.probs, self.labels_given, self.done = probs, labels, 0

    def predict_proba(self, texts, batch_size, progress):
        self.done += len(texts)
        return self.probs[self.done - len(texts): self.done]

    def labels(self, probs):
        return self.labels_given[self.done - len(probs): self.done]


def formats() -> list[RowFormat]:
    out = []
    for output_format in ("csv", "tsv", "jsonl", "fasttext"):
        for echo in (False, True):
            for top in (None, 1, 2, 5):
                for threshold in (None, 0.5, 0.4, 1.0):
                    out.append(RowFormat(output_format, echo, top, threshold, ";" if echo else "|"))
    return out


@pytest.mark.parametrize("seed, fmt", list(enumerate(formats())),
                         ids=lambda f: f"{f.format}-{f.echo}-{f.top}-{f.threshold}" if isinstance(f, RowFormat) else "")
@pytest.mark.parametrize("multilabel", [False, True])
def test_chunked_rows_write_what_rows_one_at_a_time_wrote(seed, fmt, multilabel):
    rng = np.random.default_rng(seed * 2 + multilabel)
    pick = random.Random(seed * 2 + multilabel)
    values = ["neg", "=pos", "-1", "a b", "x"] if multilabel else [-1, 0, 1]
    names = [str(v) for v in values] if multilabel else ["negative", "neutral", "positive"]
    n = 700
    probs = generated_probs(rng, n, len(values))
    if multilabel:
        labels = [tuple(v for v in values if pick.random() < 0.4) for _ in range(n)]
    else:
        labels = [pick.choice(values) for _ in range(n)]
    records = [Record(pick.choice(CELLS) + str(i) * (i % 2), pick.choice(CELLS) + " " + pick.choice(CELLS))
               for i in range(n)]
    out = io.StringIO()
    assert write_predictions(Canned(names, values, probs, labels), iter(records), out, fmt, 64, 97) == n
    assert out.getvalue() == reference_file(fmt, names, records, labels, probs, values)


def test_one_row_is_the_chunk_of_one():
    record, probs = Record("7", "=x"), np.array([0.1234565, 0.3, 0.5765435], dtype=np.float64)
    for fmt in formats():
        assert fmt.row(record, 1, probs, [-1, 0, 1]) == reference_row(fmt, record, 1, probs, [-1, 0, 1])


# --------------------------------------------------------------------------------------
# Rounding and TSV lines


def test_rounded_is_pythons_round_to_six_digits():
    rng = np.random.default_rng(7)
    halves = (np.arange(0, 1_000_001, 37) + 0.5) / 1e6
    values = np.concatenate([
        rng.random(100_000), rng.random(50_000).astype(np.float32), rng.random(20_000) * 1e-4, halves,
        np.nextafter(halves, 0), np.nextafter(halves, 1), np.nextafter(np.nextafter(halves, 1), 1),
        np.arange(0, 1_000_001, 101) / 1e6, np.array(EDGES), rng.normal(0, 3, 1000),
    ])  # fmt: skip
    for probs in (values, values.astype(np.float32)):
        expected = np.array([round(float(x), 6) for x in probs.tolist()])
        assert rounded(probs).view(np.int64).tolist() == expected.view(np.int64).tolist()  # bits: -0.0, nan too


def test_float_texts_are_the_floats_reprs():
    rng = np.random.default_rng(8)
    values = np.concatenate([rng.random(200_000), np.arange(0, 1_000_001, 3) / 1e6, rng.random(1000) * 2e-4,
                             np.array(EDGES)])
    written = rounded(values)[None]
    texts = float_texts(written)[0]
    assert [t if isinstance(t, str) else repr(t) for t in texts] == [repr(x) for x in written[0].tolist()]
    assert sum(isinstance(t, str) for t in texts) > 500_000  # nearly all are made by numpy


def test_tsv_line_is_the_cell_by_cell_line():
    pick = random.Random(3)
    for _ in range(20_000):
        row = [pick.choice(CELLS + [-1, 0, 1, 0.5, -0.25, float("-inf"), None, True]) for _ in range(pick.randint(0, 6))]
        assert tsv_line(row) == "\t".join(not_formula(TSV_UNSAFE.sub(" ", str(v))) for v in row) + "\n", row
