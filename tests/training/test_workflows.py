"""``sentinet.train`` as a notebook calls it, in-process: every workflow ``sentinet train`` offers
(a plain run, --seeds, --folds, --resume of a run or a group, --dry-run) is a keyword of the
library call, on the tiny corpus, one epoch a model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import sentinet
from sentinet.config.schema import apply_overrides, load_config
from sentinet.errors import Interrupted, SentinetError
from sentinet.runs import rundir
from sentinet.training.events import Callback
from sentinet.training.workflows import Trained, plan_training, train_workflow

from ..helpers import tiny_raw


@pytest.fixture
def cfg(tiny_data) -> dict:
    """One epoch on the tiny corpus, as a dict of the YAML's shape (a notebook's config)."""
    return tiny_raw(tiny_data, train__epochs=1, train__patience=1)


def made(tiny_data) -> list[Path]:
    runs = tiny_data["dir"] / "runs"
    return sorted(runs.iterdir()) if runs.is_dir() else []


def test_a_plain_run_returns_its_directory_as_before(cfg, tiny_data):
    run = sentinet.train(cfg)
    assert isinstance(run, Path) and made(tiny_data) == [run]
    assert (run / "model.pt").is_file() and rundir.status(run) is None


def test_seeds_train_a_group_and_return_its_result(cfg, tiny_data):
    group = sentinet.train(cfg, seeds=2)
    assert made(tiny_data) == [group.path] and group.path.name.startswith("run-ensemble2-")
    assert [m.run_dir.name for m in group.members] == ["seed3", "seed4"]
    assert group.summary["seeds"] == [3, 4] and "score" in group.summary["ensemble"]
    assert sentinet.load(group.path).predict("сбербанк спасибо") in (-1, 0, 1)


def test_folds_cross_validate_and_return_the_out_of_fold_score(cfg, tiny_data):
    group = sentinet.train(cfg, folds=2)
    assert group.path.name.startswith("run-folds2-") and len(group.members) == 2
    assert group.summary["folds"] == 2 and group.summary["score"]["std"] >= 0
    assert json.loads((group.path / "metrics.json").read_text(encoding="utf-8"))["folds"] == 2


class StopAfter(Callback):
    """A Ctrl-C once ``epoch`` is saved, as the user's would come."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def after_epoch(self, epoch: int, row: dict, run_dir: Path) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_continues_an_interrupted_run(cfg, tiny_data):
    from sentinet.config.schema import from_dict
    from sentinet.training.loop import train

    config = from_dict({**cfg, "train": {**cfg["train"], "epochs": 2, "patience": 2}})
    config.run.name = "cut"
    with pytest.raises(Interrupted):
        train(config, callbacks=[StopAfter(1)])
    (run,) = made(tiny_data)
    assert (run / rundir.LAST).is_file() and rundir.status(run) is not None
    assert sentinet.train(resume=run) == run
    metrics = rundir.read_metrics(run)
    assert len(metrics["epochs"]) == 2 and not metrics["interrupted"] and rundir.status(run) is None


def test_resume_finishes_a_group_stopped_between_members(cfg, tiny_data):
    group = sentinet.train(cfg, seeds=2)
    shutil.rmtree(group.path / "seed4")  # as if stopped before the second seed started
    rundir.mark(group.path, "interrupted")
    again = sentinet.train(resume=str(group.path))
    assert again.path == group.path and [m.run_dir.name for m in again.members] == ["seed3", "seed4"]
    assert rundir.status(group.path) is None and (group.path / "seed4" / "model.pt").is_file()


def test_dry_run_writes_nothing(cfg, tiny_data):
    assert sentinet.train(cfg, dry_run=True) is None
    assert made(tiny_data) == []
    with pytest.raises(SentinetError, match="vectors.path: .*nowhere.txt: file not found"):
        sentinet.train({**cfg, "vectors": {**cfg["vectors"], "path": str(tiny_data["dir"] / "nowhere.txt")}},
                       dry_run=True)


@pytest.mark.parametrize(("call", "fragment"), [
    (dict(seeds=2, folds=2), "--folds and --seeds: choose one"),
    (dict(folds=1), "1 fold is no cross-validation"),
    (dict(seeds=0), "seeds: 0 must be a whole number of at least 1"),
    (dict(threads=True), "threads: True must be a whole number"),
    (dict(resume="somewhere"), "--resume continues a run as it was configured"),
    (dict(overrides=["train.epochs=2"]), "overrides apply to a YAML file"),
])
def test_requests_are_checked_before_anything_is_written(cfg, tiny_data, call, fragment):
    with pytest.raises(SentinetError, match=fragment):
        sentinet.train(cfg, **call)
    assert made(tiny_data) == []


def test_what_is_missing_is_named(tmp_path):
    with pytest.raises(SentinetError, match="train needs --config"):
        sentinet.train()
    with pytest.raises(SentinetError, match="no such run directory"):
        sentinet.train(resume=tmp_path / "nowhere")
    with pytest.raises(SentinetError, match="not a sentinet run directory"):
        sentinet.train(resume=tmp_path)


def test_a_yaml_config_takes_overrides_and_folds_with_a_dev_file_are_refused(tiny_data, monkeypatch):
    monkeypatch.setenv("SENTINET_DATA", str(tiny_data["dir"]))  # data.train: train.xml is found there
    path = tiny_data["dir"] / "tiny.yaml"
    path.write_text("data:\n  train: train.xml\n", encoding="utf-8")
    plan = plan_training(path, ["train.epochs=4", "data.dev=test.xml"], output_dir=tiny_data["dir"] / "out",
                         device="cpu", threads=1)
    cfg = plan.config
    assert (cfg.train.epochs, cfg.train.device, cfg.train.num_threads, cfg.run.name) == (4, "cpu", 1, "tiny")
    assert Path(cfg.data.train).is_absolute() and cfg.run.output_dir == str(tiny_data["dir"] / "out")
    with pytest.raises(SentinetError, match="data.dev names a dev file"):
        plan_training(path, ["data.dev=test.xml"], folds=2)
    assert plan_training(path, ["data.dev=test.xml"], folds=2, dry_run=True).folds == 2  # one model is built


def test_notes_are_said_before_training(cfg, monkeypatch):
    from sentinet.training import workflows

    monkeypatch.setattr(workflows, "run_plan", lambda plan: Trained(None))  # the training is not the point
    config = {**cfg, "train": {**cfg["train"], "baseline": True}}
    notes: list[str] = []
    workflows.train_workflow(config, folds=2, on_note=notes.append)
    assert notes == ["train.baseline is not fitted with --folds (it would score another dev set); "
                     "sentinet baseline scores the configured split"]
    with pytest.warns(UserWarning, match="train.baseline is not fitted with --folds"):
        workflows.train_workflow(config, folds=2)  # no listener: a Python warning


def test_train_baseline_is_fitted_after_the_run(cfg, tiny_data):
    trained = train_workflow({**cfg, "train": {**cfg["train"], "baseline": True}})
    assert isinstance(trained, Trained) and trained.baseline is not None
    assert trained.baseline.what == "neural" and trained.baseline.run_dir.name.startswith("run-baseline-")
    assert 0 <= trained.baseline.score <= 1 and set(made(tiny_data)) == {trained.result.run_dir,
                                                                         trained.baseline.run_dir}


def test_overrides_reach_a_config_in_one_place(tiny_data):
    """config.schema.apply_overrides is what --set, overrides=, tune's base config and
    embeddings train all go through: in order, later items win, `encoder: gru` becomes a section."""
    raw = apply_overrides({"model": {"encoder": "gru"}}, ["train.epochs=3", "train.epochs=4",
                                                           "model.encoder.hidden_size=8", "data.text_column=a: b: c"])
    assert raw == {"model": {"encoder": {"name": "gru", "hidden_size": 8}}, "train": {"epochs": 4},
                   "data": {"text_column": "a: b: c"}}
    assert load_config(None, ["vectors.word2vec.model=fasttext"]).vectors.word2vec.model == "fasttext"
    path = tiny_data["dir"] / "tiny.yaml"
    path.write_text("train:\n  epochs: 2\n", encoding="utf-8")
    assert load_config(path, ["train.epochs=5"]).train.epochs == 5 and load_config(path).run.name == "tiny"
    with pytest.raises(SentinetError, match="expected KEY=VALUE"):
        apply_overrides({}, ["train.epochs"])
    with pytest.raises(SentinetError, match="'train.epochs' is not a section"):
        apply_overrides({"train": {"epochs": 3}}, ["train.epochs.x=1"])
