"""Any label set, end to end through the CLI: a binary JSONL dataset with 0/1 labels and a
5-class TSV with text labels train, evaluate and predict, and the run keeps its classes."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import yaml

from .helpers import run_cli
from .helpers import FILLER, NEGATIVE, NEUTRAL, POSITIVE, write_word2vec_text
from .helpers import assert_one_line_error

SPEECH = ["говорит", "сказал", "заявил", "интервью", "речь", "цитата"]
SKIP = ["реклама", "розыгрыш", "подписывайтесь", "репост", "акция", "конкурс"]
FIVE = {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL, "speech": SPEECH, "skip": SKIP}


def texts(words: dict[object, list[str]], n: int, seed: int) -> list[tuple[str, object]]:
    rng = random.Random(seed)
    labels = list(words)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        rows.append((" ".join([*rng.sample(words[label], 2), *rng.sample(FILLER, 2)]), label))
    return rows


def config(root: Path, train: Path, fmt: str, extra: str = "") -> Path:
    words = sorted({w for ws in FIVE.values() for w in ws} | set(FILLER))
    write_word2vec_text(root / "vectors.txt", words, dim=16)
    path = root / "config.yaml"
    path.write_text(f"""
data:
  train: {train}
  format: {fmt}
  val_fraction: 0.2
{extra}
vectors:
  path: {root / 'vectors.txt'}
model:
  encoder:
    name: cnn
train:
  epochs: 6
  batch_size: 16
  optimizer:
    lr: 0.01
  seed: 3
  device: cpu
run:
  output_dir: {root / 'runs'}
""", encoding="utf-8")
    return path


def train(config_path: Path, *args: str) -> Path:
    result = run_cli("train", "--config", str(config_path), *args)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1].split("\t")[0])


def predictions(run: Path, inputs: Path, *args: str) -> list[dict]:
    result = run_cli("predict", str(run), str(inputs), *args)
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(result.stdout.splitlines()))


@pytest.fixture(scope="module")
def five_class(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("five")
    rows = texts(FIVE, 250, seed=1)
    (root / "train.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows), encoding="utf-8")
    held_out = texts(FIVE, 50, seed=2)
    (root / "test.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in held_out),
                                   encoding="utf-8")
    run = train(config(root, root / "train.tsv", "tsv"))
    return {"root": root, "run": run}


def test_five_text_classes_train_eval_predict(five_class):
    run, root = five_class["run"], five_class["root"]
    stored = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["data"]["labels"]
    assert stored == ["negative", "neutral", "positive", "skip", "speech"]
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["labels"] == stored and metrics["best"]["metric"] == "macro_f1"
    assert metrics["best"]["score"] > 0.9 and "f_macro" not in metrics["best"]  # the words give the classes away
    assert {f"f1_{c}" for c in stored} <= set(metrics["best"])
    header = (run / "metrics.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "f1_speech" in header and "f1_skip" in header

    result = run_cli("eval", str(run), str(root / "test.tsv"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["metric"] == "macro_f1" and len(report["confusion"]) == 5 and report["macro_f1"] > 0.9
    assert "f_pos" not in report

    (root / "in.txt").write_text("в речь заявил и\nна конкурс репост это\nмой ужасно плохо в\n", encoding="utf-8")
    rows = predictions(run, root / "in.txt")
    assert list(rows[0]) == ["id", "label", "p_negative", "p_neutral", "p_positive", "p_skip", "p_speech"]
    assert [r["label"] for r in rows] == ["speech", "skip", "negative"]
    for r in rows:
        assert sum(float(r[f"p_{c}"]) for c in stored) == pytest.approx(1.0, abs=1e-5)


def test_eval_refuses_labels_the_run_does_not_know(five_class):
    root = five_class["root"]
    (root / "other.tsv").write_text("text\tlabel\nречь заявил\tsarcasm\n", encoding="utf-8")
    result = run_cli("eval", str(five_class["run"]), str(root / "other.tsv"))
    assert_one_line_error(result, "label 'sarcasm', which is not in the run's labels")


def test_xml_output_needs_sentiment_labels(five_class, tmp_path):
    from .helpers import make_corpus, sentirueval_xml

    gold = tmp_path / "gold.xml"
    gold.write_text(sentirueval_xml(make_corpus(6, seed=1)), encoding="utf-8")
    result = run_cli("predict", str(five_class["run"]), str(gold), "--format", "sentirueval",
                     "-o", str(tmp_path / "out.xml"))
    assert_one_line_error(result, "--format sentirueval writes -1/0/1")
    assert not (tmp_path / "out.xml").exists()


def test_binary_jsonl_with_declared_order(tmp_path):
    """data.labels fixes the class order: 1 before 0 gives p_1 as the first column."""
    words = {1: POSITIVE, 0: NEGATIVE}
    rows = texts(words, 120, seed=4)
    train_file = tmp_path / "train.jsonl"
    train_file.write_text("".join(json.dumps({"text": t, "label": y}, ensure_ascii=False) + "\n"
                                  for t, y in rows), encoding="utf-8")
    run = train(config(tmp_path, train_file, "jsonl", "  labels: [1, 0]"))
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["labels"] == [1, 0] and metrics["best"]["metric"] == "macro_f1"
    assert metrics["best"]["macro_f1"] > 0.9
    (tmp_path / "in.txt").write_text("спасибо отлично\nужасно плохо\n", encoding="utf-8")
    rows = predictions(run, tmp_path / "in.txt")
    assert list(rows[0])[2:] == ["p_1", "p_0"]
    assert [r["label"] for r in rows] == ["1", "0"]
    result = run_cli("predict", str(run), str(tmp_path / "in.txt"), "--format", "jsonl")
    assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == [1, 0]  # numbers stay numbers


def test_declared_labels_refuse_a_stray_label(tmp_path):
    train_file = tmp_path / "train.tsv"
    train_file.write_text("text\tlabel\nспасибо\tpos\nплохо\tneg\nвзрыв\tboom\n", encoding="utf-8")
    result = run_cli("train", "--config", str(config(tmp_path, train_file, "tsv", "  labels: [pos, neg]")))
    assert_one_line_error(result, "has label 'boom', which is not in the run's labels ['pos', 'neg']")
    assert not (tmp_path / "runs").exists()


def test_class_weights_must_match_the_classes(five_class, tmp_path):
    cfg = config(tmp_path, five_class["root"] / "train.tsv", "tsv")
    result = run_cli("train", "--config", str(cfg), "--set", "train.class_weights=[1, 2, 3]")
    assert_one_line_error(result, "train.class_weights: 3 weights for the 5 classes")
    assert not (tmp_path / "runs").exists()
