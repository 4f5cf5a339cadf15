"""``sentinet baseline`` as a user meets it: TF-IDF + logistic regression on exactly a config's
data, split and labels, written as an ordinary run directory that ``predict``, ``eval`` and
``report`` take like a run; its model saved as data (JSON + npz, never a pickle) and giving
sklearn's own probabilities; ``train.baseline`` printing both scores; bad input refused in one
line with nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sentinet.runs import rundir

from ..helpers import assert_one_line_error, run_cli, tiny_project

FILES = (rundir.CONFIG, rundir.METRICS, rundir.BASELINE_JSON, rundir.BASELINE_NPZ, rundir.DEV, rundir.LOG)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """The tiny data, its config, and the baseline run ``sentinet baseline`` makes of them."""
    root = tmp_path_factory.mktemp("baseline")
    data, config = tiny_project(root)
    result = run_cli("baseline", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return {**data, "config": config, "result": result, "run": Path(result.stdout.splitlines()[-1].split("\t")[0])}


def metrics(run: Path) -> dict:
    return json.loads((run / rundir.METRICS).read_text(encoding="utf-8"))


def predicted(run: Path, data_file: Path) -> list[dict]:
    result = run_cli("predict", str(run), str(data_file), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_baseline_is_an_ordinary_run_that_learns_the_tiny_corpus(made):
    run, out = made["run"], made["result"].stdout.splitlines()
    assert run.parent == made["dir"] / "runs" and run.name.startswith("tiny-baseline-")
    assert all((run / name).is_file() for name in FILES), sorted(p.name for p in run.iterdir())
    assert rundir.status(run) is None  # complete: no INCOMPLETE note
    grid = [line for line in out if line.startswith("C ")]
    assert [line.split("\t")[0] for line in grid] == ["C 0.25", "C 0.5", "C 1", "C 2", "C 4", "C 8"]
    assert any(line.startswith("chosen C ") for line in out) and any("precision" in line for line in out)
    m = metrics(run)
    assert m["kind"] == "baseline" and m["best_epoch"] is None and m["labels"] == [-1, 0, 1]
    assert m["best"]["metric"] == "sentirueval" and m["best"]["f_macro"] > 0.8
    assert m["C"] in [row["C"] for row in m["grid"]] and len(m["grid"]) == 6
    assert out[-1] == f"{run}\tdev F-macro {m['best']['f_macro']:.4f}\tF-micro {m['best']['f_micro']:.4f}\tC {m['C']:g}"
    dev = json.loads((run / rundir.DEV).read_text(encoding="utf-8"))
    assert len(dev) == 30 and all(abs(sum(r["probs"]) - 1) < 1e-5 for r in dev)  # val_fraction 0.2 of 150


def sklearn_fit(run: Path):
    """The baseline fitted again in this process, straight from sklearn with the settings and C
    that baseline.json records, on the run's own training tweets and tokenizer."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from scipy import sparse

    from sentinet.runs.rundir import read_config
    from sentinet.config.paths import resolve_paths
    from sentinet.data.tokenize import Tokenizer
    from sentinet.data.training_data import load_training_data

    spec = json.loads((run / rundir.BASELINE_JSON).read_text(encoding="utf-8"))
    config = resolve_paths(read_config(run / rundir.CONFIG))
    data, tokenize = load_training_data(config), Tokenizer(config.tokenizer)
    docs = lambda texts: [" ".join(tokenize(t)) for t in texts]  # noqa: E731
    vectorizers = [TfidfVectorizer(**{**p["settings"], "ngram_range": tuple(p["settings"]["ngram_range"])})
                   for p in spec["vectorizers"]]
    train_docs = docs(r.text for r, _ in data.train)
    X = sparse.hstack([v.fit_transform(train_docs) for v in vectorizers], format="csr")
    lr = LogisticRegression(C=spec["C"], max_iter=spec["max_iter"])  # train.class_weights: none
    lr.fit(X, [c for _, c in data.train], sample_weight=np.asarray(data.weights))
    return spec, vectorizers, lr, docs


def test_predict_gives_sklearns_probabilities_and_eval_scores_them(made):
    run = made["run"]
    spec, vectorizers, lr, docs = sklearn_fit(run)
    assert [p["vocabulary"] for p in spec["vectorizers"]] == \
        [sorted(v.vocabulary_, key=v.vocabulary_.get) for v in vectorizers]
    from sentinet.baseline import BaselinePredictor  # rebuilt from vocabulary + idf: the same transform

    texts = made["lines"].read_text(encoding="utf-8").splitlines() + ["", "совсем новые слова"]
    for saved, fitted in zip(BaselinePredictor.load(run).model.vectorizers, vectorizers):
        a, b = saved.transform(docs(texts)), fitted.transform(docs(texts))
        assert a.dtype == b.dtype and all(np.array_equal(getattr(a, k), getattr(b, k))
                                          for k in ("data", "indices", "indptr"))

    rows = predicted(run, made["lines"])
    expected = lr.predict_proba(sparse_features(vectorizers, docs([t for t in texts[:4] if t])))
    assert len(rows) == len(expected) == 3
    for row, p in zip(rows, expected):
        assert [row["p_negative"], row["p_neutral"], row["p_positive"]] == pytest.approx(p.tolist(), abs=1e-6)
        assert row["label"] == [-1, 0, 1][int(np.argmax(p))]

    ev = run_cli("eval", str(run), str(made["test"]), "--json")
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    from sentinet.data.readers import read_records
    from sklearn.metrics import f1_score

    labels = {r["id"]: r["label"] for r in predicted(run, made["test"])}
    pairs = [(gold, labels[r.id]) for r in read_records(made["test"]) for gold in r.labels.values()]
    assert report["pairs"] == len(pairs) == 32
    by_hand = f1_score([g for g, _ in pairs], [p for _, p in pairs], labels=[-1, 0, 1], average="macro")
    assert report["macro_f1"] == pytest.approx(by_hand, abs=1e-12) and report["f_macro"] > 0.8


def sparse_features(vectorizers, docs):
    from scipy import sparse

    return sparse.hstack([v.transform(docs) for v in vectorizers], format="csr")


def test_the_model_is_data_never_a_pickle(made, tmp_path):
    run = made["run"]
    spec = json.loads((run / rundir.BASELINE_JSON).read_text(encoding="utf-8"))  # plain JSON
    assert spec["kind"] == "tfidf-logreg" and spec["classes"] == [-1, 0, 1]
    with np.load(run / rundir.BASELINE_NPZ, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    assert set(arrays) == {"idf0", "idf1", "coef", "intercept", "fitted"}
    assert all(a.dtype.kind in "fiu" for a in arrays.values())
    assert arrays["coef"].shape == (3, sum(len(p["vocabulary"]) for p in spec["vectorizers"]))
    # A stranger's run directory holding a pickle is refused, never unpickled.
    import shutil

    hostile = Path(shutil.copytree(run, tmp_path / "hostile"))
    with open(hostile / rundir.BASELINE_NPZ, "wb") as f:
        np.savez(f, **{**arrays, "coef": np.array([{"x": 1}], dtype=object)})
    assert_one_line_error(run_cli("predict", str(hostile), str(made["lines"])), "unreadable baseline")
    assert_one_line_error(run_cli("export", str(run), str(tmp_path / "x.tar.gz")), "not exported yet")
    assert not (tmp_path / "x.tar.gz").exists()


@pytest.fixture(scope="module")
def trained(made) -> dict:
    out = made["dir"] / "with_baseline"
    result = run_cli("train", "--config", str(made["config"]), "--set", "train.baseline=true",
                     "--set", "train.epochs=1", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    return {"result": result, "runs": sorted(out.iterdir())}


def test_train_with_baseline_prints_both_scores(trained):
    lines = trained["result"].stdout.splitlines()
    neural, baseline = sorted(trained["runs"], key=lambda p: "-baseline-" in p.name)
    assert "-baseline-" in baseline.name and "-baseline-" not in neural.name
    assert lines[-1].startswith(f"{neural}\tdev F-macro")  # the neural run's line still comes last
    (versus,) = [line for line in lines if line.startswith("dev F-macro: neural ")]
    n, b = metrics(neural)["best"]["f_macro"], metrics(baseline)["best"]["f_macro"]
    assert versus == f"dev F-macro: neural {n:.4f} vs baseline {b:.4f} ({n - b:+.4f})"
    assert metrics(baseline)["data"]["split"] == metrics(neural)["data"]["split"]  # one split


def test_report_shows_the_run_and_its_baseline(trained):
    neural, baseline = sorted(trained["runs"], key=lambda p: "-baseline-" in p.name)
    result = run_cli("report", str(neural), str(baseline))
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert neural.name in header and baseline.name in header
    cells = {row.split()[0] + (" " + row.split()[1] if row.startswith(("dev", "best")) else ""): row for row in rows}
    assert cells["best epoch"].split()[-1] == "-" and cells["best epoch"].split()[2] == "1"
    assert f"{metrics(baseline)['best']['f_macro']:.4f}" in cells["dev F-macro"]


@pytest.mark.parametrize("args, fragment", [
    (["--config", "nowhere.yaml"], "config file not found"),
    (["--set", "data.train=nowhere.xml"], "data.train"),
    (["--set", "train.class_weights=[1, 2]"], "train.class_weights"),  # 2 weights, 3 classes
])
def test_bad_input_is_one_line_and_leaves_nothing(made, tmp_path, args, fragment):
    if "--config" not in args:
        args = ["--config", str(made["config"]), *args]
    out = tmp_path / "runs"
    assert_one_line_error(run_cli("baseline", *args, "--output-dir", str(out), cwd=tmp_path), fragment)
    assert not out.exists() or not any(out.iterdir())


def test_a_failed_write_leaves_no_run_directory(made, tmp_path, monkeypatch):
    from sentinet import baseline
    from sentinet.config.schema import load_config
    from sentinet.errors import SentinetError

    raw = yaml.safe_load(made["config"].read_text(encoding="utf-8"))
    raw["run"]["output_dir"] = str(tmp_path / "runs")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    fitted = baseline.fit(load_config(path, []))

    def full_disk(*args, **kwargs):
        raise SentinetError("disk full")

    monkeypatch.setattr(rundir, "save_dev_predictions", full_disk)
    with pytest.raises(SentinetError, match="disk full"):
        baseline.write(fitted)
    assert list((tmp_path / "runs").iterdir()) == []
