"""predict in pipes and on big inputs: stdin, column options, echo, chunking, lazy imports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import run_cli
from ..helpers import make_corpus
from ..helpers import assert_one_line_error


@pytest.fixture
def run(learned_run) -> Path:
    return learned_run["run"]


def test_stdin_to_stdout(run):
    result = run_cli("predict", str(run), "-", stdin="сбербанк спасибо отлично\n\nвтб ужасно плохо\n")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["id"], r["label"]) for r in rows] == [("1", "1"), ("3", "-1")]  # ids are line numbers


def test_jsonl_on_stdin_with_columns_and_echo(run):
    lines = [{"key": "a7", "body": "сбербанк спасибо"}, {"key": "b9", "body": "ужасно долго"}]
    stdin = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
    result = run_cli("predict", str(run), "-", "--input-format", "jsonl", "--text-column", "body",
                     "--id-column", "key", "--echo", "--format", "jsonl", stdin=stdin)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["id"], o["text"], o["label"]) for o in out] == [("a7", "сбербанк спасибо", 1), ("b9", "ужасно долго", -1)]
    assert all(sum(o[f"p_{c}"] for c in ("negative", "neutral", "positive")) == pytest.approx(1, abs=1e-4) for o in out)


def test_chunking_does_not_change_predictions(run, tmp_path):
    tsv = tmp_path / "many.tsv"
    rows = make_corpus(300, seed=9) + [("кошмар великолепно новое", {})]
    tsv.write_text("id\ttext\n" + "".join(f"t{i}\t{text}\n" for i, (text, _) in enumerate(rows)), encoding="utf-8")
    outputs = []
    for chunk in ("1", "7", "4096"):
        out = tmp_path / f"out{chunk}.csv"
        result = run_cli("predict", str(run), str(tsv), "--chunk-size", chunk, "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert f"wrote {len(rows)} predictions" in result.stderr
        outputs.append(list(csv.DictReader(out.open(encoding="utf-8"))))
    first = outputs[0]
    assert [r["id"] for r in first] == [f"t{i}" for i in range(len(rows))]  # input order kept
    for other in outputs[1:]:  # other batch compositions: same labels, floats equal to rounding
        assert [(r["id"], r["label"]) for r in other] == [(r["id"], r["label"]) for r in first]
        for a, b in zip(first, other):
            assert float(a["p_positive"]) == pytest.approx(float(b["p_positive"]), abs=1e-5)


def test_output_that_is_the_input_is_refused(run, tmp_path):
    lines = tmp_path / "in.txt"
    lines.write_text("сбербанк спасибо\n", encoding="utf-8")
    result = run_cli("predict", str(run), str(lines), "-o", str(lines))
    assert_one_line_error(result, "the output would overwrite the input")
    assert lines.read_text(encoding="utf-8") == "сбербанк спасибо\n"


def test_predict_imports_neither_gensim_nor_sklearn(run, tmp_path):
    """Start-up cost: gensim and sklearn take seconds to import and predict needs neither
    when every word is known (unseen words would open the run's word2vec file with gensim)."""
    lines = tmp_path / "known.txt"
    lines.write_text("сбербанк спасибо\n", encoding="utf-8")
    probe = ("import runpy, sys\nsys.argv = ['sentinet', 'predict', sys.argv[1], sys.argv[2]]\n"
             "try:\n    runpy.run_module('sentinet', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('HEAVY', sorted(m for m in ('gensim', 'sklearn', 'optuna') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", probe, str(run), str(lines)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_a_reader_that_stops_early_is_a_normal_end(quick_run, tmp_path):
    """`predict RUN big.txt | head -1`: exit 0 and nothing on stderr once the reader has gone."""
    big = tmp_path / "big.txt"
    big.write_text("".join(f"сбербанк спасибо {i}\n" for i in range(30000)), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "sentinet", "predict", str(quick_run["run"]), str(big),
                                "--chunk-size", "64"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"id,label,")
    process.stdout.close()  # what head does after its line
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0 and err == b"", (process.returncode, err)
