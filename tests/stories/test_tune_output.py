"""What sentinet tune shows: one line per trial on the terminal, each trial's training log in
its run's train.log, and the objective named by train.metric everywhere (the trial lines, the
summary, trials.md, best.yaml, best_so_far.png)."""

from __future__ import annotations

import re

import optuna
import pytest
from optuna.trial import TrialState

from sentinet.reporting import plots
from sentinet.tuning import tuner
from sentinet.tuning.search_space import Job, Param

from tests.helpers import run_cli, study_files

SPACE = """
train.optimizer.lr: {type: float, low: 3.0e-3, high: 3.0e-2, log: true}
model.encoder.hidden_size: {type: int, low: 8, high: 16, step: 8}
"""
TRIAL_LINE = re.compile(r"^trial (\d) complete  dev macro-F1 [01]\.\d{4}  lr=\S+  hidden_size=(8|16)  "
                        r"\(\d+\.\ds\)(  \*best)?$")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_three_trials_print_three_lines_and_log_the_rest(tiny_data, jobs):
    study = study_files(tiny_data, SPACE)
    result = run_cli("tune", "--config", str(study["base"]), "--space", str(study["space"]),
                     "--output-dir", str(study["out"]), "--trials", "3", "--jobs", jobs,
                     "--set", "train.metric=macro_f1", "--set", "train.epochs=2")
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    trial_lines = [line for line in lines if TRIAL_LINE.match(line)]
    assert sorted(TRIAL_LINE.match(line)[1] for line in trial_lines) == ["0", "1", "2"], lines
    if jobs == "1":  # two workers may finish at once, each seeing the other's equal score
        assert trial_lines[0].endswith("*best")  # the first to finish is the best so far
    assert len([line for line in lines if line.startswith("trial ")]) == 3
    # the header, where the logs are, the 5-line table, the summary: nothing of the training
    assert len(lines) <= 14, lines
    for word in ("precision", "support", "epoch", "vectors:", "run:", "dev score", "F-macro"):
        assert word not in result.stdout + result.stderr, word
    assert re.search(r"^best: trial \d, dev macro-F1 [01]\.\d{4} → ", result.stdout, re.M)

    assert "| trial | state | dev macro-F1 | seconds |" in (study["dir"] / "trials.md").read_text("utf-8")
    assert "dev macro-F1" in (study["dir"] / "best.yaml").read_text("utf-8").splitlines()[0]
    logs = sorted((study["dir"] / "trials").glob("trial*/train.log"))
    assert len(logs) == 3
    for log in logs:  # each trial's whole training output, which the terminal no longer shows
        text = log.read_text("utf-8")
        assert "epoch   1/2" in text and "epoch   2/2" in text and "precision" in text, text


def test_the_summary_and_its_picture_name_the_metric_the_trials_resolved(tmp_path, monkeypatch):
    """auto names no metric until a trial resolves it by its labels: F-macro for SentiRuEval's."""
    dropout = Param("model.head_dropout", "float", 0.0, 0.5)
    job = Job("auto", f"sqlite:///{tmp_path / 'study.db'}", tmp_path, {"train": {"metric": "auto"}},
              (dropout,), 0)
    study = tuner.create_study(job)
    for i, value in enumerate([0.4, 0.6]):
        study.add_trial(optuna.trial.create_trial(
            params={dropout.key: i / 10}, distributions={dropout.key: optuna.distributions.FloatDistribution(0, 0.5)},
            value=value, state=TrialState.COMPLETE, user_attrs={"metric": "sentirueval"}))
    drawn = {}

    def draw(path, series, log, score):  # the y axis and title of best_so_far.png
        drawn["score"] = score
        return True

    monkeypatch.setattr(plots, "write_best_so_far", draw)
    summary = tuner.summarize(job)
    assert summary.score == drawn["score"] == "dev F-macro"
    assert summary.table.splitlines()[0].startswith("| trial | state | dev F-macro |")
    assert "trial 1, dev F-macro 0.6000" in (tmp_path / "best.yaml").read_text("utf-8").splitlines()[0]
