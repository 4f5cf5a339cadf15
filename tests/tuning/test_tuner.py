"""sentinet tune: tiny studies through the CLI the way users run them, plus the pruning and
invalid-combination rules at function level (fake training that reports chosen scores)."""

from __future__ import annotations

import csv
import dataclasses
import glob
import os
import pwd
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

from sentinet.tuning.storage import open_storage
from sentinet.tuning import tuner
from sentinet.cli.main import main
from sentinet.config.schema import load_config, read_yaml
from sentinet.training.groups import EnsembleResult
from sentinet.errors import SentinetError
from sentinet.tuning.search_space import Job, Param, read_space
from sentinet.training.loop import TrainResult

from tests.helpers import free_port, study_files, tiny_config_yaml
from tests.helpers import assert_one_line_error

SPACE = """
model.encoder.hidden_size: {type: int, low: 8, high: 16}
train.optimizer.lr: {type: float, low: 3.0e-3, high: 3.0e-2, log: true}
train.class_weights: {choice: [none, balanced]}
"""


@pytest.fixture
def study(tiny_data):
    """A 1-epoch base config and a three-key space."""
    return study_files(tiny_data, SPACE)


def tune_args(study: dict, *args: str) -> list[str]:
    return [sys.executable, "-m", "sentinet", "tune", "--config", str(study["base"]),
            "--space", str(study["space"]), "--output-dir", str(study["out"]), *args]


def run_tune(study: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(tune_args(study, *args), capture_output=True, text=True, timeout=300)


def trials_in(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=open_storage(storage)).get_trials()


def config_value(config, key: str):
    for part in key.split("."):
        config = getattr(config, part)
    return config


def test_study_writes_best_config_and_resumes(study):
    first = run_tune(study, "--trials", "2")
    assert first.returncode == 0, first.stderr
    trials = trials_in(study["storage"], "base")
    assert [t.number for t in trials] == [0, 1]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    best = optuna.load_study(study_name="base", storage=open_storage(study["storage"])).best_trial
    assert best.value == max(t.value for t in trials)
    best_yaml = study["dir"] / "best.yaml"
    assert str(best_yaml) in first.stdout

    # best.yaml is the base config with the best trial's values, ready to train
    config = load_config(best_yaml, None)
    assert set(best.params) == {"model.encoder.hidden_size", "train.optimizer.lr", "train.class_weights"}
    for key, value in best.params.items():
        assert config_value(config, key) == (pytest.approx(value, rel=1e-11) if isinstance(value, float) else value), key  # 12 digits
    assert f"trial {best.number}" in best_yaml.read_text().splitlines()[0]
    trained = subprocess.Popen([sys.executable, "-m", "sentinet", "train", "--config", str(best_yaml)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # beside the resume

    rows = list(csv.DictReader((study["dir"] / "trials.csv").open(encoding="utf-8")))
    assert sorted(int(r["trial"]) for r in rows) == [0, 1]
    assert float(rows[0]["score"]) == best.value  # best first
    assert all(Path(r["run_dir"]).is_dir() for r in rows)
    assert (study["dir"] / "trials.md").read_text().count("| complete |") == 2

    again = run_tune(study, "--trials", "1")  # the same command resumes the same study.db
    assert again.returncode == 0, again.stderr
    assert [t.number for t in trials_in(study["storage"], "base")] == [0, 1, 2]
    assert len(list(csv.DictReader((study["dir"] / "trials.csv").open(encoding="utf-8")))) == 3
    _, err = trained.communicate(timeout=300)
    assert trained.returncode == 0, err


def test_worker_processes_and_separate_commands_share_one_study(study):
    """Started at once on a fresh database: a command with one trial (as on another machine)
    and a command with two worker processes, one trial each."""
    storage = f"sqlite:///{study['out'] / 'shared.db'}"
    shared = ("--storage", storage, "--study", "shared")
    commands = [tune_args(study, *shared, "--trials", "1"),
                tune_args(study, *shared, "--trials", "2", "--jobs", "2")]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert "2 more on 2 worker processes" in out

    trials = trials_in(storage, "shared")
    assert sorted(t.number for t in trials) == [0, 1, 2]
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    run_dirs = {t.user_attrs["run_dir"] for t in trials}
    assert len(run_dirs) == 3 and all(Path(d).is_dir() for d in run_dirs)
    assert len({t.user_attrs["worker"] for t in trials}) == 3  # one process per trial


def fake_job(tiny_data, tmp_path: Path, space: tuple[Param, ...], folds: int = 0) -> Job:
    base = yaml.safe_load(tiny_config_yaml(tiny_data))
    return Job("fake", f"sqlite:///{tmp_path / 'fake.db'}", tmp_path / "fake", base, space, folds)


def run_enqueued(job: Job, params: list[dict]) -> list[optuna.trial.FrozenTrial]:
    """The CLI's worker (its sampler, pruner and objective) on trials with fixed values."""
    study = tuner.create_study(job)
    for p in params:
        study.enqueue_trial(p)
    tuner.optimize(job, len(params), None, seed=0, threads=torch.get_num_threads())
    return trials_in(job.storage, job.name)


@pytest.mark.parametrize("folds", [0, 3])
def test_median_pruner_stops_a_trial_below_the_median(tiny_data, tmp_path, monkeypatch, capsys, folds):
    """Five good trials, then a bad one: it is pruned at the first step pruning may act on
    (epoch 2, or the running mean after fold 2) and trains no further. One line per trial,
    scores named by train.metric."""
    steps: list[tuple[float, int]] = []

    def score(config) -> float:
        return 0.8 if config.train.optimizer.lr > 0.01 else 0.2

    def fake_train(config, callbacks, quiet):  # the loop's after_epoch event, as train() sends it
        for epoch in (1, 2, 3):
            steps.append((config.train.optimizer.lr, epoch))
            for callback in callbacks:
                callback.after_epoch(epoch, {"score": score(config), "metric": "accuracy"}, tmp_path)
        return TrainResult(run_dir=tmp_path, best_epoch=3, best={"score": score(config), "metric": "accuracy"})

    def fake_cross_validate(config, k, on_fold, quiet):
        members = []
        for i in range(k):
            steps.append((config.train.optimizer.lr, i + 1))
            members.append(TrainResult(run_dir=tmp_path, best_epoch=1,
                                       best={"score": score(config), "metric": "accuracy"}))
            on_fold(i, members[-1])
        return EnsembleResult(tmp_path, members, {"score": {"mean": score(config)}, "metric": "accuracy"})

    monkeypatch.setattr(tuner, "train", fake_train)
    monkeypatch.setattr(tuner, "cross_validate", fake_cross_validate)
    lr = Param("train.optimizer.lr", "float", 1e-4, 0.1, log=True)
    trials = run_enqueued(fake_job(tiny_data, tmp_path, (lr,), folds),
                          [{lr.key: 0.05}] * 5 + [{lr.key: 0.001}])
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5 + [TrialState.PRUNED]
    assert trials[-1].user_attrs["pruned"].startswith("fold 2" if folds else "epoch 2")
    assert [s for s in steps if s[0] == 0.001] == [(0.001, 1), (0.001, 2)]
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == [f"trial {n} complete" for n in range(5)] + ["trial 5 pruned"]
    name = "mean dev accuracy over 3 folds" if folds else "dev accuracy"
    assert lines[0].startswith(f"trial 0 complete  {name} 0.8000  lr=0.05  (") and lines[0].endswith("s)  *best")
    assert not any(line.endswith("*best") for line in lines[1:])  # ties are no new best
    where = "fold 2: mean dev accuracy 0.2000" if folds else "epoch 2: dev accuracy 0.2000"
    assert lines[5].endswith(f"s)  [{where}, below the median]")


def test_invalid_combination_is_pruned_and_encoder_options_follow_the_encoder(tiny_data, tmp_path,
                                                                               monkeypatch):
    """filters exists for cnn only: with gru it is a pruned trial, with cnn a cnn config
    that dropped the gru base's hidden_size."""
    space_file = tmp_path / "space.yaml"
    space_file.write_text("model.encoder.name: {choice: [gru, cnn]}\n"
                          "model.encoder.filters: {type: int, low: 4, high: 8}\n", encoding="utf-8")
    job = fake_job(tiny_data, tmp_path, ())
    job = dataclasses.replace(job, space=read_space(space_file, job.base))
    trained = []

    def fake_train(config, callbacks, quiet):
        trained.append(config.model.encoder)
        return TrainResult(run_dir=tmp_path, best_epoch=1, best={"score": 0.5})

    monkeypatch.setattr(tuner, "train", fake_train)
    trials = run_enqueued(job, [{"model.encoder.name": "gru", "model.encoder.filters": 4},
                                {"model.encoder.name": "cnn", "model.encoder.filters": 6}])
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.COMPLETE]
    assert "unknown config key 'model.encoder.filters'" in trials[0].user_attrs["error"]
    assert [(e.name, e.filters) for e in trained] == [("cnn", 6)]
    assert not hasattr(trained[0], "hidden_size")


BAD_SPACES = {
    "unknown key": ("model.encoder.hiden_size: {type: int, low: 8, high: 16}\n",
                    ["unknown config key 'model.encoder.hiden_size'", "did you mean 'hidden_size'"]),
    "low >= high": ("train.optimizer.lr: {type: float, low: 0.1, high: 0.01}\n",
                    ["train.optimizer.lr", "low 0.1 must be below high 0.01"]),
    "bad type": ("train.optimizer.lr: {type: str, low: 1, high: 2}\n", ["type 'str' is not int or float"]),
    "wrong value type": ("model.encoder.hidden_size: {type: float, low: 8, high: 16}\n",
                         ["model.encoder.hidden_size: expected int"]),
    "unknown spec key": ("train.optimizer.lr: {type: float, lo: 1.0e-4, high: 0.1}\n",
                         ["unknown spec key 'lo'", "did you mean 'low'"]),
    "log from zero": ("model.word_dropout: {type: float, low: 0.0, high: 0.3, log: true}\n",
                      ["log scale needs low > 0"]),
    "unknown encoder": ("model.encoder.name: {choice: [gru, lstmm]}\n", ["unknown encoder 'lstmm'"]),
    "empty file": ("", ["empty search space"]),
}


@pytest.mark.parametrize("case", list(BAD_SPACES))
def test_bad_space_files_are_one_line_errors(study, case, monkeypatch, capsys):
    """In-process through main(), the `sentinet` entry point; one case also as a process."""
    text, fragments = BAD_SPACES[case]
    study["space"].write_text(text, encoding="utf-8")
    monkeypatch.setattr(sys, "argv", tune_args(study)[2:])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    assert_one_line_error(subprocess.CompletedProcess(sys.argv, exit_.value.code, captured.out,
                                                      captured.err), *fragments)
    if case == "unknown key":
        assert_one_line_error(run_tune(study), *fragments)
    assert not study["out"].exists()


def test_a_training_error_stops_the_study_with_one_line(study):
    result = run_tune(study, "--set", f"data.train={study['out'].parent / 'missing.xml'}")
    assert_one_line_error(result, "missing.xml: file not found")
    assert "[W " not in result.stderr  # nor optuna's own warnings about the failed trial
    trials = trials_in(study["storage"], "base")
    assert [t.state for t in trials] == [TrialState.FAIL]
    assert "file not found" in trials[0].user_attrs["error"]


@pytest.mark.parametrize("space", ["gru", "encoders", "shift", "samplers"])
@pytest.mark.parametrize("base", ["banks_gru", "tkk_gru", "best_banks"])
def test_example_spaces_fit_the_shipped_configs(space, base):
    repo = Path(__file__).resolve().parents[2]
    params = read_space(repo / "configs" / "search" / f"{space}.yaml",
                               read_yaml(repo / "configs" / f"{base}.yaml"))
    assert "train.optimizer.lr" in {p.key for p in params}


def test_missing_postgres_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # import psycopg2 fails as if not installed
    with pytest.raises(SentinetError, match=r"pip install -e '\.\[postgres\]'") as exc:
        open_storage("postgresql://tuner:secret@127.0.0.1:1/studies")
    assert "secret" not in str(exc.value)


def test_ctrl_c_keeps_finished_trials_and_writes_the_summary(study):
    # A shell that starts the suite in the background hands its children SIGINT ignored, and
    # Python keeps an ignored SIGINT ignored: give the CLI the default disposition, as a terminal does.
    proc = subprocess.Popen(tune_args(study, "--trials", "50"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Wait for the CLI's own "trial N complete" line, not for the database: polling SQLite
    # while trials write to it can read "locked" until the whole study has finished.
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + 300  # a safety net: a trial takes a second or two
    while not (seen and " complete " in seen[-1]):
        assert proc.poll() is None, "the study ended before it could be interrupted"
        assert time.monotonic() < deadline, f"no trial completed: {seen}"
        try:
            seen.append(lines.get(timeout=0.3))
        except queue.Empty:
            continue
    assert proc.poll() is None, "the study ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    trials = trials_in(study["storage"], "base")
    assert trials[0].state == TrialState.COMPLETE and len(trials) < 50
    assert all(t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and
                                                  t.user_attrs["error"] == "interrupted") for t in trials)
    assert (study["dir"] / "best.yaml").is_file() and (study["dir"] / "trials.csv").is_file()
    assert "Traceback" not in err and "[W " not in err


# --------------------------------------------------------------------------------------
# PostgreSQL: a throwaway server when the binaries and the driver are here


def postgres_bin() -> Path | None:
    for d in [*(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep)),
              *sorted(Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin"))]:
        if all((d / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


@pytest.fixture
def postgres_url():
    """A server on 127.0.0.1 in a temp dir, owned by a non-root user when run as root."""
    pytest.importorskip("psycopg2", reason="psycopg2 not installed (pip install -e '.[postgres]')")
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl, postgres) not found")
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
    root = Path(tempfile.mkdtemp(prefix="sentinet-pg-"))
    if user:
        os.chown(root, user.pw_uid, user.pw_gid)
    as_user = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    port, data = free_port(), root / "data"
    try:
        for command in ([bin_dir / "initdb", "-N", "-D", data, "-U", "tuner", "--auth=trust", "-E", "UTF8"],
                        [bin_dir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "-t", "300", "-o",
                         f"-h 127.0.0.1 -p {port} -k {root}", "start"]):
            started = subprocess.run(command, capture_output=True, text=True, **as_user)
            if started.returncode:
                pytest.skip(f"no throwaway PostgreSQL server: {command[0].name} failed: "
                            f"{(started.stderr or started.stdout).strip()[-300:]}")
        yield f"postgresql://tuner@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, **as_user)
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_storage(study, postgres_url):
    result = run_tune(study, "--trials", "2", "--storage", postgres_url, "--study", "pg")
    assert result.returncode == 0, result.stderr
    trials = trials_in(postgres_url, "pg")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert (study["out"] / "pg" / "best.yaml").is_file()
    assert not (study["out"] / "pg" / "study.db").exists()
