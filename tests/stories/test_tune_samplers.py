"""sentinet tune --sampler tpe|random|grid: the grid a space makes, grid and random studies
through the CLI the way users run them (resumed, on two workers), and best_so_far.png."""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sentinet.reporting import plots
from sentinet.tuning.storage import open_storage
from sentinet.tuning import tuner
from sentinet.cli.main import main
from sentinet.errors import SentinetError
from sentinet.tuning.search_space import GRID_LIMIT, Job, Param, grid, grid_values, tried_points

from tests.helpers import assert_one_line_error, run_cli, study_files

PNG = b"\x89PNG\r\n\x1a\n"
GRID_SPACE = """
model.encoder.hidden_size: {type: int, low: 8, high: 16, step: 8}
train.class_weights: {choice: [none, balanced]}
"""
GRID = {"model.encoder.hidden_size": [8, 16], "train.class_weights": ["none", "balanced"]}


# --------------------------------------------------------------------------------------
# The grid a space makes


def test_grid_of_a_space():
    space = (Param("a", "int", 2, 10, step=4), Param("b", "int", 1, 3),  # int without step: every int
             Param("c", "float", 0.1, 0.3, step=0.1),  # decimal steps: 0.3, not 0.30000000000000004
             Param("d", "float", 0.0, 0.25, step=0.1),  # like Optuna: the last step below high
             Param("e", "choice", choices=("x", 1, True, "x", None)),  # distinct choices, 1 and true apart
             Param("f", "int", 4, 32, log=True))
    assert grid(space, "space.yaml") == {"a": [2, 6, 10], "b": [1, 2, 3], "c": [0.1, 0.2, 0.3],
                                         "d": [0.0, 0.1, 0.2], "e": ["x", 1, True, None],
                                         "f": list(range(4, 33))}


@pytest.mark.parametrize("param, fragment", [
    (Param("train.optimizer.lr", "float", 1e-4, 1e-2, log=True), "list the values as choice"),
    (Param("model.word_dropout", "float", 0.0, 0.3), "add a step"),
])
def test_a_float_range_without_step_has_no_grid(param, fragment):
    with pytest.raises(SentinetError) as exc:
        grid_values(param, "space.yaml")
    message = str(exc.value)
    assert message.startswith(f"space.yaml: --sampler grid needs a step or choices for {param.key}")
    assert fragment in message and "\n" not in message


def test_a_grid_too_large_is_refused():
    space = tuple(Param(k, "int", 1, 100) for k in "abc")  # 100 ** 3 points
    with pytest.raises(SentinetError, match=rf"100 × 100 × 100 = 1000000 grid points, over {GRID_LIMIT}"):
        grid(space, "space.yaml")


def test_tried_points_are_the_grid_points_among_trial_values():
    tried = [{"model.encoder.hidden_size": 8, "train.class_weights": "none"},
             {"model.encoder.hidden_size": 8, "train.class_weights": "none"},  # the same point again
             {"model.encoder.hidden_size": 12, "train.class_weights": "none"},  # not on the grid
             {"model.encoder.hidden_size": 16}]  # failed before its last value
    assert tried_points(GRID, tried) == {(8, "none")}


# --------------------------------------------------------------------------------------
# Through the CLI


@pytest.fixture
def study(tiny_data):
    """A 1-epoch base config and a 2 × 2 grid space."""
    return study_files(tiny_data, GRID_SPACE)


def tune_args(study: dict, *args: str) -> list[str]:
    return ["tune", "--config", str(study["base"]), "--space", str(study["space"]),
            "--output-dir", str(study["out"]), *args]


def tune(study: dict, *args: str) -> subprocess.CompletedProcess:
    """``sentinet tune`` in a subprocess, as users run it."""
    return run_cli(*tune_args(study, *args))


def tune_here(study: dict, monkeypatch, capsys, *args: str) -> subprocess.CompletedProcess:
    """The same through main(), the ``sentinet`` entry point, in this process: for commands
    that stop before any trial trains (no subprocess start-up)."""
    monkeypatch.setattr(sys, "argv", ["sentinet", *tune_args(study, *args)])
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(sys.argv, code, captured.out, captured.err)


def load(study: dict, name: str = "base") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(study["storage"]))


def assert_png(path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib not installed (pip install -e '.[plots]')")
    assert path.is_file() and path.read_bytes().startswith(PNG) and path.stat().st_size > 2000


def test_grid_tries_every_point_once_then_stops_and_keeps_its_sampler(study, monkeypatch, capsys):
    first = tune(study, "--sampler", "grid", "--trials", "2")
    assert first.returncode == 0, first.stderr
    assert "--sampler grid: 4 grid points; running 2 of the 4 left (--trials 2)" in first.stdout
    assert "sampler: grid (4 points, order from seed 13)" in first.stdout

    # resumed without --sampler (the study's own), on two workers, asking for more than is left
    rest = tune(study, "--trials", "10", "--jobs", "2")
    assert rest.returncode == 0, rest.stderr
    assert "4 grid points (2 tried before); running the 2 left, then stopping" in rest.stdout
    assert "2 more on 2 worker processes" in rest.stdout
    assert "re-evaluating" not in rest.stderr and "Traceback" not in rest.stderr  # GridSampler's warning
    trials = load(study).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert sorted((t.params["model.encoder.hidden_size"], t.params["train.class_weights"]) for t in trials) \
        == sorted(itertools.product(*GRID.values()))  # each grid point exactly once
    assert len({t.user_attrs["worker"] for t in trials[2:]}) == 2
    assert load(study).user_attrs["sampler"] == "grid"

    done = tune_here(study, monkeypatch, capsys, "--trials", "3")  # an exhausted grid runs nothing
    assert done.returncode == 0, done.stderr
    assert "all 4 grid points of study base are tried; nothing to run" in done.stdout
    assert len(load(study).get_trials()) == 4
    assert (study["dir"] / "trials.md").read_text().splitlines()[2] == \
        "Sampler: grid (4 points, order from seed 13)"
    assert "sampler: grid" in (study["dir"] / "best.yaml").read_text().splitlines()[1]
    assert_png(study["dir"] / tuner.BEST_SO_FAR)

    assert_one_line_error(tune_here(study, monkeypatch, capsys, "--sampler", "tpe"),
                          "study 'base' was created with --sampler grid", "--sampler grid (or none)")


def test_random_sampler_runs_the_trials_asked_for(study):
    study["space"].write_text("train.optimizer.lr: {type: float, low: 3.0e-3, high: 3.0e-2, log: true}\n",
                              encoding="utf-8")
    result = tune(study, "--sampler", "random", "--trials", "3")
    assert result.returncode == 0, result.stderr
    assert "random sampler): 0 trials so far; 3 more" in result.stdout
    trials = load(study).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert len({t.params["train.optimizer.lr"] for t in trials}) == 3
    assert load(study).user_attrs["sampler"] == "random"
    assert (study["dir"] / "trials.md").read_text().splitlines()[2] == "Sampler: random"
    assert_png(study["dir"] / tuner.BEST_SO_FAR)
    if (study["dir"] / tuner.BEST_SO_FAR).is_file():
        assert f"best so far: {study['dir'] / tuner.BEST_SO_FAR}" in result.stdout


def test_grid_of_a_float_range_without_step_is_one_line_error(study):
    study["space"].write_text(GRID_SPACE + "model.word_dropout: {type: float, low: 0.0, high: 0.3}\n",
                              encoding="utf-8")
    assert_one_line_error(tune(study, "--sampler", "grid"),
                          f"{study['space']}: --sampler grid needs a step or choices for model.word_dropout")
    assert not study["out"].exists()  # checked before the study is created


def test_unknown_sampler_is_one_line_error(study, monkeypatch, capsys):
    assert_one_line_error(tune_here(study, monkeypatch, capsys, "--sampler", "bayes"),
                          "--sampler 'bayes': choose one of tpe, random, grid")
    assert not study["out"].exists()


# --------------------------------------------------------------------------------------
# A study's sampler, at function level (no training)


def fake_job(tmp_path: Path, space: tuple[Param, ...], sampler: str | None) -> Job:
    return Job("fake", f"sqlite:///{tmp_path / 'fake.db'}", tmp_path / "fake", {}, space, 0, sampler)


def test_a_study_from_before_samplers_is_tpe(tmp_path):
    job = fake_job(tmp_path, (Param("x", "int", 1, 3),), None)
    study = tuner.create_study(job)
    study.add_trial(optuna.trial.create_trial(params={"x": 2}, value=0.5,
                                              distributions={"x": optuna.distributions.IntDistribution(1, 3)}))
    assert tuner.use_sampler(study, job, 13)[0].sampler == "tpe"
    with pytest.raises(SentinetError, match="created with --sampler tpe"):
        tuner.use_sampler(study, fake_job(tmp_path, job.space, "random"), 13)
    assert tuner.sampler_of(study) == "tpe"


def test_a_grid_study_keeps_its_grid_and_seed(tmp_path):
    job = fake_job(tmp_path, (Param("x", "int", 1, 3),), "grid")
    study = tuner.create_study(job)
    assert tuner.use_sampler(study, job, 5)[1] == 5
    assert study.user_attrs["grid"] == {"x": [1, 2, 3]}
    resumed, seed = tuner.use_sampler(study, fake_job(tmp_path, job.space, None), 99)
    assert (resumed.sampler, seed) == ("grid", 5)  # the order of a grid is the study's
    with pytest.raises(SentinetError, match="walked another grid before"):
        tuner.use_sampler(study, fake_job(tmp_path, (Param("x", "int", 1, 4),), None), 5)


# --------------------------------------------------------------------------------------
# best_so_far.png and scripts/experiments/compare_samplers.py


def test_best_so_far_without_matplotlib_says_so_once(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "_pyplot", lambda: None)
    lines: list[str] = []
    assert not plots.write_best_so_far(tmp_path / "best_so_far.png", {"a": [(0, 0.5)]}, lines.append)
    assert lines == ["no best_so_far.png: matplotlib is missing (pip install -e '.[plots]' in the sentinet checkout; make install has it)"]
    assert not (tmp_path / "best_so_far.png").exists()


def fake_study(directory: Path, sampler: str, values: list[float | None]) -> None:
    """A study directory with finished trials of the given scores (None: pruned)."""
    storage = open_storage(f"sqlite:///{directory / 'study.db'}")
    study = optuna.create_study(study_name=directory.name, storage=storage, direction="maximize")
    study.set_user_attr("sampler", sampler)
    x = optuna.distributions.FloatDistribution(0, 1)
    for i, value in enumerate(values):
        state = TrialState.COMPLETE if value is not None else TrialState.PRUNED
        study.add_trial(optuna.trial.create_trial(params={"x": i / 10}, distributions={"x": x},
                                                  value=value, state=state))


def compare_samplers():
    """scripts/experiments/compare_samplers.py as a module (scripts/ is no package)."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "experiments" / "compare_samplers.py"
    spec = importlib.util.spec_from_file_location("compare_samplers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_samplers_draws_one_line_per_study(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="matplotlib not installed (pip install -e '.[plots]')")
    tuner.quiet_optuna()
    curves = {"tpe": [0.40, 0.55, None, 0.52, 0.70, 0.68, 0.74, None, 0.73, 0.78],
              "random": [0.45, 0.42, 0.60, 0.58, None, 0.61, 0.59, 0.66, 0.63, 0.64],
              "grid": [None, 0.30, 0.50, 0.65, 0.62, 0.72]}
    for sampler, values in curves.items():
        fake_study(tmp_path / f"banks-{sampler}", sampler, values)
    out = tmp_path / "samplers.png"
    script = compare_samplers()
    assert script.main(["-o", str(out), *(str(tmp_path / f"banks-{s}") for s in curves)]) == 0
    assert "banks-grid (grid): 6 finished trials" in capsys.readouterr().out
    assert_png(out)
    code = script.main([str(tmp_path / "nowhere")])
    captured = capsys.readouterr()
    assert_one_line_error(subprocess.CompletedProcess([], code, captured.out, captured.err),
                          "nowhere: no study.db here")


def test_a_stepped_float_is_written_without_float_noise():
    """0.1 + 0.2 is what a stepped float search hands over; best.yaml and the trial's
    config.yaml say 0.3."""
    from sentinet.config.schema import dump_yaml
    from sentinet.tuning.search_space import build_config

    config = build_config({}, {"model.head_dropout": 0.1 + 0.2, "train.epochs": 3})
    assert config.model.head_dropout == 0.3 and config.train.epochs == 3
    assert "head_dropout: 0.3\n" in dump_yaml(config)
