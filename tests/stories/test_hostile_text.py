"""Hostile text (security issue): what a config or data file holds reaches the terminal as
text, never as terminal commands or a forged second ``error:`` line; lone surrogates, formula
cells, UTF-16 and bare CRs are decided once, where data is read or written.

Every story runs ``sentinet`` in a subprocess, as a user (or an attacker's file) meets it.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sentinet.errors import printable
from sentinet.runs.log import RunLog

from ..helpers import assert_one_line_error, make_corpus, run_cli, tiny_config_yaml, tiny_project

ESC, BEL = "\x1b", "\x07"
RAW_CONTROLS = (ESC, BEL, "\x9b", "\u202e")  # what must never reach stderr unescaped
FORGED = "/nonexist/\x1b]0;PWNED\x07\nerror: forged.xml"


def assert_escaped(stderr: str) -> None:
    for char in RAW_CONTROLS:
        assert char not in stderr, repr(stderr)


def predict_stdin(run: Path, data: bytes, *args: str) -> subprocess.CompletedProcess:
    """``sentinet predict RUN - ARGS`` with ``data`` on stdin as bytes, untranslated."""
    result = subprocess.run([sys.executable, "-m", "sentinet", "predict", str(run), "-", *args], input=data,
                            capture_output=True, timeout=300)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode("utf-8"),
                                       result.stderr.decode("utf-8"))


def jsonl(path: Path, rows: list[dict]) -> Path:
    """One JSON object per line, ASCII-escaped: a lone surrogate is written as JSON's \\ud800."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------
# One function escapes what reaches a terminal


@pytest.mark.parametrize("raw, shown", [
    ("a\nb", "a\\nb"), ("a\rb\tc", "a\\rb\\tc"), ("\x1b]0;x\x07", "\\x1b]0;x\\x07"), ("\x7f", "\\x7f"),
    ("\x85\x9b", "\\x85\\x9b"), ("\u2028\u2029", "\\u2028\\u2029"), ("\u202a\u202e\u2066\u2069", "\\u202a\\u202e\\u2066\\u2069"),
    ("\ud800", "\\ud800"), ("ж é 😀 \u00a0 C:\\x", "ж é 😀 \u00a0 C:\\x"),
])
def test_printable_shows_every_control_character_as_an_escape(raw, shown):
    assert printable(raw) == shown


def test_a_log_message_keeps_its_own_lines_and_loses_its_controls(capsys):
    RunLog()("report\nclass \x1b[31mred\x07")
    assert capsys.readouterr().out == "report\nclass \\x1b[31mred\\x07\n"


# --------------------------------------------------------------------------------------
# Terminal control characters from configs, data files and options


def test_a_data_path_cannot_forge_a_second_error_line(tmp_path):
    config = tmp_path / "forged.yaml"
    config.write_text('data:\n  train: "/nonexist/\\e]0;PWNED\\a\\nerror: forged.xml"\n', encoding="utf-8")
    for command in (["train", "--config", str(config), "--dry-run"],
                    ["train", "--config", str(config), "--dry-run", "--set", f"data.dev={FORGED}"]):
        result = run_cli(*command)
        assert_one_line_error(result, "\\x1b]0;PWNED\\x07\\nerror: forged.xml")
        assert_escaped(result.stderr)


def test_config_show_notes_a_forged_data_path_escaped(tmp_path):
    config = tmp_path / "forged.yaml"
    config.write_text('data:\n  train: "/nonexist/\\e]0;PWNED\\a\\nerror: forged.xml"\n', encoding="utf-8")
    result = run_cli("config", "show", str(config))
    assert result.returncode == 0, result.stderr
    assert_escaped(result.stderr)
    assert "\nerror: " not in result.stderr


def test_a_jsonl_field_name_with_esc_and_bel_is_shown_escaped(quick_run, tmp_path):
    data = jsonl(tmp_path / "fields.jsonl", [{"te\x1b]0;PWNED\x07xt": "сбербанк спасибо", "label": 1}])
    for command in (["eval", str(quick_run["run"]), str(data)], ["predict", str(quick_run["run"]), str(data)]):
        result = run_cli(*command)
        assert_one_line_error(result, "no 'text' field", "te\\x1b]0;PWNED\\x07xt")
        assert_escaped(result.stderr)


def test_a_run_name_with_a_control_character_is_refused_escaped(tmp_path):
    """A run name becomes a folder and a part of every log line: one with ESC is refused."""
    _, config = tiny_project(tmp_path)
    result = run_cli("train", "--config", str(config), "--set", "train.epochs=1",
                     "--set", "run.name=a\x1b]0;PWNED\x07b")
    assert_one_line_error(result, "run.name", "a\\x1b]0;PWNED\\x07b", "control characters")
    assert_escaped(result.stderr)
    assert not (tmp_path / "runs").exists()


def test_a_set_key_with_a_newline_stays_one_line(quick_run):
    key = "train.epo\x1b[2J\nerror: forged"
    for command in (["train", "--config", str(quick_run["config"]), "--dry-run", "--set", f"{key}=3"],
                    ["config", "show", str(quick_run["config"]), "--set", f"{key}=3"]):
        result = run_cli(*command)
        assert_one_line_error(result, "\\nerror: forged")
        assert_escaped(result.stderr)


def test_a_study_name_with_esc_is_escaped(tmp_path):
    _, config = tiny_project(tmp_path)
    space = tmp_path / "space.yaml"
    space.write_text("train.optimizer.lr: {low: 0.001, high: 0.1, log: true}\n", encoding="utf-8")
    result = run_cli("tune", "--config", str(config), "--space", str(space), "--trials", "1",
                     "--study", "x\x1b]0;PWNED\x07/y")
    assert_one_line_error(result)
    assert_escaped(result.stderr)


def test_a_label_with_esc_is_shown_escaped_by_eval(quick_run, tmp_path):
    data = tmp_path / "labels.tsv"
    data.write_text("id\ttext\tlabel\n1\tсбербанк спасибо\tpos\x1b]0;PWNED\x07\n", encoding="utf-8")
    result = run_cli("eval", str(quick_run["run"]), str(data))
    assert_one_line_error(result, str(data), "id '1'", "pos\\x1b]0;PWNED\\x07")
    assert_escaped(result.stderr)


# --------------------------------------------------------------------------------------
# Lone surrogates: texts mended (U+FFFD) at read time, ids and labels refused


HALF = "\ud83d"  # the first half of 😀, as a truncating exporter leaves it


@pytest.fixture
def surrogate_texts(tmp_path) -> Path:
    return jsonl(tmp_path / "halves.jsonl", [{"id": f"t{i}", "text": f"сбербанк спасибо {HALF}", "label": 1}
                                             for i in range(3)] + [{"text": "втб ужасно \udc00", "label": -1}])


@pytest.mark.parametrize("output_format", ["csv", "tsv", "jsonl"])
def test_predict_writes_texts_with_lone_surrogates_as_replacement_characters(quick_run, surrogate_texts,
                                                                              output_format, tmp_path):
    out = tmp_path / f"out.{output_format}"
    for target in (["-o", str(out)], []):
        result = run_cli("predict", str(quick_run["run"]), str(surrogate_texts), "--echo", "--format",
                         output_format, *target)
        assert result.returncode == 0, result.stderr
        written = out.read_text(encoding="utf-8") if target else result.stdout
        assert written.count("\ufffd") == 4 and "Traceback" not in result.stderr


def test_predict_on_stdin_mends_lone_surrogates_too(quick_run, surrogate_texts):
    result = predict_stdin(quick_run["run"], surrogate_texts.read_bytes(), "--input-format", "jsonl", "--echo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\ufffd") == 4


def test_eval_writes_its_report_and_mistakes_with_lone_surrogates(quick_run, surrogate_texts, tmp_path):
    errors = tmp_path / "errors.tsv"
    result = run_cli("eval", str(quick_run["run"]), str(surrogate_texts), "--json", "--errors", str(errors))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pairs"] == 4
    mistakes = errors.read_text(encoding="utf-8").splitlines()[1:]
    assert all(row.endswith("\ufffd") for row in mistakes), mistakes  # every text ends with one
    assert run_cli("eval", str(quick_run["run"]), str(surrogate_texts)).returncode == 0


def test_train_logs_and_saves_dev_predictions_of_texts_with_lone_surrogates(tmp_path):
    data, _ = tiny_project(tmp_path)
    rows = [{"id": f"t{i}", "text": f"{text} {HALF}", "label": next(iter(v for v in labels.values() if v is not None))}
            for i, (text, labels) in enumerate(make_corpus(60, seed=1))]
    train = jsonl(tmp_path / "train.jsonl", rows)
    config = tmp_path / "jsonl.yaml"
    config.write_text(tiny_config_yaml({**data, "train": train}, epochs=1), encoding="utf-8")
    result = run_cli("train", "--config", str(config))
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert len(json.loads((run / "dev_predictions.json").read_text(encoding="utf-8"))) == 12
    assert "\ufffd" in json.loads((run / "vocab.json").read_text(encoding="utf-8"))["words"]  # a token now
    assert "best epoch 1" in (run / "train.log").read_text(encoding="utf-8")


@pytest.mark.parametrize("field", ["id", "label"])
def test_an_id_or_label_with_a_lone_surrogate_is_one_line(quick_run, tmp_path, field):
    row = {"id": "t1", "text": "сбербанк спасибо", "label": "pos", field: f"x{HALF}"}
    data = jsonl(tmp_path / "bad.jsonl", [row])
    commands = [["eval", str(quick_run["run"]), str(data)],
                ["train", "--config", str(quick_run["config"]), "--dry-run", "--set", f"data.train={data}"]]
    if field == "id":
        commands.append(["predict", str(quick_run["run"]), str(data), "-o", str(tmp_path / "out.csv")])
    for command in commands:
        result = run_cli(*command)
        assert_one_line_error(result, str(data), "\\ud83d", "lone surrogate")
    assert not (tmp_path / "out.csv").exists()


# --------------------------------------------------------------------------------------
# Spreadsheet formulas in CSV/TSV cells


FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "=1"]
NUMBERS = ["-1", "+0.5", "-2e-3", "7"]


@pytest.mark.parametrize("output_format", ["csv", "tsv"])
def test_formula_cells_are_quoted_and_numbers_kept(quick_run, tmp_path, output_format):
    rows = [{"id": value, "text": value} for value in FORMULAS + NUMBERS]
    data = jsonl(tmp_path / "cells.jsonl", rows)
    result = run_cli("predict", str(quick_run["run"]), str(data), "--echo", "--format", output_format)
    assert result.returncode == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout), delimiter="," if output_format == "csv" else "\t",
                            quoting=csv.QUOTE_MINIMAL if output_format == "csv" else csv.QUOTE_NONE)
    cells = [(row["id"], row["text"]) for row in reader]
    assert cells == [("'" + v, "'" + v) for v in FORMULAS] + [(v, v) for v in NUMBERS]


def test_jsonl_output_keeps_values_as_they_are(quick_run, tmp_path):
    data = jsonl(tmp_path / "cells.jsonl", [{"id": v, "text": v} for v in FORMULAS])
    result = run_cli("predict", str(quick_run["run"]), str(data), "--echo", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == FORMULAS


# --------------------------------------------------------------------------------------
# UTF-16 is refused in one line, not read as garbage


UTF16 = {"UTF-16LE": "utf-16-le", "UTF-16BE": "utf-16-be", "UTF-16": "utf-16"}  # the last with a BOM


@pytest.mark.parametrize("named", list(UTF16))
def test_utf16_text_is_refused_by_every_reader(quick_run, tmp_path, named):
    lines = tmp_path / "tweets.txt"
    lines.write_bytes("сбербанк спасибо\nвтб ужасно плохо\n".encode(UTF16[named]))
    table = tmp_path / "labelled.tsv"
    table.write_bytes("id\ttext\tlabel\n1\tсбербанк спасибо\t1\n2\tвтб ужасно\t-1\n".encode(UTF16[named]))
    run = str(quick_run["run"])
    for command, path in ((["predict", run, str(lines)], lines), (["eval", run, str(table)], table),
                          (["train", "--config", str(quick_run["config"]), "--dry-run", "--set",
                            f"data.train={table}"], table)):
        assert_one_line_error(run_cli(*command), str(path), f"looks like {named}", "iconv")
    assert_one_line_error(predict_stdin(quick_run["run"], lines.read_bytes()), "<stdin>", f"looks like {named}")


def test_nul_bytes_alone_are_not_called_utf16(quick_run, tmp_path):
    nuls = tmp_path / "nuls.txt"
    nuls.write_bytes(b"\0" * 4096 + b"\n")
    result = run_cli("predict", str(quick_run["run"]), str(nuls))
    assert "UTF-16" not in result.stderr


# --------------------------------------------------------------------------------------
# A bare CR is a character, never a record break, in every reader


def test_a_bare_cr_splits_no_record_in_predict_or_eval(quick_run, tmp_path):
    lines = tmp_path / "cr.txt"
    lines.write_bytes("сбербанк\rспасибо\r\nвтб ужасно\n".encode())
    table = tmp_path / "cr.tsv"
    table.write_bytes("id\ttext\tlabel\n1\tсбербанк\rспасибо\t1\r\n2\tвтб ужасно\t-1\n".encode())
    run = str(quick_run["run"])
    for path in (lines, table):
        from_file = run_cli("predict", run, str(path))
        from_stdin = predict_stdin(quick_run["run"], path.read_bytes(), "--input-format", path.suffix[1:])
        for result in (from_file, from_stdin):
            assert result.returncode == 0, result.stderr
            assert [row.split(",")[0] for row in result.stdout.splitlines()[1:]] == ["1", "2"]
    evaluated = run_cli("eval", run, str(table), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["pairs"] == 2


def test_a_bare_cr_in_an_unquoted_csv_field_is_the_same_error_everywhere(quick_run, tmp_path):
    table = tmp_path / "cr.csv"
    table.write_bytes("id,text,label\n1,сбербанк\rспасибо,1\n".encode())
    run = str(quick_run["run"])
    for command in (["predict", run, str(table)], ["eval", run, str(table)]):
        assert_one_line_error(run_cli(*command), str(table), "line 2", "bare CR")
