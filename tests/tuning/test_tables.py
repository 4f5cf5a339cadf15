"""sentinet.tuning.tables: a study's trials as rows, a Markdown table and a CSV, from Optuna's
frozen trials made here (no study, no training)."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from sentinet.tuning import tables

LR = FloatDistribution(1e-4, 1e-1, log=True)
ENCODER = CategoricalDistribution(["gru", "cnn"])


def trial(number: int, state: TrialState, value: float | None = None, params: dict | None = None,
          **attrs) -> FrozenTrial:
    params = params or {}
    dists = {k: {"lr": LR, "encoder": ENCODER}.get(k, FloatDistribution(0, 1)) for k in params}
    made = create_trial(state=state, value=value, params=params, distributions=dists, user_attrs=attrs)
    made.number = number
    return made


@pytest.fixture
def trials() -> list[FrozenTrial]:
    return [trial(0, TrialState.COMPLETE, 0.41, {"lr": 0.01}, seconds=12.34, run_dir="runs/t0"),
            trial(1, TrialState.PRUNED, 0.2, {"lr": 0.05}, seconds=3.0, pruned="below the median at epoch 2"),
            trial(2, TrialState.COMPLETE, 0.55, {"lr": 0.002, "encoder": "cnn"}, seconds=20.0),
            trial(3, TrialState.FAIL, None, {"lr": 0.1}, seconds=0.5, error="train.lr: out of range"),
            trial(4, TrialState.RUNNING, None, {"lr": 0.003})]


def test_scores_are_finished_trials_in_order_with_none_unless_complete(trials):
    assert tables.scores(list(reversed(trials))) == [(0, 0.41), (1, None), (2, 0.55), (3, None)]
    assert tables.scores([]) == []


@pytest.mark.parametrize("metric, folds, name", [
    ("auto", 0, "dev score"),  # F-macro or macro-F1 depending on the labels, unknown here
    (None, 0, "dev score"),
    ("sentirueval", 0, "dev F-macro"),
    ("weighted_f1", 5, "mean dev weighted-F1 over 5 folds"),
    ("accuracy", 0, "dev accuracy"),
    ("macro_f1", 3, "mean dev macro-F1 over 3 folds"),
    ("nonsense", 0, "dev score"),
])
def test_score_name(metric, folds, name):
    assert tables.score_name(metric, folds) == name


@pytest.mark.parametrize("base, metric", [
    ({}, "auto"),
    ({"train": {"metric": "macro_f1"}}, "macro_f1"),
    ({"train": "not a section"}, "auto"),
])
def test_study_metric_is_the_base_config_s_until_a_trial_resolved_it(base, metric):
    untrained = [trial(0, TrialState.PRUNED, 0.1), trial(1, TrialState.FAIL)]
    assert tables.study_metric(untrained, base) == metric
    resolved = trial(2, TrialState.COMPLETE, 0.5, metric="sentirueval")  # auto on SentiRuEval labels
    assert tables.study_metric([*untrained, resolved], base) == "sentirueval"


def test_short_keys_are_the_shortest_distinct_last_parts():
    keys = ["train.optimizer.lr", "model.encoder.dropout", "model.dropout", "model.encoder.name", "epochs"]
    assert tables.short_keys(keys) == {"train.optimizer.lr": "lr", "model.encoder.dropout": "encoder.dropout",
                                       "model.dropout": "model.dropout", "model.encoder.name": "name",
                                       "epochs": "epochs"}


def test_rows_rank_complete_trials_best_first_then_the_rest_by_number(trials):
    rows = tables.trial_rows(trials, ["lr"])
    assert [r["trial"] for r in rows] == [2, 0, 1, 3, 4]
    assert [r["state"] for r in rows] == ["complete", "complete", "pruned", "fail", "running"]
    assert list(rows[0]) == ["trial", "state", "score", "seconds", "lr", "encoder", "note", "run_dir"]
    assert rows[0]["encoder"] == "cnn" and rows[1]["encoder"] is None  # a parameter of another space
    assert rows[2]["score"] == 0.2  # a pruned trial's last reported score
    assert [r["note"] for r in rows] == ["", "", "below the median at epoch 2", "train.lr: out of range", ""]
    assert rows[1]["run_dir"] == "runs/t0" and rows[0]["run_dir"] == ""
    assert rows[1]["seconds"] == 12.3


def test_seconds_come_from_the_trial_record_or_its_duration():
    timed = trial(0, TrialState.COMPLETE, 0.5, seconds="7.25")
    assert tables.trial_seconds(timed) == 7.25
    untimed = trial(1, TrialState.COMPLETE, 0.5)
    untimed.datetime_start = datetime.datetime(2024, 1, 1, 12, 0, 0)
    untimed.datetime_complete = datetime.datetime(2024, 1, 1, 12, 1, 30)
    assert tables.trial_seconds(untimed) == 90.0
    running = trial(2, TrialState.RUNNING)
    assert running.duration is None and tables.trial_seconds(running) == 0.0


def test_a_trial_note_is_its_error_before_its_pruning():
    assert tables.trial_note(trial(0, TrialState.FAIL, error="boom", pruned="also")) == "boom"
    assert tables.trial_note(trial(1, TrialState.PRUNED, 0.1, pruned="below the median")) == "below the median"
    assert tables.trial_note(trial(2, TrialState.COMPLETE, 0.1)) == ""


def test_cells():
    assert [tables.cell(v) for v in (None, 0.123456, 1e-05, 12, "gru", 3.0)] == ["", "0.1235", "1e-05", "12", "gru", "3"]


def test_markdown_table_leaves_out_run_dirs_and_formats_cells(trials):
    text = tables.markdown_table(tables.trial_rows(trials, ["lr"]))
    lines = text.splitlines()
    assert lines[0] == "| trial | state | score | seconds | lr | encoder | note |"
    assert tables.markdown_table(tables.trial_rows(trials, ["lr"]), "dev macro-F1").splitlines()[0] == \
        "| trial | state | dev macro-F1 | seconds | lr | encoder | note |"
    assert lines[2] == "| 2 | complete | 0.55 | 20 | 0.002 | cnn |  |"
    assert lines[5] == "| 3 | fail |  | 0.5 | 0.1 |  | train.lr: out of range |"
    assert "runs/t0" not in text
    assert tables.markdown_table([]) == "(no trials yet)"


def test_csv_table_keeps_every_column_and_reads_back(trials):
    text = tables.csv_table(tables.trial_rows(trials, ["lr"]))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["trial"] for r in rows] == ["2", "0", "1", "3", "4"]
    assert rows[1]["run_dir"] == "runs/t0" and rows[1]["score"] == "0.41"
    assert rows[3]["score"] == "" and rows[4]["encoder"] == ""  # None is an empty cell
    assert "\r" not in text
    assert tables.csv_table([]) == ""
