"""fastText's file format (`__label__x text` per line) as a fastText user brings it: train on it,
eval on it and predict from it, found by content in a .txt file (or named: data.format: fasttext,
--input-format fasttext)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..helpers import assert_one_line_error, make_corpus, run_cli, tiny_config_yaml

NAMES = {-1: "negative", 0: "neutral", 1: "positive"}


def fasttext_file(path: Path, n: int, seed: int) -> Path:
    lines = [f"__label__{NAMES[next(iter(labels.values()))]} {text}" for text, labels in make_corpus(n, seed)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_train_eval_and_predict_on_fasttext_files(quick_run, tmp_path: Path) -> None:
    train = fasttext_file(tmp_path / "train.txt", 90, seed=1)
    test = fasttext_file(tmp_path / "test.txt", 30, seed=2)
    config = tmp_path / "ft.yaml"
    config.write_text(tiny_config_yaml({**quick_run, "train": train}, epochs=1), encoding="utf-8")
    trained = run_cli("train", "--config", str(config), "--set", f"run.output_dir={tmp_path / 'runs'}")
    assert trained.returncode == 0, trained.stderr
    assert "labels: negative" in trained.stdout  # the names after __label__ are the classes
    (run,) = (tmp_path / "runs").iterdir()
    scored = run_cli("eval", str(run), str(test))
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.startswith(f"{test}: 30 scored texts\n")
    predicted = run_cli("predict", str(run), str(test))
    assert predicted.returncode == 0, predicted.stderr
    rows = list(csv.DictReader(io.StringIO(predicted.stdout)))
    assert len(rows) == 30 and set(rows[0]) == {"id", "label", "p_negative", "p_neutral", "p_positive"}
    assert {r["label"] for r in rows} <= set(NAMES.values())
    piped = run_cli("predict", str(run), "-", "--input-format", "fasttext", stdin=test.read_text(encoding="utf-8"))
    assert piped.returncode == 0 and piped.stdout == predicted.stdout  # the labels are never read as text


def test_multi_label_lines_need_a_multilabel_head(quick_run, tmp_path: Path) -> None:
    train = tmp_path / "multi.txt"
    train.write_text("__label__positive спасибо\n__label__positive __label__neutral сбербанк спасибо\n",
                     encoding="utf-8")
    config = tmp_path / "ft.yaml"
    config.write_text(tiny_config_yaml({**quick_run, "train": train}), encoding="utf-8")
    assert_one_line_error(run_cli("train", "--config", str(config), "--dry-run"),
                          "multi.txt: id '2' has 2 labels ('positive', 'neutral'); for several labels per text "
                          "set model.head: multilabel")
