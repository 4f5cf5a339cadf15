"""sentinet/inference/writers.py: predict's columns and rows, written as csv, tsv or jsonl and
read back by csv and json as written; cells a spreadsheet would run as formulas defused."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from sentinet.data.readers import Record
from sentinet.inference.writers import RowFormat, is_uncertain, not_formula, row_writer, write_predictions
from sentinet.labels import LabelSet

SENTIMENT = LabelSet.of([-1, 0, 1])
NAMES = list(SENTIMENT.names)  # negative, neutral, positive


# --------------------------------------------------------------------------------------
# Columns and rows


def test_columns_are_id_label_one_probability_per_class_then_the_text() -> None:
    assert RowFormat().columns(NAMES) == ["id", "label", "p_negative", "p_neutral", "p_positive"]
    assert RowFormat(echo=True).columns(NAMES)[-1] == "text"


def test_top_k_columns_are_label_and_probability_pairs_at_most_one_per_class() -> None:
    assert RowFormat(top=2).columns(NAMES) == ["id", "label", "label_1", "p_1", "label_2", "p_2"]
    assert RowFormat(top=9, echo=True).columns(["a", "b"]) == ["id", "label", "label_1", "p_1",
                                                                "label_2", "p_2", "text"]


def test_a_row_rounds_probabilities_to_six_digits() -> None:
    record = Record("7", "спасибо")
    probs = np.array([0.1234564, 0.3, 0.5765436], dtype=np.float32)
    row = RowFormat(echo=True).row(record, 1, probs, SENTIMENT.values)
    assert row == ["7", 1, 0.123456, 0.3, 0.576544, "спасибо"]
    assert all(type(c) is float for c in row[2:5])  # plain floats, not numpy's (json writes them)


def test_a_top_k_row_orders_classes_by_probability_and_ties_by_class_order() -> None:
    record = Record("1", "x")
    probs = np.array([0.25, 0.5, 0.25])
    assert RowFormat(top=3).row(record, 0, probs, SENTIMENT.values) == ["1", 0, 0, 0.5, -1, 0.25, 1, 0.25]
    assert RowFormat(top=1).row(record, 0, probs, SENTIMENT.values) == ["1", 0, 0, 0.5]  # values, not names


def test_a_row_below_the_threshold_has_an_empty_label_and_every_probability() -> None:
    record, probs = Record("7", "x"), np.array([0.2, 0.35, 0.45], dtype=np.float32)
    assert RowFormat(threshold=0.5).row(record, 1, probs, SENTIMENT.values) == ["7", "", 0.2, 0.35, 0.45]
    assert RowFormat("tsv", threshold=0.5, top=1).row(record, 1, probs, SENTIMENT.values) == ["7", "", 1, 0.45]
    assert RowFormat("jsonl", threshold=0.5).row(record, 1, probs, SENTIMENT.values)[1] is None  # null
    assert RowFormat(threshold=0.45).row(record, 1, probs, SENTIMENT.values)[1] == 1  # at P: certain
    assert RowFormat().row(record, 1, probs, SENTIMENT.values)[1] == 1


def test_uncertainty_is_judged_on_the_written_six_digits() -> None:
    assert not is_uncertain(0.4999996, 0.5)  # written 0.5: not below 0.5
    assert is_uncertain(0.4999994, 0.5)  # written 0.499999
    assert not is_uncertain(np.float32(0.9999999), 1.0)  # written 1.0
    assert not is_uncertain(0.1, None)


# --------------------------------------------------------------------------------------
# Writers, read back


HOSTILE = ["1", "-1", "=HYPERLINK(\"http://x\")", "a, \"quoted\"\nsecond line", "tab\there", "@SUM(A1)",
           "сбербанк 🙂"]


def written(output_format: str, columns: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    write_row = row_writer(out, output_format, columns)
    for row in rows:
        write_row(row)
    return out.getvalue()


def test_csv_round_trip() -> None:
    rows = [[text, -1, 0.5, text] for text in HOSTILE]
    text = written("csv", ["id", "label", "p_x", "text"], rows)
    back = list(csv.reader(io.StringIO(text)))
    assert back[0] == ["id", "label", "p_x", "text"]
    assert back[1:] == [[not_formula(t), "-1", "0.5", not_formula(t)] for t in HOSTILE]
    assert [r[3] for r in back[1:]] == ["1", "-1", "'=HYPERLINK(\"http://x\")", "a, \"quoted\"\nsecond line",
                                        "tab\there", "'@SUM(A1)", "сбербанк 🙂"]


def test_tsv_has_no_quoting_so_tabs_and_line_breaks_become_spaces() -> None:
    rows = [[text, "=1", 0.25] for text in HOSTILE]
    text = written("tsv", ["id", "label", "p_a\tb"], rows)
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == len(HOSTILE) + 2  # one line per row, none split
    back = list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    assert back[0] == ["id", "label", "p_a b"]  # a class name with a tab too
    assert [r[0] for r in back[1:]] == ["1", "-1", "'=HYPERLINK(\"http://x\")", "a, \"quoted\" second line",
                                        "tab here", "'@SUM(A1)", "сбербанк 🙂"]
    assert {r[1] for r in back[1:]} == {"'=1"} and {r[2] for r in back[1:]} == {"0.25"}


def test_jsonl_round_trip_keeps_every_value_as_it_is() -> None:
    rows = [[text, -1, 0.5, text] for text in HOSTILE]
    text = written("jsonl", ["id", "label", "p_x", "text"], rows)
    assert "сбербанк 🙂" in text  # not \u-escaped
    back = [json.loads(line) for line in text.splitlines()]
    assert back == [{"id": t, "label": -1, "p_x": 0.5, "text": t} for t in HOSTILE]  # no quote prefix in JSON


def test_jsonl_writes_no_header() -> None:
    assert written("jsonl", ["id"], []) == ""
    assert written("csv", ["id", "label"], []) == "id,label\n"
    assert written("tsv", ["id", "label"], []) == "id\tlabel\n"


# --------------------------------------------------------------------------------------
# not_formula


@pytest.mark.parametrize("value", ["=1+1", "+7 999 123", "-2+3", "@SUM(A1)", "-", "+", "=", "\tx", "\rx",
                                   "-inf", "-1-1", "+-1", "--1", "=-1"])
def test_formula_cells_get_a_quote(value) -> None:
    assert not_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["-1", "+0.5", "-2e-3", "1E+5", "-.5", "+3.", "0", "text", "1=1", "a-b",
                                   "", " =1", "'=1"])
def test_numbers_and_plain_text_stay(value) -> None:
    assert not_formula(value) == value


@pytest.mark.parametrize("value", [-1, -0.5, None, True])
def test_values_that_are_not_strings_stay(value) -> None:
    assert not_formula(value) is value


# --------------------------------------------------------------------------------------
# write_predictions


class FakePredictor:
    """predict_proba from the text's length; labels the most probable class's value."""

    classes = SENTIMENT

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict_proba(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        assert progress is False
        self.calls.append(texts)
        probs = np.full((len(texts), 3), 0.1)
        probs[np.arange(len(texts)), [len(t) % 3 for t in texts]] = 0.8
        return probs

    def labels(self, probs: np.ndarray) -> list:
        return [SENTIMENT.values[i] for i in probs.argmax(1)]


class CountingOut(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes: list[int] = []

    def flush(self) -> None:
        self.flushes.append(self.getvalue().count("\n"))


def test_write_predictions_writes_and_flushes_chunk_by_chunk() -> None:
    records = iter([Record(str(i), "x" * i) for i in range(5)])
    predictor, out, keep = FakePredictor(), CountingOut(), []
    count = write_predictions(predictor, records, out, RowFormat(echo=True), batch_size=8, chunk_size=2,
                              keep=keep)
    assert count == 5
    assert [len(c) for c in predictor.calls] == [2, 2, 1]
    assert out.flushes == [3, 5, 6]  # the header and each chunk's rows, flushed as they are written
    assert [p.shape for p in keep] == [(2, 3), (2, 3), (1, 3)]
    back = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["id"] for r in back] == ["0", "1", "2", "3", "4"]
    assert [r["label"] for r in back] == ["-1", "0", "1", "-1", "0"]  # class len % 3
    assert [r["p_neutral"] for r in back] == ["0.1", "0.8", "0.1", "0.1", "0.8"]
    assert back[4]["text"] == "xxxx"


def test_write_predictions_of_no_records_writes_the_header_only() -> None:
    out = io.StringIO()
    assert write_predictions(FakePredictor(), iter([]), out, RowFormat(format="tsv"), 8, 2) == 0
    assert out.getvalue() == "id\tlabel\tp_negative\tp_neutral\tp_positive\n"


def test_write_predictions_draws_no_bar_when_stderr_is_not_a_terminal(capsys) -> None:
    out = io.StringIO()
    assert write_predictions(FakePredictor(), iter([Record("1", "x")]), out, RowFormat(), 8, 2, progress=True,
                             total=1) == 1
    assert capsys.readouterr().err == ""  # tqdm's disable=None: a file or pipe gets no bar
