"""What people look at after training: metrics.csv, the pictures, TensorBoard, `sentinet
report`, and quiet logs when nobody watches a terminal."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import assert_one_line_error, run_cli, tiny_config_yaml, write_tiny_data


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> list[Path]:
    """Two runs that differ in hidden size (the first with TensorBoard), trained once for the module."""
    tiny_data = write_tiny_data(tmp_path_factory.mktemp("curves"))
    config = tiny_data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(tiny_data, epochs=3), encoding="utf-8")
    out = tiny_data["dir"] / "runs"
    runs = []
    for hidden, extra in ((16, ["--set", "run.tensorboard=true"]), (8, [])):
        result = run_cli("train", "--config", str(config), "--output-dir", str(out), "--set",
                         f"model.encoder.hidden_size={hidden}", "--set", f"run.name=h{hidden}",
                         "--set", "train.patience=3", *extra)
        assert result.returncode == 0, result.stderr
        assert "it/s" not in result.stderr, "progress bars must stay off when stderr is not a terminal"
        (run,) = out.glob(f"h{hidden}-*")
        runs.append(run)
    return runs


def test_metrics_csv_pictures_and_tensorboard(two_runs):
    run = two_runs[0]
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    rows = list(csv.DictReader((run / "metrics.csv").open(encoding="utf-8")))
    assert [int(r["epoch"]) for r in rows] == [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    for row, epoch in zip(rows, metrics["epochs"]):
        assert float(row["f_macro"]) == pytest.approx(epoch["f_macro"])
        assert float(row["dev_loss"]) > 0 and 0 <= float(row["f1_neutral"]) <= 1
        # the official F-macro is the mean of the positive and negative F1
        assert float(row["f_macro"]) == pytest.approx((float(row["f1_positive"]) + float(row["f1_negative"])) / 2)

    import matplotlib.image

    for name, min_width in (("curves.png", 1000), ("confusion.png", 400)):
        image = matplotlib.image.imread(run / name)
        assert image.shape[1] >= min_width and image.std() > 0.05, name  # a real picture, not blank

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    logged = [e.value for e in events.Scalars("f_macro")]
    assert logged == pytest.approx([e["f_macro"] for e in metrics["epochs"]], rel=1e-6)


def test_report_shows_what_differs_and_the_scores(two_runs):
    result = run_cli("report", *map(str, two_runs), "--md")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"|  | {two_runs[0].name} | {two_runs[1].name} |"
    assert "| model.encoder.hidden_size | 16 | 8 |" in lines
    assert "| run.tensorboard | true | false |" in lines
    best = [json.loads((r / "metrics.json").read_text(encoding="utf-8"))["best"] for r in two_runs]
    cells = [f"F-macro {b['f_macro']:.4f}  F-micro {b['f_micro']:.4f}" for b in best]
    assert f"| dev | {cells[0]} | {cells[1]} |" in lines
    assert not any(line.startswith("| train.seed") for line in lines)  # equal keys are not shown
    plain = run_cli("report", *map(str, two_runs))
    assert plain.returncode == 0 and "model.encoder.hidden_size" in plain.stdout


def test_report_over_a_glob_leaves_out_study_folders_and_files(two_runs, tmp_path):
    """``report runs/*`` where tune wrote a study beside the runs and a log lies there too."""
    study = tmp_path / "tune_study"
    study.mkdir()
    (study / "trials.md").write_text("| trial |\n", encoding="utf-8")
    (study / "study.db").write_bytes(b"")
    log = tmp_path / "notes.txt"
    log.write_text("x", encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("report", *map(str, two_runs), str(study), str(log), str(empty))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == [r.name for r in two_runs]
    notes = result.stderr.splitlines()
    assert notes == [f"note: {study}: a tune study, not a run (its trials are in {study / 'trials.md'}); left out",
                     f"note: {log}: a file, not a run directory; left out",
                     f"note: {empty}: not a sentinet run directory (no metrics.json or config.yaml); left out"]
    assert "Errno" not in result.stderr
    assert_one_line_error(run_cli("report", str(study)), f"{study}: a tune study, not a run")
    assert_one_line_error(run_cli("report", str(log), str(empty)), "no run directories among the 2 paths given")
    assert_one_line_error(run_cli("report", str(tmp_path / "gone"), str(two_runs[0])), "gone: no such run directory")


def test_a_run_without_matplotlib_still_trains_and_says_which_extra(tiny_data, tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError('blocked for this test')\n", encoding="utf-8")
    config = tiny_data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(tiny_data, epochs=1), encoding="utf-8")
    import os

    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-m", "sentinet", "train", "--config", str(config)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "pip install -e '.[plots]' in the sentinet checkout; make install has it" in result.stdout
    (run,) = (tiny_data["dir"] / "runs").iterdir()
    assert (run / "metrics.csv").is_file() and not (run / "curves.png").exists()
