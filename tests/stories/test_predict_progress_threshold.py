"""predict on a terminal and predict --threshold (issue 31, items 12 and 3).

A progress bar of the records labelled goes to stderr when it is a terminal (checked on a real
pseudo-terminal, as a user meets it), never into a file or a pipe, and never changes a byte of
the rows. --threshold P writes an empty label (null in JSONL) on every row whose written top
probability is below P, the rest of the row unchanged, in every format."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinet.cli.main import app, main

from ..helpers import assert_one_line_error, make_corpus, run_cli


def on_terminal(*args: str, stdin: bytes | None = None, timeout: float = 300) -> tuple[int, str]:
    """``sentinet ARGS`` with stdout and stderr (and stdin, unless ``stdin`` is piped in) on a
    100x24 pseudo-terminal; returns the exit code and all the terminal showed, read until the
    process has ended and closed it (no fixed sleeps)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a pty starts 0x0
    proc = subprocess.Popen([sys.executable, "-m", "sentinet", *args], stdout=slave, stderr=slave,
                            stdin=slave if stdin is None else subprocess.PIPE)
    os.close(slave)
    if stdin is not None:
        proc.stdin.write(stdin)  # small: the pipe holds it all
        proc.stdin.close()
    shown = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            assert ready, f"no output for {timeout} s: {bytes(shown)!r}"
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process has ended and the terminal's other side is closed
                break
            if not data:
                break
            shown += data
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.wait(timeout=60), shown.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """The same 60 tweets as txt (blank lines between some), TSV and SentiRuEval XML."""
    from ..helpers import sentirueval_xml

    root = tmp_path_factory.mktemp("inputs")
    rows = make_corpus(60, seed=5)
    texts = [text for text, _ in rows]
    txt = root / "tweets.txt"
    txt.write_text("".join(t + "\n" + "\n" * (i % 7 == 0) for i, t in enumerate(texts)), encoding="utf-8")
    tsv = root / "tweets.tsv"
    tsv.write_text("id\ttext\n" + "".join(f"t{i}\t{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    xml = root / "tweets.xml"
    xml.write_text(sentirueval_xml(rows), encoding="utf-8")
    return {"txt": txt, "tsv": tsv, "xml": xml, "count": len(texts)}


# --------------------------------------------------------------------------------------
# Progress on a terminal (item 12)


def test_a_terminal_shows_a_bar_of_records_and_the_file_is_byte_identical(quick_run, corpus, tmp_path):
    run, n = str(quick_run["run"]), corpus["count"]
    code, shown = on_terminal("predict", run, str(corpus["txt"]), "-o", str(tmp_path / "tty.csv"),
                              "--chunk-size", "16")
    assert code == 0, shown
    assert "predict:" in shown and f"/{n} [" in shown and "records/s" in shown, shown  # the total: no blanks
    assert f"wrote {n} predictions to" in shown
    plain = run_cli("predict", run, str(corpus["txt"]), "-o", str(tmp_path / "plain.csv"), "--chunk-size", "16")
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr == f"wrote {n} predictions to {tmp_path / 'plain.csv'}\n"  # no bar in a pipe
    assert (tmp_path / "tty.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()


def test_a_table_s_total_leaves_out_its_header(quick_run, corpus, tmp_path):
    code, shown = on_terminal("predict", str(quick_run["run"]), str(corpus["tsv"]), "-o", str(tmp_path / "o.csv"))
    assert code == 0, shown
    assert f"0/{corpus['count']} [" in shown, shown


def test_a_pipe_in_shows_a_running_count_and_rate(quick_run, corpus, tmp_path):
    text = corpus["txt"].read_bytes()
    code, shown = on_terminal("predict", str(quick_run["run"]), "-", "-o", str(tmp_path / "o.csv"), "--chunk-size",
                              "16", stdin=text)
    assert code == 0, shown
    assert re.search(r"predict: \d+ records \[.*records/s\]", shown) and f"/{corpus['count']}" not in shown, shown
    plain = run_cli("predict", str(quick_run["run"]), "-", stdin=text.decode("utf-8"))
    assert (tmp_path / "o.csv").read_text(encoding="utf-8") == plain.stdout and plain.stderr == ""


def test_rows_on_the_terminal_are_not_torn_by_a_bar(quick_run, corpus):
    code, shown = on_terminal("predict", str(quick_run["run"]), str(corpus["txt"]))
    assert code == 0, shown
    assert shown.startswith("id,label,p_negative") and "records" not in shown, shown
    assert shown.count("\n") == corpus["count"] + 1


def test_an_xml_input_s_bar_counts_its_tweets(quick_run, corpus, tmp_path):
    code, shown = on_terminal("predict", str(quick_run["run"]), str(corpus["xml"]), "-o", str(tmp_path / "o.jsonl"),
                              "--format", "jsonl")
    assert code == 0, shown
    assert f"/{corpus['count']} [" in shown, shown


# --------------------------------------------------------------------------------------
# --threshold (item 3)


def read_rows(text: str, output_format: str) -> list[dict]:
    if output_format == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    delimiter = "\t" if output_format == "tsv" else ","
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter, quoting=csv.QUOTE_MINIMAL
                               if output_format == "csv" else csv.QUOTE_NONE))


def top_probability(row: dict) -> float:
    return max(float(v) for k, v in row.items() if k.startswith("p_"))


def in_process(*args: str):
    """``sentinet ARGS`` in this process (torch imported once: a few seconds a call saved)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def predicted(learned_run, source: Path, output_format: str, *more: str) -> str:
    return in_process("predict", str(learned_run["run"]), str(source), "--format", output_format, *more).stdout


@pytest.fixture(scope="module")
def unmarked(learned_run, corpus) -> dict[str, str]:
    """predict's output of the txt tweets without --threshold, per format."""
    return {f: predicted(learned_run, corpus["txt"], f) for f in ("csv", "tsv", "jsonl")}


@pytest.mark.parametrize("output_format", ["csv", "tsv", "jsonl"])
@pytest.mark.parametrize("threshold", ["1.0", "1e-6", "median"])
def test_rows_below_the_threshold_and_only_they_get_the_uncertain_mark(learned_run, corpus, unmarked,
                                                                        output_format, threshold):
    before = read_rows(unmarked[output_format], output_format)
    tops = sorted(top_probability(r) for r in before)
    p = tops[len(tops) // 2] if threshold == "median" else float(threshold)  # a row at P exactly stays
    after = read_rows(predicted(learned_run, corpus["txt"], output_format, "--threshold", str(p)), output_format)
    mark = None if output_format == "jsonl" else ""
    assert len(after) == len(before) == corpus["count"]
    for old, new in zip(before, after):
        assert {k: v for k, v in new.items() if k != "label"} == {k: v for k, v in old.items() if k != "label"}
        assert new["label"] == (mark if top_probability(old) < p else old["label"]), (p, old, new)
    marked = sum(r["label"] == mark for r in after)
    expected = {"1.0": len(before), "1e-6": 0, "median": len(tops) // 2}[threshold]
    assert all(t < 1 for t in tops) and len(set(tops)) == len(tops)  # so these counts are exact
    assert marked == expected


def test_top_k_and_xml_inputs_keep_every_probability_and_mark_the_label(learned_run, corpus):
    before = read_rows(predicted(learned_run, corpus["xml"], "tsv", "-k", "2"), "tsv")
    p = sorted(float(r["p_1"]) for r in before)[20]
    after = read_rows(predicted(learned_run, corpus["xml"], "tsv", "-k", "2", "--threshold", str(p)), "tsv")
    assert [{**r, "label": ""} for r in before] == [{**r, "label": ""} for r in after]
    assert [r["label"] == "" for r in after] == [float(r["p_1"]) < p for r in before]
    assert sum(r["label"] == "" for r in after) == 20


def test_summary_says_how_many_rows_were_uncertain_and_shares_count_them_all(learned_run, corpus):
    run, source = str(learned_run["run"]), str(corpus["txt"])
    plain = in_process("predict", run, source, "--summary")
    marked = in_process("predict", run, source, "--summary", "--threshold", "0.5")
    uncertain = sum(r["label"] == "" for r in read_rows(marked.stdout, "csv"))
    assert 0 < uncertain < corpus["count"]
    lines = marked.stderr.splitlines()
    assert lines[:-1] == plain.stderr.splitlines()  # the same shares
    assert lines[-1] == (f"uncertain: {uncertain} of {corpus['count']} texts have a top probability below 0.5 "
                         "(written with an empty label; the shares count every text)")


@pytest.mark.parametrize("value", ["0", "-0.1", "1.5", "abc", "nan", "inf", ""])
def test_a_threshold_that_is_not_a_probability_is_one_line(quick_run, value, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sentinet", "predict", str(quick_run["run"]), str(quick_run["lines"]),
                                      "--threshold", value])
    with pytest.raises(SystemExit) as exit_info:
        main()  # in this process: as `sentinet` maps the error, without a new interpreter each time
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    assert err == f"error: --threshold {value!r}: give a probability above 0 and at most 1, such as 0.6\n"


def test_sentirueval_output_refuses_a_threshold_in_one_line(quick_run, corpus, tmp_path):
    result = run_cli("predict", str(quick_run["run"]), str(corpus["xml"]), "--format", "sentirueval",
                     "-o", str(tmp_path / "out.xml"), "--threshold", "0.6")
    assert_one_line_error(result, "--threshold", "--format sentirueval", "use csv, tsv or jsonl")
    assert not (tmp_path / "out.xml").exists()
