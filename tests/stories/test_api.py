"""Issue 17 as a user meets it: the Python API from a notebook-like `python -c`, eval's error
file, pictures and class shares, predict --summary, and SIGTERM on a background run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

from ..helpers import run_cli, tiny_config_yaml


def test_python_api_labels_like_predict(learned_run):
    run, lines = learned_run["run"], learned_run["lines"]
    code = (
        "import json, sentinet, sys\n"
        f"model = sentinet.load({str(run)!r})\n"
        f"texts = open({str(lines)!r}, encoding='utf-8').read().splitlines()\n"
        "print(json.dumps({'classes': model.classes, 'labels': model.predict(texts),\n"
        "                  'probs': [[round(x, 6) for x in p] for p in model.predict_proba(texts).tolist()],\n"
        "                  'one': model.predict(texts[0]), 'torch_at_import': 'torch' in sys.modules}))\n"
    )
    got = subprocess.run([sys.executable, "-c", "import sys, sentinet; print('torch' in sys.modules)"],
                         capture_output=True, text=True)
    assert got.stdout.strip() == "False", got.stderr  # import sentinet stays light
    api = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert api.returncode == 0, api.stderr
    answer = json.loads(api.stdout)
    cli = run_cli("predict", str(run), str(lines))
    assert cli.returncode == 0, cli.stderr
    rows = list(csv.DictReader(cli.stdout.splitlines()))
    assert answer["classes"] == [-1, 0, 1]
    assert answer["labels"] == [int(r["label"]) for r in rows] and answer["one"] == answer["labels"][0]
    names = ["negative", "neutral", "positive"]
    assert answer["probs"] == [[float(r[f"p_{n}"]) for n in names] for r in rows]


def test_python_api_errors_are_sentinet_errors(tmp_path):
    code = ("import sentinet\ntry:\n    sentinet.load('nowhere')\nexcept sentinet.SentinetError as e:\n"
            "    print('caught', e)\n")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert got.stdout.startswith("caught nowhere: no such run directory"), got.stderr


def test_python_api_evaluates_pairs_and_trains(learned_run, tmp_path):
    code = (
        "import sentinet\n"
        f"model = sentinet.load({str(learned_run['run'])!r})\n"
        "report = model.evaluate([('сбербанк отличный спасибо', 1), ('втб ужасный отвратительно', -1)])\n"
        "print('R:', report['pairs'], sorted(report['prevalence']))\n"
        f"run = sentinet.train({str(learned_run['config'])!r}, overrides=['train.epochs=1'],\n"
        f"                     output_dir={str(tmp_path)!r})\n"
        "print('D:', run.parent)\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    (first,) = [x for x in got.stdout.splitlines() if x.startswith("R: ")]
    (second,) = [x for x in got.stdout.splitlines() if x.startswith("D: ")]
    assert first.startswith("R: 2 [") and "'em'" in first and "'true'" in first
    assert second == f"D: {tmp_path}"


def test_eval_writes_errors_pictures_and_shares(quick_run, tmp_path):
    errors, plots = tmp_path / "errors.tsv", tmp_path / "pictures"
    result = run_cli("eval", str(quick_run["run"]), str(quick_run["train"]), "--errors", str(errors),
                     "--plots", str(plots))
    assert result.returncode == 0, result.stderr
    assert "most confused: " in result.stdout and "class shares" in result.stdout
    assert (plots / "confusion.png").stat().st_size > 1000
    rows = list(csv.DictReader(errors.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    assert rows and all(r["gold"] != r["predicted"] for r in rows)
    confidence = [float(r["confidence"]) for r in rows]
    assert confidence == sorted(confidence, reverse=True)  # the most confident mistakes first
    report = json.loads(run_cli("eval", str(quick_run["run"]), str(quick_run["train"]), "--json").stdout)
    prevalence = report["prevalence"]
    assert len(rows) == report["pairs"] - round(report["accuracy"] * report["pairs"])
    assert abs(sum(prevalence["em"]) - 1) < 1e-6 and set(prevalence["mean_absolute_error"]) == {"count", "average", "em"}
    assert {"macro_f1", "weighted_f1", "accuracy", "score", "metric"} <= set(report)


def test_eval_says_how_many_records_had_no_label(quick_run, tmp_path):
    """Tweets with every company NULL are read but cannot be scored: eval says how many it
    left out instead of scoring fewer pairs in silence, and --json and the API count them."""
    from sentinet import load

    from ..helpers import make_corpus, sentirueval_xml

    labelled = make_corpus(12, seed=5)
    rows = labelled[:4] + [("просто текст без меток", {})] * 3 + labelled[4:]
    data = tmp_path / "mixed.xml"
    data.write_text(sentirueval_xml(rows), encoding="utf-8")
    result = run_cli("eval", str(quick_run["run"]), str(data))
    assert result.returncode == 0, result.stderr
    assert f"note: 3 records of {data} have no label and are not scored" in result.stderr
    report = json.loads(run_cli("eval", str(quick_run["run"]), str(data), "--json").stdout)
    assert report["unlabelled"] == 3 and report["pairs"] == 12
    assert load(quick_run["run"]).evaluate(quick_run["train"])["unlabelled"] == 0
    assert "no label" not in run_cli("eval", str(quick_run["run"]), str(quick_run["train"])).stderr


def test_predict_summary_goes_to_stderr(quick_run):
    result = run_cli("predict", str(quick_run["run"]), str(quick_run["lines"]), "--summary")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("id,label,")
    assert "class shares of" in result.stderr and "EM" in result.stderr


def test_sigterm_stops_training_like_ctrl_c(tiny_data):
    config = tiny_data["dir"] / "long.yaml"
    config.write_text(tiny_config_yaml(tiny_data, epochs=400), encoding="utf-8")
    out = tiny_data["dir"] / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "sentinet", "train", "--config", str(config), "--output-dir",
                             str(out), "--set", "train.patience=400", "--set", "run.progress_every=0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300  # a safety net: epoch 1 is saved in seconds
    while not any(out.glob("*/last.pt")):  # a checkpoint to keep: training is under way
        assert proc.poll() is None and time.monotonic() < deadline, "no epoch was saved"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    (run,) = out.iterdir()
    assert (run / "model.pt").is_file() and (stdout + err).count("continue with: sentinet train --resume") == 1, stdout + err
    assert "batches (" in err  # the progress lines of a non-terminal stderr
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["interrupted"] and os.path.exists(run / "INCOMPLETE")
