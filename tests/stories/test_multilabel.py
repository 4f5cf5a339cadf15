"""Multi-label classification (model.head: multilabel) end to end, on a generated set whose
structure is known: each class has its own keywords, a text carries a class exactly when one of
that class's keywords is in it (each class with a chance of 35%, so some texts carry none and
some carry all three), and the rest of a text is filler shared by every class.

One run is trained per module (word2vec vectors learnt on the texts, unfrozen, 16 dimensions:
seconds), and every command is asked about it as a user asks: train's log and files, eval,
predict in every format with --threshold, explain --class, the Python API, export archives,
ONNX, ensembles and serve; the same data as TSV (data.label_separator) and fastText lines is
read by a dry run; what multi-label does not combine with is refused in one line."""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
import tarfile
from pathlib import Path

import pytest

from ..helpers import assert_one_line_error, free_port, run_cli

CLASSES = ("complaint", "praise", "question")
KEYWORDS = {"complaint": ("ужас", "плохо", "завис"), "praise": ("спасибо", "отлично", "супер"),
            "question": ("почему", "когда", "где")}
FILLER = ("банк", "карта", "счет", "перевод", "офис", "приложение", "сегодня", "вчера", "опять", "деньги",
          "кредит", "очередь")
# Texts whose label sets the keywords make plain (none, one, two and all three classes)
CLEAR = [("банк ужас спасибо", ("complaint", "praise")),
         ("когда карта", ("question",)),
         ("офис счет сегодня", ()),
         ("плохо почему отлично карта", CLASSES),
         ("где мои деньги", ("question",)),
         ("супер перевод вчера", ("praise",)),
         ("приложение завис опять", ("complaint",))]


def make_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        labels = [c for c in CLASSES if rng.random() < 0.35]
        words = [*rng.sample(FILLER, 3), *(rng.choice(KEYWORDS[c]) for c in labels)]
        rng.shuffle(words)
        rows.append({"id": str(i), "text": " ".join(words), "label": labels})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


CONFIG = """
data:
  train: {train}
  dev: {dev}{extra}
model:
  head: multilabel
  encoder: {{name: cnn, filters: 16}}
vectors:
  freeze: false
  cache_dir: {cache}
  word2vec: {{dim: 16, min_count: 1, epochs: 10}}  # a number, not auto: the run learns in 12 epochs
train:
  epochs: 12
  batch_size: 32
  optimizer: {{lr: 0.01}}
  seed: 3
  device: cpu
run:
  output_dir: {runs}
"""


def write_config(root: Path, name: str, train: Path, extra: str = "") -> Path:
    config = root / name
    config.write_text(CONFIG.format(train=train, dev=root / "dev.jsonl", extra=extra, cache=root / "cache",
                                    runs=root / "runs"), encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def ml(tmp_path_factory) -> dict:
    """The one run of the module, trained from JSON Lines, and the files it was trained from."""
    root = tmp_path_factory.mktemp("multilabel")
    train = write_jsonl(root / "train.jsonl", make_rows(300, seed=1))
    dev = write_jsonl(root / "dev.jsonl", make_rows(100, seed=2))
    config = write_config(root, "ml.yaml", train)
    run = root / "run"
    trained = run_cli("train", "--config", str(config), "--run-dir", str(run))
    assert trained.returncode == 0, trained.stderr
    lines = root / "clear.txt"
    lines.write_text("".join(text + "\n" for text, _ in CLEAR), encoding="utf-8")
    return {"root": root, "train": train, "dev": dev, "config": config, "run": run, "lines": lines,
            "log": trained.stdout + trained.stderr, "predicted": {}}


def predicted(ml: dict, *args: str) -> str:
    """``sentinet predict RUN clear.txt ARGS``'s output (each asked once per module)."""
    if args not in ml["predicted"]:
        result = run_cli("predict", str(ml["run"]), str(ml["lines"]), *args)
        assert result.returncode == 0, result.stderr
        ml["predicted"][args] = result.stdout
    return ml["predicted"][args]


def expected_sets() -> list[set[str]]:
    return [set(labels) for _, labels in CLEAR]


# --------------------------------------------------------------------------------------
# train


def test_train_chooses_a_threshold_per_class_and_scores_the_label_sets(ml):
    run, log = ml["run"], ml["log"]
    assert "labels: complaint (" in log and "praise (" in log and "question (" in log
    assert "thresholds chosen on dev, each class's best F1: complaint " in log
    assert "samples-F1" in log and "samples avg" in log and "Traceback" not in log
    assert "thresholds chosen on dev" in (run / "train.log").read_text(encoding="utf-8")
    thresholds = json.loads((run / "decision.json").read_text(encoding="utf-8"))["thresholds"]
    assert len(thresholds) == 3 and all(0 < t <= 1 for t in thresholds)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["multilabel"] is True and metrics["thresholds"] == thresholds
    assert metrics["decision_bias"] is None and metrics["labels"] == list(CLASSES)
    best = metrics["best"]
    for key in ("micro_f1", "macro_f1", "samples_f1"):
        assert best[key] >= 0.9, (key, best)
    assert {"weighted_f1", "accuracy", "f1_complaint", "f1_praise", "f1_question"} <= set(best)
    assert not (run / "confusion.png").exists()  # each class is decided on its own


def test_eval_json_scores_like_train_and_reports_each_class(ml):
    result = run_cli("eval", str(ml["run"]), str(ml["dev"]), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    best = json.loads((ml["run"] / "metrics.json").read_text(encoding="utf-8"))["best"]
    for key in ("micro_f1", "macro_f1", "samples_f1", "weighted_f1", "accuracy"):
        assert report[key] == pytest.approx(best[key], abs=1e-9), key  # the same dev set, the same thresholds
    assert report["classes"] == list(CLASSES) and report["pairs"] == 100
    for name in CLASSES:
        assert 0.9 <= report[f"f1_{name}"] <= 1 and name in report["report"]
    assert "samples avg" in report["report"] and "micro avg" in report["report"]
    shares = report["prevalence"]
    assert shares["em"] is None and "multi-label" in shares["em_left_out"]
    assert len(shares["count"]) == len(shares["true"]) == 3
    text = run_cli("eval", str(ml["run"]), str(ml["dev"]))
    assert text.returncode == 0, text.stderr
    assert "samples-F1" in text.stdout and "no EM" in text.stdout


# --------------------------------------------------------------------------------------
# predict


def test_predict_writes_the_label_sets_and_every_probability(ml):
    rows = list(csv.DictReader(io.StringIO(predicted(ml))))
    assert list(rows[0]) == ["id", "label", "p_complaint", "p_praise", "p_question"]
    assert [set(filter(None, r["label"].split("|"))) for r in rows] == expected_sets()
    tsv = list(csv.DictReader(io.StringIO(predicted(ml, "--format", "tsv")), delimiter="\t"))
    assert [r["label"] for r in tsv] == [r["label"] for r in rows]
    assert [r["p_praise"] for r in tsv] == [r["p_praise"] for r in rows]
    jsonl = [json.loads(line) for line in predicted(ml, "--format", "jsonl").splitlines()]
    assert all(isinstance(r["label"], list) for r in jsonl)
    assert [set(r["label"]) for r in jsonl] == expected_sets()
    for r in jsonl:
        assert r["label"] == [c for c in CLASSES if c in r["label"]]  # in class order
        assert {f"p_{c}" for c in CLASSES} <= set(r)
    sums = [sum(r[f"p_{c}"] for c in CLASSES) for r in jsonl]
    assert max(sums) > 2 and min(sums) < 0.5  # one sigmoid per class: no sum to 1


@pytest.mark.parametrize("cut", ["0.99", "1e-6"])
def test_threshold_takes_every_class_that_reaches_it(ml, cut):
    rows = [json.loads(line) for line in predicted(ml, "--format", "jsonl", "--threshold", cut).splitlines()]
    p = float(cut)
    for r in rows:
        probs = {c: r[f"p_{c}"] for c in CLASSES}
        if any(abs(x - p) < 1e-5 for x in probs.values()):
            continue  # written with 6 decimals: too close to tell
        assert r["label"] == [c for c in CLASSES if probs[c] >= p], r
    if cut == "1e-6":
        assert sum(r["label"] == list(CLASSES) for r in rows) >= len(rows) - 1  # (nearly) everything
    else:
        sure = [set(r["label"]) for r in rows]
        assert all(s <= e for s, e in zip(sure, expected_sets()))  # only what the keywords make sure
        assert any(sure) and sure != expected_sets()


def test_predicted_tsv_scores_back_as_its_own_labels(ml, tmp_path):
    """predict's TSV (label sets joined by |, an empty cell for none) is eval's input as it is."""
    out = tmp_path / "predicted.tsv"
    out.write_text(predicted(ml, "--format", "tsv", "--echo"), encoding="utf-8")
    assert "\t\t" in out.read_text(encoding="utf-8")  # a text given none of the classes: an empty cell
    result = run_cli("eval", str(ml["run"]), str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["items"] == len(CLEAR) and report["unlabelled"] == 0
    assert report["accuracy"] == report["samples_f1"] == 1.0  # the model's own label sets, every one scored


def test_fasttext_output_reads_back_as_the_same_labels(ml, tmp_path):
    from sentinet.data.readers import read_records

    out = tmp_path / "predicted.txt"
    out.write_text(predicted(ml, "--format", "fasttext"), encoding="utf-8")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "__label__complaint __label__praise банк ужас спасибо"
    records = read_records(out, format="fasttext")
    assert [r.text for r in records] == [text for text, _ in CLEAR]
    # a text with none of the classes is written without a __label__ (read back: no label)
    values = [r.labels.get("label", ()) for r in records]  # several labels: a tuple; one: the label
    got = [set(v) if isinstance(v, tuple) else {v} for v in values]
    assert got == expected_sets()
    assert_one_line_error(run_cli("predict", str(ml["run"]), str(ml["lines"]), "--format", "fasttext",
                                  "--top", "2"), "--top", "fasttext")


# --------------------------------------------------------------------------------------
# explain


EVERY_CLASS = "плохо почему отлично карта"  # each class present, each by its own keyword


def top_token(answer: dict) -> str:
    return answer["tokens"][max(range(len(answer["scores"])), key=answer["scores"].__getitem__)]


def test_explain_names_the_class_asked_for(ml):
    result = run_cli("explain", str(ml["run"]), EVERY_CLASS, "--class", "praise", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["label"] == answer["label_name"] == "praise"
    assert set(answer["probabilities"]) == set(CLASSES)
    assert top_token(answer) in KEYWORDS["praise"]  # the class's own keyword explains it
    assert_one_line_error(run_cli("explain", str(ml["run"]), "когда карта", "--class", "nope"),
                          "class 'nope' is not one of the model's classes (complaint, praise, question)")


# --------------------------------------------------------------------------------------
# the same data in other formats; what multi-label does not combine with


def test_tsv_with_a_label_separator_and_fasttext_lines_read_the_same_classes(ml):
    root = ml["root"]
    rows = make_rows(300, seed=1)  # an empty cell, a line without __label__: none of the classes
    tsv = root / "train.tsv"
    tsv.write_text("id\ttext\tlabel\n" + "".join(f"{r['id']}\t{r['text']}\t{'|'.join(r['label'])}\n"
                                                 for r in rows), encoding="utf-8")
    fasttext = root / "train_ft.txt"
    fasttext.write_text("".join(" ".join([*(f"__label__{c}" for c in r["label"]), r["text"]]) + "\n"
                                for r in rows), encoding="utf-8")
    counts = {c: sum(c in r["label"] for r in rows) for c in CLASSES}
    shown = f"labels: complaint ({counts['complaint']}), praise ({counts['praise']}), question ({counts['question']})"
    (vectors,) = (root / "cache").glob("word2vec-*.bin")  # the run's word2vec vectors: no second training
    assert any(not r["label"] for r in rows)
    for config, extra in ((write_config(root, "tsv.yaml", tsv), ["--set", "data.label_separator=|"]),  # `|`: not YAML's block
                          (write_config(root, "ft.yaml", fasttext), [])):
        result = run_cli("train", "--config", str(config), "--dry-run", "--set", f"vectors.path={vectors}", *extra)
        assert result.returncode == 0, result.stderr
        assert f"data: {len(rows)} training texts" in result.stdout
        assert shown in result.stdout, result.stdout  # three classes, never 'complaint|praise'


def test_several_labels_without_a_multilabel_head_fail_in_one_line(ml):
    assert_one_line_error(run_cli("train", "--config", str(ml["config"]), "--dry-run", "--set", "model.head=linear"),
                          "train.jsonl: id ", "has 2 labels", "set model.head: multilabel")


def test_baseline_is_refused_for_a_multilabel_run(ml):
    assert_one_line_error(run_cli("train", "--config", str(ml["config"]), "--dry-run", "--set", "train.baseline=true"),
                          "train.baseline", "model.head: multilabel")
    assert_one_line_error(run_cli("baseline", "--config", str(ml["config"])), "multilabel")


# --------------------------------------------------------------------------------------
# the Python API, export archives, ONNX, ensembles, serve


def test_python_api_returns_tuples(ml):
    import numpy as np

    import sentinet

    model = sentinet.load(ml["run"])
    texts = [text for text, _ in CLEAR]
    labels = model.predict(texts)
    assert all(isinstance(y, tuple) for y in labels)
    assert [set(y) for y in labels] == expected_sets()
    assert model.predict("когда карта") == ("question",)
    probs = model.predict_proba(texts)
    assert probs.shape == (len(texts), 3) and not np.allclose(probs.sum(axis=1), 1, atol=0.05)
    assert model.labels(probs) == labels
    shares = model.prevalence(texts)
    assert shares["em"] is None and shares["count"] == pytest.approx(
        [sum(c in y for y in labels) / len(texts) for c in CLASSES])
    report = model.evaluate([(text, gold) for text, gold in CLEAR])
    assert report["samples_f1"] == 1.0 and report["accuracy"] == 1.0
    assert model.explain("когда карта").label == "question"  # by default the most probable class
    for name in CLASSES:  # any class can be asked, each by its own keyword
        for method in ("occlusion", "ig"):
            answer = model.explain(EVERY_CLASS, method, target_class=name).to_dict()
            assert answer["label"] == name and top_token(answer) in KEYWORDS[name], (method, answer)


def test_export_archive_predicts_the_same_label_sets(ml, tmp_path):
    archive = tmp_path / "model.tar.gz"
    result = run_cli("export", str(ml["run"]), str(archive))
    assert result.returncode == 0, result.stderr
    with tarfile.open(archive) as tar:
        decision = json.loads(tar.extractfile("sentinet-export/decision.json").read())
    assert decision == json.loads((ml["run"] / "decision.json").read_text(encoding="utf-8"))  # the thresholds
    from_archive = run_cli("predict", str(archive), str(ml["dev"]), "--format", "jsonl")
    assert from_archive.returncode == 0, from_archive.stderr
    from_run = run_cli("predict", str(ml["run"]), str(ml["dev"]), "--format", "jsonl")
    archived, direct = ([json.loads(line) for line in out.stdout.splitlines()] for out in (from_archive, from_run))
    assert len(archived) == 100 and [r["label"] for r in archived] == [r["label"] for r in direct]
    for a, b in zip(archived, direct):
        assert [a[f"p_{c}"] for c in CLASSES] == pytest.approx([b[f"p_{c}"] for c in CLASSES], abs=1e-5)


def test_onnx_gives_the_sigmoid_probabilities_and_the_thresholds(ml, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    import numpy as np

    import sentinet
    from sentinet.runs.onnx import feed

    graph = tmp_path / "model.onnx"
    result = run_cli("export", str(ml["run"]), "--onnx", str(graph))
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "model.onnx.json").read_text(encoding="utf-8"))
    thresholds = json.loads((ml["run"] / "decision.json").read_text(encoding="utf-8"))["thresholds"]
    assert meta["multilabel"] is True and meta["thresholds"] == thresholds and meta["bias"] is None
    assert "sigmoid" in meta["output"] and "thresholds" in meta["decision"]
    texts = [text for text, _ in CLEAR]
    (probs,) = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"]).run(["probs"], feed(meta, texts))
    model = sentinet.load(ml["run"])
    np.testing.assert_allclose(probs, model.predict_proba(texts), atol=1e-5, rtol=0)
    decided = [{meta["labels"][j] for j in range(3) if row[j] >= meta["thresholds"][j]} for row in probs]
    assert decided == expected_sets()


def test_an_ensemble_of_multilabel_runs_chooses_its_own_thresholds(ml, tmp_path):
    twin = Path(shutil.copytree(ml["run"], tmp_path / "twin"))
    out = tmp_path / "ensemble"
    result = run_cli("ensemble", str(ml["run"]), str(twin), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "argmax" not in result.stdout + result.stderr
    thresholds = json.loads((ml["run"] / "decision.json").read_text(encoding="utf-8"))["thresholds"]
    # two copies average to the run itself: the same dev probabilities, the same thresholds
    assert json.loads((out / "decision.json").read_text(encoding="utf-8"))["thresholds"] == thresholds
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    best = json.loads((ml["run"] / "metrics.json").read_text(encoding="utf-8"))["best"]
    assert metrics["ensemble"]["samples_f1"] == pytest.approx(best["samples_f1"], abs=1e-9)
    together = run_cli("predict", str(out), str(ml["lines"]), "--format", "jsonl")
    assert together.returncode == 0, together.stderr
    assert [set(json.loads(line)["label"]) for line in together.stdout.splitlines()] == expected_sets()


def test_serve_answers_label_lists(ml, tmp_path):
    pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
    pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")
    import urllib.error
    import urllib.request

    from .servers import STOP_S, start_server, stop

    def post(url: str, body: dict) -> dict:
        request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=STOP_S) as response:
            assert response.status == 200
            return json.loads(response.read())

    port = free_port()
    process = start_server(ml["run"], port, tmp_path / "stderr.txt")
    try:
        server = f"http://127.0.0.1:{port}"
        answer = post(server + "/predict", {"texts": [text for text, _ in CLEAR]})
        labels = [p["label"] for p in answer["predictions"]]
        assert all(isinstance(y, list) for y in labels) and [set(y) for y in labels] == expected_sets()
        assert set(answer["predictions"][0]["probabilities"]) == set(CLASSES)
        shares = answer["prevalence"]
        assert shares["em"] is None and "multi-label" in shares["em_left_out"]
        assert shares["count"] == pytest.approx([sum(c in y for y in labels) / len(labels) for c in CLASSES])
        empty = post(server + "/predict", {"texts": []})
        assert empty["predictions"] == [] and empty["prevalence"]["texts"] == 0
        explained = post(server + "/explain", {"text": "банк ужас спасибо", "class": "complaint"})
        assert explained["label"] == "complaint"
        assert explained["tokens"][explained["scores"].index(max(explained["scores"]))] == "ужас"
        for body, fragment in (({"text": "x", "class": "nope"}, "class 'nope' is not one of the model's classes"),
                               ({"text": "x", "class": ["praise"]}, '"class" must be a label or class name')):
            with pytest.raises(urllib.error.HTTPError) as refused:
                post(server + "/explain", body)
            assert refused.value.code == 422 and fragment in json.loads(refused.value.read())["error"]
    finally:
        process.terminate()
        stop(process)
