"""sentinet/tuning/search_space.py: space files read into Params and their values suggested,
built into configs and laid out as a grid; bad spaces refused in one line naming the file and
key. (The CLI's refusals of a few bad spaces, and the grid of a space, are in
tests/tuning/test_tuner.py and tests/stories/test_tune_samplers.py; not repeated here.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinet.errors import SentinetError
from sentinet.tuning.search_space import (
    Param, build_config, check_storage, grid_values, make_job, parse_param, read_space, tidy,
)

BASE = {"model": {"encoder": {"name": "gru", "hidden_size": 16}}}


def space_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str, base: dict = BASE) -> str:
    path = space_file(tmp_path, text)
    with pytest.raises(SentinetError) as exc:
        read_space(path, base)
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message[len(f"{path}: "):]


# --------------------------------------------------------------------------------------
# Reading a space


def test_a_space_reads_into_params_in_its_order(tmp_path: Path) -> None:
    path = space_file(tmp_path, """
train.optimizer.lr: {type: float, low: 1e-4, high: 1.0e-2, log: true}
model.encoder.hidden_size: {type: int, low: 8, high: 32, step: 8}
model.head_dropout: {type: float, low: 0, high: 0.5, step: 0.1}
train.class_weights: {choice: [none, balanced]}
""")
    assert read_space(path, BASE) == (
        Param("train.optimizer.lr", "float", 1e-4, 1e-2, log=True),  # 1e-4: a string to YAML, a number here
        Param("model.encoder.hidden_size", "int", 8, 32, step=8),
        Param("model.head_dropout", "float", 0.0, 0.5, step=0.1),
        Param("train.class_weights", "choice", choices=("none", "balanced")),
    )


def test_floats_are_floats_and_ints_stay_ints() -> None:
    p = parse_param("model.head_dropout", {"type": "float", "low": 0, "high": 1}, "w")
    assert type(p.low) is float and type(p.high) is float
    p = parse_param("train.epochs", {"type": "int", "low": 1, "high": 3, "step": 1}, "w")
    assert (type(p.low), type(p.high), type(p.step)) == (int, int, int)


def test_a_key_that_only_a_sampled_encoder_has_is_accepted(tmp_path: Path) -> None:
    """model.encoder.filters exists only once the sampled encoder is cnn."""
    path = space_file(tmp_path, "model.encoder.name: {choice: [gru, cnn]}\n"
                                "model.encoder.filters: {type: int, low: 4, high: 8}\n")
    assert [p.key for p in read_space(path, BASE)] == ["model.encoder.name", "model.encoder.filters"]


def test_a_key_no_choice_gives_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path, "model.encoder.filters: {type: int, low: 4, high: 8}\n") == (
        "unknown config key 'model.encoder.filters' (valid: name, hidden_size, num_layers, bidirectional, "
        "dropout, pooling)")


def test_a_value_out_of_the_configs_range_is_refused_with_the_range(tmp_path: Path) -> None:
    assert refusal(tmp_path, "model.encoder.hidden_size: {type: int, low: 0, high: 8}\n") == (
        "model.encoder.hidden_size: 0 must be ≥ 1 and ≤ 4096")
    assert refusal(tmp_path, "model.head_dropout: {type: float, low: 0.1, high: 1.5}\n") == (
        "model.head_dropout: 1.5 must be ≥ 0 and < 1")  # the high end is built too


def test_the_range_error_of_a_context_that_has_the_key_is_said(tmp_path: Path) -> None:
    """filters 0 beside cnn is out of range; that says more than gru's unknown key."""
    message = refusal(tmp_path, "model.encoder.name: {choice: [gru, cnn]}\n"
                                "model.encoder.filters: {type: int, low: 0, high: 8}\n")
    assert "model.encoder.filters" in message and "unknown config key" not in message


def test_a_missing_space_file(tmp_path: Path) -> None:
    with pytest.raises(SentinetError) as exc:
        read_space(tmp_path / "nope.yaml", BASE)
    assert str(exc.value) == f"{tmp_path / 'nope.yaml'}: search space file not found"


def test_a_space_that_is_a_list_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path, "- a\n- b\n") == "the top level must be a mapping of sections"


REFUSED = {
    "not a dotted key": ("1bad: {choice: [1]}", "1bad: not a dotted config key (like train.optimizer.lr)"),
    "trailing dot": ("train.: {choice: [1]}", "train.: not a dotted config key (like train.optimizer.lr)"),
    "a bare value": ("train.epochs: 3", "train.epochs: expected {type: int|float, low: ..., high: ...} or "
                                        "{choice: [...]}, got 3"),
    "choice and type": ("model.head_dropout: {choice: [0.1, 0.2], type: float}",
                        "model.head_dropout: 'type' does not go with choice (a list needs nothing else)"),
    "empty choice": ("model.head_dropout: {choice: []}",
                     "model.head_dropout: choice must be a non-empty list, got []"),
    "choice not a list": ("model.head_dropout: {choice: 0.1}",
                          "model.head_dropout: choice must be a non-empty list, got 0.1"),
    "a list among choices": ("model.encoder.widths: {choice: [[3], [3, 4]]}",
                             "model.encoder.widths: choice [3] is not a number, string, true/false or null"),
    "unknown spec key, nothing close": ("model.head_dropout: {zzz: float}",
                                        "model.head_dropout: unknown spec key 'zzz' (valid: type, low, high, "
                                        "log, step, choice)"),
    "no type": ("model.head_dropout: {low: 0.1, high: 0.5}",
                "model.head_dropout: type None is not int or float (for a list of values write choice: [...])"),
    "low missing": ("model.head_dropout: {type: float, high: 0.5}", "model.head_dropout: low is missing"),
    "high missing": ("model.head_dropout: {type: float, low: 0.1}", "model.head_dropout: high is missing"),
    "int range of floats": ("train.epochs: {type: int, low: 1.5, high: 3}",
                            "train.epochs: low must be an integer, got 1.5"),
    "a bool for a number": ("model.head_dropout: {type: float, low: true, high: 0.5}",
                            "model.head_dropout: low must be a number, got True"),
    "text for a number": ("model.head_dropout: {type: float, low: abc, high: 0.5}",
                          "model.head_dropout: low must be a number, got 'abc'"),
    "step 0": ("model.head_dropout: {type: float, low: 0.1, high: 0.5, step: 0}",
               "model.head_dropout: step 0.0 must be positive"),
    "negative int step": ("train.epochs: {type: int, low: 1, high: 5, step: -1}",
                          "train.epochs: step -1 must be positive"),
    "low equal to high": ("train.epochs: {type: int, low: 3, high: 3}", "train.epochs: low 3 must be below high 3"),
    "log not a bool": ("model.head_dropout: {type: float, low: 0.1, high: 0.5, log: maybe}",
                       "model.head_dropout: log must be true or false, got 'maybe'"),
    "log and step": ("model.head_dropout: {type: float, low: 0.1, high: 0.5, log: true, step: 0.1}",
                     "model.head_dropout: log and step cannot be combined"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_bad_spaces_are_refused_naming_the_file_and_key(tmp_path: Path, case) -> None:
    text, message = REFUSED[case]
    assert refusal(tmp_path, text + "\n") == message


# --------------------------------------------------------------------------------------
# Params: suggested values, examples, grid values


class FakeTrial:
    """Records what Optuna is asked for; answers the low end (or the first choice)."""

    def __init__(self) -> None:
        self.asked: list[tuple] = []

    def suggest_categorical(self, name, choices):
        self.asked.append(("categorical", name, choices))
        return choices[0]

    def suggest_int(self, name, low, high, step=1, log=False):
        self.asked.append(("int", name, low, high, step, log))
        return low

    def suggest_float(self, name, low, high, step=None, log=False):
        self.asked.append(("float", name, low, high, step, log))
        return low


def test_each_kind_asks_optuna_for_its_own_distribution() -> None:
    trial = FakeTrial()
    assert Param("c", "choice", choices=("x", None)).suggest(trial) == "x"
    assert Param("i", "int", 2, 8).suggest(trial) == 2
    assert Param("j", "int", 2, 32, log=True).suggest(trial) == 2
    assert Param("f", "float", 0.1, 0.5, step=0.1).suggest(trial) == 0.1
    assert trial.asked == [("categorical", "c", ["x", None]), ("int", "i", 2, 8, 1, False),
                           ("int", "j", 2, 32, 1, True), ("float", "f", 0.1, 0.5, 0.1, False)]
    assert all(type(a[2]) is int for a in trial.asked[1:3])


def test_a_real_optuna_trial_gets_the_values_it_was_given() -> None:
    optuna = pytest.importorskip("optuna")
    trial = optuna.trial.FixedTrial({"a": 0.3, "b": 4, "c": "y"})
    assert Param("a", "float", 0.1, 0.5, step=0.1).suggest(trial) == 0.3
    assert Param("b", "int", 2, 8, step=2).suggest(trial) == 4
    assert Param("c", "choice", choices=("x", "y")).suggest(trial) == "y"


def test_examples_are_every_choice_or_both_ends() -> None:
    assert Param("c", "choice", choices=("x", None, 3)).examples() == ["x", None, 3]
    assert Param("i", "int", 2, 8, step=3).examples() == [2, 8]


def test_grid_values_of_ranges() -> None:
    assert grid_values(Param("i", "int", 1, 10, step=4), "w") == [1, 5, 9]  # high not on a step: left out
    assert grid_values(Param("c", "choice", choices=(0, False, 0.0, "0")), "w") == [0, False, 0.0, "0"]


# --------------------------------------------------------------------------------------
# Configs from sampled values


def test_a_sampled_encoder_keeps_only_the_base_options_it_has() -> None:
    base = {"model": {"encoder": {"name": "gru", "hidden_size": 16, "num_layers": 2}}}
    lstm = build_config(base, {"model.encoder.name": "lstm"}).model.encoder
    assert (lstm.name, lstm.hidden_size, lstm.num_layers) == ("lstm", 16, 2)
    cnn = build_config(base, {"model.encoder.name": "cnn", "model.encoder.filters": 6}).model.encoder
    assert (cnn.name, cnn.filters) == ("cnn", 6) and not hasattr(cnn, "hidden_size")
    assert base == {"model": {"encoder": {"name": "gru", "hidden_size": 16, "num_layers": 2}}}  # not changed


def test_tidy_rounds_float_noise_only() -> None:
    assert tidy(0.1 + 0.2) == 0.3 and tidy(1e-4 * 3) == 3e-4
    assert tidy(float("inf")) == float("inf") and tidy(7) == 7 and tidy("0.30000000000000004") == "0.30000000000000004"


# --------------------------------------------------------------------------------------
# A study's job


@pytest.fixture
def job_files(tmp_path: Path) -> dict[str, Path]:
    config = tmp_path / "mystudy.yaml"
    config.write_text("data:\n  train: train.xml\nmodel:\n  encoder:\n    name: gru\n"
                      f"run:\n  output_dir: {tmp_path / 'out'}\n", encoding="utf-8")
    space = space_file(tmp_path, "model.head_dropout: {type: float, low: 0.1, high: 0.5}\n")
    return {"config": config, "space": space, "dir": tmp_path}


def test_a_job_is_checked_and_nothing_is_written(job_files) -> None:
    before = sorted(job_files["dir"].iterdir())
    job = make_job(job_files["config"], job_files["space"], ["train.epochs=2"], None, None, None, 0)
    assert job.name == "mystudy" and job.directory == job_files["dir"] / "out" / "mystudy"
    assert job.storage == f"sqlite:///{job.directory / 'study.db'}"
    assert job.base["train"] == {"epochs": 2} and job.sampler is None and job.folds == 0
    assert job.space == (Param("model.head_dropout", "float", 0.1, 0.5),)
    assert sorted(job_files["dir"].iterdir()) == before


def test_a_job_s_refusals(job_files) -> None:
    config, space = job_files["config"], job_files["space"]
    with pytest.raises(SentinetError, match=r"^--sampler 'bayes': choose one of tpe, random, grid$"):
        make_job(config, space, [], None, None, None, 0, sampler="bayes")
    with pytest.raises(SentinetError, match=r"^--folds: data.dev names a dev file; folds are carved from data.train$"):
        make_job(config, space, ["data.dev=dev.xml"], None, None, None, 3)
    with pytest.raises(SentinetError, match=r"--sampler grid needs a step or choices for model.head_dropout"):
        make_job(config, space, [], None, None, None, 0, sampler="grid")
    with pytest.raises(SentinetError, match="in-memory SQLite database cannot hold a study"):
        make_job(config, space, [], None, None, "sqlite://", 0)
    assert sorted(p.name for p in job_files["dir"].iterdir()) == ["mystudy.yaml", "space.yaml"]


@pytest.mark.parametrize("url", ["sqlite:///study.db", "sqlite:////abs/study.db", "postgresql://u:pw@host/db",
                                 "not a url"])
def test_storages_that_can_hold_a_study_pass(url) -> None:
    check_storage(url)  # "not a url": open_storage says what is wrong with it


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?cache=shared",
                                 "sqlite:///file:x?mode=memory&uri=true"])
def test_in_memory_sqlite_is_refused(url) -> None:
    with pytest.raises(SentinetError) as exc:
        check_storage(url)
    assert str(exc.value).endswith(": an in-memory SQLite database cannot hold a study (its workers, summary "
                                   "and resumes each open their own); give a file, e.g. sqlite:///study.db, "
                                   "or leave --storage out")


def test_the_in_memory_refusal_quotes_the_url_as_given() -> None:
    with pytest.raises(SentinetError) as exc:
        check_storage("sqlite:///:memory:")
    assert str(exc.value).startswith("--storage 'sqlite:///:memory:': ")
