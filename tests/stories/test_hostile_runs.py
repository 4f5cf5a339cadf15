"""Hostile and broken run state, data and study settings through the CLI: damaged resume
files, labels that cannot make a classifier, streams that are gone, tune settings that cannot
work. The same contract as test_hostile.py: exit 2, one ``error:`` line naming the file or key
and what to do, no traceback, bounded time and memory, and nothing already written damaged.
Add a case to a table below to extend the battery. The damaged checkpoints and the labels that
cannot make a classifier are what one call answers (``sentinet.train``, which ``train`` runs):
every case calls it in process, and a few also run the CLI, which turns its SentinetError into
the one ``error:`` line.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import sentinet
from sentinet.errors import SentinetError

from ..fault_launcher import INTERRUPT
from ..helpers import assert_one_line_error, run_cli, snapshot, study_files, tiny_project

GB = 1024 ** 3


def capped(gigabytes: float = 4):
    """A preexec_fn capping the child's address space: a regression that tries to allocate
    terabytes fails fast instead of swapping the machine to death."""
    limit = int(gigabytes * GB)
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# --------------------------------------------------------------------------------------
# --resume on damaged run state


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A 3-epoch run (a per-step schedule: state to put back) stopped by a Ctrl-C after epoch 1:
    incomplete, with a last.pt to resume."""
    data, config = tiny_project(tmp_path_factory.mktemp("stopped"))
    result = run_cli("train", "--config", str(config), "--set", "train.epochs=3",
                     "--set", "train.scheduler.name=linear", env={INTERRUPT: "1"}, faults=True)
    assert result.returncode == 130, result.stderr
    (run,) = (data["dir"] / "runs").iterdir()
    return run


def _set(key, value):
    return lambda state: state.__setitem__(key, value)


# how last.pt is damaged (and the error's words, when not "damaged checkpoint"); every one is
# refused naming last.pt, before anything is written
DAMAGED_CHECKPOINTS = {
    "no model": lambda state: state.pop("model"),
    "no optimizers": lambda state: state.pop("optimizers"),
    "model not a dict": _set("model", [1, 2]),
    "model of non-tensors": (_set("model", {"embedder.pretrained.weight": 1}), "not a sentinet weights file"),
    "bad sampler state": _set("sampler", torch.zeros(3, dtype=torch.uint8)),
    "bad rng state": _set("rng", torch.zeros(3, dtype=torch.uint8)),
    "optimizer state of another model": _set("optimizers", [{"state": {}, "param_groups": []}]),
    "epoch -5": _set("epoch", -5),
    "epoch 0": _set("epoch", 0),
    "epoch beyond train.epochs": _set("epoch", 99),
    "epoch a string": _set("epoch", "2"),
    "epoch a float": _set("epoch", 1.0),
    "epoch true": _set("epoch", True),
    "best_epoch after epoch": _set("best_epoch", 7),
    "epoch records short": _set("epochs", []),
    "old-style schedule step 1e12": _set("scheduler", {"last_epoch": 10 ** 12}),  # replayed step by step
}


# every case in process but the schedule's 1e12 steps, which only the CLI runs (a regression that
# replays them step by step meets the subprocess's timeout, not a pytest worker held for ever)
ONLY_THROUGH_THE_CLI = "old-style schedule step 1e12"
CHECKPOINTS_THROUGH_THE_CLI = ["no model", ONLY_THROUGH_THE_CLI]


def damaged_copy(stopped_run: Path, tmp_path: Path, case: str) -> tuple[Path, str]:
    """A copy of the stopped run with its last.pt damaged as ``case`` says, and the error's words."""
    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    state = torch.load(run / "last.pt", weights_only=True)
    damage, fragment = DAMAGED_CHECKPOINTS[case] if isinstance(DAMAGED_CHECKPOINTS[case], tuple) \
        else (DAMAGED_CHECKPOINTS[case], "damaged checkpoint")
    damage(state)
    torch.save(state, run / "last.pt")
    return run, fragment


@pytest.fixture
def random_states_kept():
    """The random number generators a resume seeds, put back afterwards for the tests after it."""
    import random

    import numpy as np

    python, numpy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        yield
    random.setstate(python)
    np.random.set_state(numpy)


@pytest.mark.parametrize("case", [case for case in DAMAGED_CHECKPOINTS if case != ONLY_THROUGH_THE_CLI])
def test_the_resume_refuses_a_damaged_checkpoint(stopped_run, tmp_path, random_states_kept, case):
    run, fragment = damaged_copy(stopped_run, tmp_path, case)
    before = snapshot(run)
    with pytest.raises(SentinetError) as refused:
        sentinet.train(resume=run)
    assert "last.pt" in str(refused.value) and fragment in str(refused.value)
    assert snapshot(run) == before


@pytest.mark.parametrize("case", CHECKPOINTS_THROUGH_THE_CLI)
def test_resume_refuses_a_damaged_checkpoint(stopped_run, tmp_path, case):
    run, fragment = damaged_copy(stopped_run, tmp_path, case)
    before = snapshot(run)
    result = run_cli("train", "--resume", str(run), timeout=120)
    assert_one_line_error(result, "last.pt", fragment)
    assert snapshot(run) == before


def test_deleting_a_damaged_checkpoint_starts_the_run_over(stopped_run, tmp_path):
    """What the error says to do works: the run trains again from its first epoch."""
    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    (run / "last.pt").unlink()
    result = run_cli("train", "--resume", str(run), timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(json.loads((run / "metrics.json").read_text(encoding="utf-8"))["epochs"]) == 3
    assert not (run / "INCOMPLETE").exists()


@pytest.mark.parametrize("plan", [
    {"kind": "seeds", "count": 0}, {"kind": "seeds", "count": -3}, {"kind": "folds", "count": "3"},
    {"kind": "folds", "count": 2.5}, {"kind": "seeds", "count": True}, {"kind": "seeds", "count": 10 ** 12},
    {"kind": "seeds"}, {"kind": "bagging", "count": 3}, [3],
], ids=["0", "-3", "string", "float", "true", "huge", "no count", "unknown kind", "not an object"])
def test_resume_refuses_a_damaged_group_plan(stopped_run, tmp_path, plan):
    group = tmp_path / "group"
    group.mkdir()
    shutil.copy(stopped_run / "config.yaml", group / "config.yaml")
    (group / "group.json").write_text(json.dumps(plan), encoding="utf-8")
    before = snapshot(group)
    result = run_cli("train", "--resume", str(group), timeout=120, preexec_fn=capped())
    assert_one_line_error(result, "group.json")
    assert snapshot(group) == before


# --------------------------------------------------------------------------------------
# Labels that cannot make a classifier


def _rows(labels: list[str], n: int = 60) -> str:
    """A TSV of ``n`` texts cycling through ``labels`` (a word per label, so they are learnable)."""
    lines = ["text\tlabel"]
    for i in range(n):
        label = labels[i % len(labels)]
        lines.append(f"сбербанк {'спасибо' if 'os' in label.lower() else 'ужасно'} {i}\t{label}")
    return "\n".join(lines) + "\n"


# train.tsv's labels, dev.tsv's (None: carved from train), and what the one error line says
BAD_LABELS = {
    "case variants": (["Speech", "speech", "skip"], None, ["train.tsv", "'Speech' and 'speech'", "differ only in case"]),
    "empty label": (["pos", "neg", "", "pos"], None, ["train.tsv", "empty label", "id '3'", "column 'label'"]),
    "null label": (["pos", "neg", "NULL"], None, ["train.tsv", "empty label", "id '3'"]),
    "one class in all the data": (["skip"], None, ["train.tsv", "'skip'", "at least two classes"]),
    "one class in training": (["pos"], ["pos", "neg"], ["train.tsv", "one class ('pos')", "at least two classes"]),
    "a label only in dev": (["pos", "neg"], ["pos", "neg", "skip"], ["no training tweets", "'skip'", "dev.tsv"]),
}


LABELS_THROUGH_THE_CLI = ["empty label"]  # every case in process (sentinet.train), this one by the CLI too


def bad_labels_project(tmp_path: Path, case: str) -> tuple[Path, list[str], list[str]]:
    """The tiny project training on BAD_LABELS[case]: its config, the overrides, the error's words."""
    train, dev, fragments = BAD_LABELS[case]
    data, config = tiny_project(tmp_path)
    (tmp_path / "train.tsv").write_text(_rows(train), encoding="utf-8")
    overrides = [f"data.train={tmp_path / 'train.tsv'}"]
    if dev is not None:
        (tmp_path / "dev.tsv").write_text(_rows(dev, 12), encoding="utf-8")
        overrides.append(f"data.dev={tmp_path / 'dev.tsv'}")
    return config, overrides, fragments


def as_set_options(overrides: list[str]) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]


@pytest.mark.parametrize("case", list(BAD_LABELS))
def test_the_training_data_refuses_labels_that_cannot_make_a_classifier(tmp_path, random_states_kept, case):
    config, overrides, fragments = bad_labels_project(tmp_path, case)
    with pytest.raises(SentinetError) as refused:
        sentinet.train(config, overrides)
    for fragment in fragments:
        assert fragment in str(refused.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("case", LABELS_THROUGH_THE_CLI)
def test_training_refuses_labels_that_cannot_make_a_classifier(tmp_path, case):
    config, overrides, fragments = bad_labels_project(tmp_path, case)
    result = run_cli("train", "--config", str(config), *as_set_options(overrides), timeout=120)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "runs").exists()


def test_a_rare_label_carved_into_dev_is_refused(tmp_path):
    """A dev split can take every example of a rare label (here: the temporal split takes the
    latest tweets, the rare one among them): the class would be untrainable."""
    data, config = tiny_project(tmp_path)
    rows = _rows(["pos", "neg"]).splitlines()
    lines = ["text\tlabel\tdate"] + [f"{row}\t{1400000000 + i}" for i, row in enumerate(rows[1:])]
    lines.append(f"сбербанк редкость\tskip\t{1500000000}")
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--set", f"data.train={tmp_path / 'train.tsv'}",
                     "--set", "data.split=temporal", timeout=120)
    assert_one_line_error(result, "no training tweets", "'skip'", "dev split")
    assert not (tmp_path / "runs").exists()


def test_sentiment_words_in_any_case_are_one_class_end_to_end(tmp_path):
    """Positive/positive/negative/NEGATIVE: two classes (sentiment words count in any case), so
    train, eval and predict agree on them and predict's columns are distinct."""
    data, config = tiny_project(tmp_path)
    train = tmp_path / "train.tsv"
    train.write_text(_rows(["Positive", "positive", "negative", "NEGATIVE"]), encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--set", f"data.train={train}",
                     "--set", "train.epochs=1", timeout=120)
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "runs").iterdir()
    evaluated = run_cli("eval", str(run), str(train), "--json", timeout=120)
    assert evaluated.returncode == 0, evaluated.stderr
    predicted = run_cli("predict", str(run), str(data["lines"]), timeout=120)
    assert predicted.returncode == 0, predicted.stderr
    header = predicted.stdout.splitlines()[0].split(",")
    assert len(header) == len(set(header)) == 4, header  # id, label and one p_ per class


# --------------------------------------------------------------------------------------
# predict's standard output closed or unwritable


def _close_stdout() -> None:
    os.close(1)  # in the child, after the pipes are in place: `sentinet predict ... >&-`


@pytest.mark.parametrize("how", ["closed", "read-only", "full disk"])
@pytest.mark.parametrize("source", ["file", "stdin"])
def test_predict_to_an_unwritable_stdout_is_one_line(quick_run, tmp_path, how, source):
    if how == "full disk" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    lines = quick_run["lines"]
    args = [sys.executable, "-m", "sentinet", "predict", str(quick_run["run"]),
            "-" if source == "stdin" else str(lines)]
    other = tmp_path / "other.txt"
    other.write_text("x\n", encoding="utf-8")
    with open(lines, "rb") as stdin, open(other if how == "read-only" else os.devnull, "rb") as read_only, \
            open("/dev/full" if how == "full disk" else os.devnull, "wb") as full:
        stdout = {"closed": subprocess.PIPE, "read-only": read_only, "full disk": full}[how]
        result = subprocess.run(args, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                timeout=120, preexec_fn=_close_stdout if how == "closed" else None)
    assert_one_line_error(result, "standard output", "-o FILE")
    assert other.read_text(encoding="utf-8") == "x\n"


# --------------------------------------------------------------------------------------
# Labels no output can name a column after


def _jsonl(labels: list[str]) -> str:
    rows = ({"text": f"сбербанк {i}", "label": labels[i % len(labels)]} for i in range(60))
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _csv(labels: list[str]) -> str:
    return "text,label\n" + "".join(f't{i},"{labels[i % len(labels)]}"\n' for i in range(60))


# the training file's name and text, and a fragment of the one error line
UNWRITABLE_LABELS = {
    "csv label with a tab": ("train.csv", _csv(["pos", "ne\tg"]), "id '2'"),
    "csv label with a newline": ("train.csv", _csv(["pos", "ne\ng"]), "'ne\\ng'"),
    "jsonl label with a bell": ("train.jsonl", _jsonl(["pos", "ne\ag"]), "'ne\\x07g'"),
    "jsonl label with a line separator": ("train.jsonl", _jsonl(["pos", "ne\u2028g"]), "train.jsonl"),
}


UNWRITABLE_THROUGH_THE_CLI = ["csv label with a newline"]  # every case in process, this one by the CLI too


@pytest.mark.parametrize("case", list(UNWRITABLE_LABELS))
def test_the_training_data_refuses_a_label_with_a_tab_or_line_break(tmp_path, random_states_kept, case):
    name, text, fragment = UNWRITABLE_LABELS[case]
    data, config = tiny_project(tmp_path)
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(SentinetError) as refused:
        sentinet.train(config, [f"data.train={tmp_path / name}"])
    for words in (name, "tab, line break or other control character", fragment):
        assert words in str(refused.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("case", UNWRITABLE_THROUGH_THE_CLI)
def test_training_refuses_a_label_with_a_tab_or_line_break(tmp_path, case):
    name, text, fragment = UNWRITABLE_LABELS[case]
    data, config = tiny_project(tmp_path)
    (tmp_path / name).write_text(text, encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--set", f"data.train={tmp_path / name}", timeout=120)
    assert_one_line_error(result, name, "tab, line break or other control character", fragment)
    assert not (tmp_path / "runs").exists()


def test_declared_labels_with_a_tab_are_refused(tmp_path):
    data, config = tiny_project(tmp_path)
    config.write_text(config.read_text(encoding="utf-8").replace(
        "  val_fraction: 0.2\n", '  val_fraction: 0.2\n  labels: [-1, 0, 1, "x\\ty"]\n'), encoding="utf-8")
    result = run_cli("train", "--config", str(config), timeout=120)
    assert_one_line_error(result, "data.labels", "'x\\ty'", "control character")


def test_tsv_header_of_an_older_run_with_a_tab_in_a_class_is_cleaned(quick_run, run_copy):
    """A run trained before the refusal: its class names are cleaned in the header as in rows."""
    import yaml

    config = yaml.safe_load((run_copy / "config.yaml").read_text(encoding="utf-8"))
    config["data"]["labels"] = ["neg\tative", "neu\ntral", "positive"]
    (run_copy / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    result = run_cli("predict", str(run_copy), str(quick_run["lines"]), "--format", "tsv", timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["id", "label", "p_neg ative", "p_neu tral", "p_positive"]
    assert {len(row) for row in rows} == {5}


# --------------------------------------------------------------------------------------
# predict on an input without a single text


# the input's name and text, whether it comes on stdin, and a fragment of the one error line
NO_TEXTS = {
    "txt of blank lines": ("in.txt", "\n\n  \n", False, "in.txt: 3 blank lines"),
    "stdin of blank lines": ("in.txt", "\n\n", True, "<stdin>: 2 blank lines"),
    "jsonl of blank lines": ("in.jsonl", "\n \n", False, "in.jsonl: 2 blank lines"),
    "tsv header only": ("in.tsv", "id\ttext\n\n", False, "in.tsv: the header and 1 blank line"),
    "csv header only": ("in.csv", "id,text\n", False, "in.csv: the header and 0 blank lines"),
}


@pytest.mark.parametrize("case", list(NO_TEXTS))
@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "-o"])
def test_predict_on_no_texts_is_one_line(quick_run, tmp_path, case, to_file):
    name, text, on_stdin, fragment = NO_TEXTS[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    args = ["predict", str(quick_run["run"]), "-" if on_stdin else str(path), *(["-o", str(out)] if to_file else [])]
    result = run_cli(*args, stdin=text if on_stdin else None, timeout=120)
    assert_one_line_error(result, "no texts in", fragment)
    assert result.stdout == "" and not out.exists()


def test_blank_lines_among_texts_are_still_skipped(quick_run, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("сбербанк спасибо\n\n\nкошмар\n", encoding="utf-8")
    result = run_cli("predict", str(quick_run["run"]), str(path), timeout=120)
    assert result.returncode == 0, result.stderr
    assert [row.split(",")[0] for row in result.stdout.splitlines()[1:]] == ["1", "4"]  # ids: line numbers


def test_predict_on_an_empty_pipe_writes_only_the_header(quick_run):
    """No lines at all on a pipe (an upstream step that found nothing): an empty answer, exit 0."""
    result = run_cli("predict", str(quick_run["run"]), "-", stdin="", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["id,label,p_negative,p_neutral,p_positive"]


# --------------------------------------------------------------------------------------
# tune settings that cannot work


LR_SPACE = "train.optimizer.lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n"

# (--storage/--study arguments or a space file's text, a fragment of the one error line)
BAD_TUNES = {
    "in-memory storage": (["--storage", "sqlite:///:memory:"], LR_SPACE, "in-memory SQLite"),
    "in-memory storage, no path": (["--storage", "sqlite://"], LR_SPACE, "in-memory SQLite"),
    "in-memory uri": (["--storage", "sqlite:///file:x?mode=memory&uri=true"], LR_SPACE, "in-memory SQLite"),
    "empty study": (["--study", ""], LR_SPACE, "--study: ''"),
    "blank study": (["--study", "  "], LR_SPACE, "--study: '  '"),
    "hidden_size up to 1e11": ([], "model.encoder.hidden_size: {type: int, low: 8, high: 100000000000}\n",
                               "model.encoder.hidden_size: 100000000000 must be ≥ 1 and ≤ 4096"),
    "hidden_size choice 1e11": ([], "model.encoder.hidden_size: {choice: [8, 100000000000]}\n",
                                "model.encoder.hidden_size: 100000000000 must be"),
    "num_layers up to 1e6": ([], "model.encoder.num_layers: {type: int, low: 1, high: 1000000}\n",
                             "model.encoder.num_layers: 1000000 must be ≥ 1 and ≤ 16"),
    "filters of a sampled cnn": ([], "model.encoder.name: {choice: [gru, cnn]}\n"
                                     "model.encoder.filters: {type: int, low: 8, high: 10000000000}\n",
                                 "model.encoder.filters: 10000000000 must be"),
    "lr below its range": ([], "train.optimizer.lr: {type: float, low: -1.0, high: 1.0}\n",
                           "train.optimizer.lr: -1.0 must be > 0"),
}


@pytest.mark.parametrize("case", list(BAD_TUNES))
def test_tune_refuses_settings_that_cannot_work(tmp_path, case):
    args, space, fragment = BAD_TUNES[case]
    data, _ = tiny_project(tmp_path)
    study = study_files(data, space)
    before = snapshot(tmp_path)
    result = run_cli("tune", "--config", str(study["base"]), "--space", str(study["space"]),
                     "--output-dir", str(study["out"]), "--trials", "1", *args,
                     timeout=120, preexec_fn=capped())
    assert_one_line_error(result, fragment, *([] if args else ["space.yaml"]))
    assert snapshot(tmp_path) == before, "a refused study left files behind"


def test_a_killed_trial_is_marked_failed_on_resume(tmp_path):
    """kill -9 of the process running a trial leaves it RUNNING in the storage; the next tune
    marks it FAIL (its worker is gone), says so, and goes on with a new trial."""
    import optuna
    from optuna.trial import TrialState

    from sentinet.tuning.storage import open_storage

    data, _ = tiny_project(tmp_path)
    study = study_files(data, LR_SPACE)
    args = [sys.executable, "-m", "sentinet", "tune", "--config", str(study["base"]), "--space",
            str(study["space"]), "--output-dir", str(study["out"]), "--trials", "1"]
    long = ["--set", "train.epochs=200", "--set", "train.patience=200"]
    proc = subprocess.Popen([*args, *long], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    trials = study["dir"] / "trials"
    deadline = time.monotonic() + 300  # a safety net: the trial starts in seconds
    while not list(trials.glob("trial0-*/train.log")):  # the trial's run directory: it runs, its worker recorded
        assert proc.poll() is None, proc.communicate()[1]
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"trial 0 never started: {proc.communicate()[1]}")
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1]
    proc.kill()
    proc.wait(timeout=60)
    load = lambda: optuna.load_study(study_name="base", storage=open_storage(study["storage"])).get_trials()  # noqa: E731
    assert [t.state for t in load()] == [TrialState.RUNNING]

    resumed = run_cli(*args[3:], timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "trial 0 fail" in resumed.stdout and "worker process ended" in resumed.stdout
    first, second = load()
    assert first.state == TrialState.FAIL and "ended without finishing it" in first.user_attrs["error"]
    assert second.state == TrialState.COMPLETE
    assert "ended without finishing it" in (study["dir"] / "trials.md").read_text(encoding="utf-8")


def test_a_running_trial_of_a_live_process_is_left_alone(tmp_path):
    """Only a trial whose process is gone is failed: one another tune still runs stays RUNNING."""
    import optuna
    from optuna.trial import TrialState

    from sentinet.tuning.state import fail_abandoned, worker_name
    from sentinet.tuning.storage import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    live, gone, elsewhere = study.ask(), study.ask(), study.ask()
    live.set_user_attr("worker", worker_name())
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    gone.set_user_attr("worker", f"{worker_name().rpartition(':')[0]}:{ended.pid}")
    elsewhere.set_user_attr("worker", f"another-host:{ended.pid}")
    assert fail_abandoned(study) == [gone.number]
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.RUNNING, TrialState.FAIL, TrialState.RUNNING]
