"""sentinet/reporting/report.py in-process, on copies of the legacy runs (tests/fixtures/legacy):
the config keys that differ, the score rows, the table as text and markdown, which paths are
runs, and the one line a run that cannot be reported gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sentinet.errors import SentinetError
from sentinet.reporting.report import compare, describe_run, flatten, render, select_runs
from sentinet.runs.weights import load_record, load_weights, save_weights

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy" / "runs"

GRU_VS_CNN = [
    ["model.encoder.bidirectional", "true", "—"],
    ["model.encoder.dropout", "0", "—"],
    ["model.encoder.filters", "—", "4"],
    ["model.encoder.hidden_size", "8", "—"],
    ["model.encoder.name", "gru", "cnn"],
    ["model.encoder.num_layers", "1", "—"],
    ["model.encoder.pooling", "max", "—"],
    ["model.encoder.widths", "—", "[3, 4, 5]"],
    ["dev", "F-macro 0.6104  F-micro 0.5556", "F-macro 0.4583  F-micro 0.4286"],
    ["best epoch", "1 of 1", "1 of 1"],
    ["time (s)", "2", "2"],
]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Copies of the legacy runs, to change at will."""
    for name in ("gru", "cnn", "baseline", "interrupted"):
        shutil.copytree(LEGACY / name, tmp_path / name)
    return tmp_path


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, **changes}), encoding="utf-8")


def test_flatten_joins_nested_keys_with_dots() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None, "f": {}}) == {"a.b": 1, "a.c.d": [1, 2], "e": None}


def test_gru_and_cnn_differ_in_their_encoder_only(runs: Path) -> None:
    header, rows = compare([runs / "gru", runs / "cnn"])
    assert header == ["", "gru", "cnn"]
    assert rows == GRU_VS_CNN  # run.name differs too, and says nothing: left out


def test_a_run_against_itself_has_only_score_rows(runs: Path) -> None:
    shutil.copytree(runs / "gru", runs / "again")
    header, rows = compare([runs / "gru", runs / "again"])
    assert header == ["", "gru", "again"] and [r[0] for r in rows] == ["dev", "best epoch", "time (s)"]


def test_a_changed_float_is_shown_without_float_noise(runs: Path) -> None:
    config = runs / "cnn" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("head_dropout: 0.5", "head_dropout: 0.30000000000000004"),
                      encoding="utf-8")
    _, rows = compare([runs / "gru", runs / "cnn"])
    assert ["model.head_dropout", "0.5", "0.3"] in rows


def test_a_baseline_and_an_interrupted_run_have_their_own_rows(runs: Path, capsys) -> None:
    header, rows = compare([runs / "gru", runs / "baseline", runs / "interrupted"])
    assert header == ["", "gru", "baseline", "interrupted"]
    assert rows == [
        ["train.epochs", "1", "1", "2"],
        ["train.patience", "1", "5", "2"],
        ["dev", "F-macro 0.6104  F-micro 0.5556", "F-macro 1.0000  F-micro 1.0000", "F-macro 0.6104  F-micro 0.5556"],
        ["best epoch", "1 of 1", "-", "1 of 1"],
        ["time (s)", "2", "0", "2 (incomplete)"],
        ["baseline", "—", "tf-idf + logistic regression, C 0.25", "—"],
    ]
    err = capsys.readouterr().err
    assert err == (f"warning: {runs / 'interrupted'}: incomplete run (interrupted after epoch 1; model.pt holds the "
                   f"best epoch so far (1)); continue with: sentinet train --resume {runs / 'interrupted'}\n")


def test_a_killed_run_s_model_pt_ahead_of_metrics_json_is_believed(runs: Path, capsys) -> None:
    """model.pt saved for epoch 2, then a kill before metrics.json: the record in model.pt wins."""
    run = runs / "interrupted"
    best = {**load_record(run / "model.pt")["best"], "f_macro": 0.75, "f_micro": 0.5}
    save_weights(load_weights(run / "model.pt"), run / "model.pt", {"best_epoch": 2, "best": best})
    scores = describe_run(run)["scores"]
    assert scores == {"dev": "F-macro 0.7500  F-micro 0.5000", "best epoch": "2 of 2", "time (s)": "2 (incomplete)"}


def test_an_interrupted_finished_run_says_so(runs: Path) -> None:
    edit_json(runs / "gru" / "metrics.json", interrupted=True, seconds=61.6)
    assert describe_run(runs / "gru")["scores"]["time (s)"] == "62 (interrupted)"


def test_describe_run_names_the_run_and_flattens_its_config(runs: Path) -> None:
    described = describe_run(runs / "cnn")
    assert described["name"] == "cnn"
    assert described["config"]["model.encoder.widths"] == [3, 4, 5] and described["config"]["train.epochs"] == 1


# --------------------------------------------------------------------------------------
# Rendering


def test_render_as_aligned_text() -> None:
    header, rows = ["", "a", "bb"], [["key", "1", "22222"], ["longer key", "—", "3"]]
    assert render(header, rows, markdown=False) == ("            a  bb\n"
                                                    "key         1  22222\n"
                                                    "longer key  —  3\n")


def test_render_as_markdown(runs: Path) -> None:
    header, rows = compare([runs / "gru", runs / "cnn"])
    text = render(header, rows, markdown=True)
    lines = text.splitlines()
    assert lines[:3] == ["|  | gru | cnn |", "|---|---|---|", "| model.encoder.bidirectional | true | — |"]
    assert len(lines) == 2 + len(GRU_VS_CNN) and text.endswith("\n")


# --------------------------------------------------------------------------------------
# Which paths are runs


def test_select_runs_keeps_runs_and_notes_the_rest(runs: Path) -> None:
    (runs / "study").mkdir()
    (runs / "study" / "trials.md").write_text("x", encoding="utf-8")
    (runs / "notes.txt").write_text("x", encoding="utf-8")
    (runs / "empty").mkdir()
    kept, notes = select_runs([runs / "gru", runs / "study", runs / "notes.txt", runs / "empty", runs / "interrupted"])
    assert kept == [runs / "gru", runs / "interrupted"]
    assert notes == [f"{runs / 'study'}: a tune study, not a run (its trials are in {runs / 'study' / 'trials.md'}); left out",
                     f"{runs / 'notes.txt'}: a file, not a run directory; left out",
                     f"{runs / 'empty'}: not a sentinet run directory (no metrics.json or config.yaml); left out"]


def test_a_folder_with_only_an_incomplete_note_is_a_run(runs: Path) -> None:
    (runs / "starting").mkdir()
    (runs / "starting" / "INCOMPLETE").write_text("training has not finished\n", encoding="utf-8")
    assert select_runs([runs / "starting"]) == ([runs / "starting"], [])
    with pytest.raises(SentinetError) as exc:
        describe_run(runs / "starting")
    assert str(exc.value) == (f"{runs / 'starting'}: incomplete run (training has not finished; no epoch saved yet); "
                              f"continue with: sentinet train --resume {runs / 'starting'}")


@pytest.mark.parametrize("make, why", [
    (lambda p: p.write_text("x", encoding="utf-8"), "a file, not a run directory"),
    (lambda p: p.mkdir(), "not a sentinet run directory (no metrics.json or config.yaml)"),
    (lambda p: (p.mkdir(), (p / "study.db").write_bytes(b"")), "a tune study, not a run (its trials are in {p}/trials.md)"),
])
def test_one_path_alone_must_be_a_run(tmp_path: Path, make, why) -> None:
    path = tmp_path / "x"
    make(path)
    with pytest.raises(SentinetError) as exc:
        select_runs([path])
    assert str(exc.value) == f"{path}: {why.format(p=path)}"


def test_a_missing_path_or_no_run_at_all(tmp_path: Path) -> None:
    with pytest.raises(SentinetError, match=rf"^{tmp_path / 'nope'}: no such run directory$"):
        select_runs([tmp_path / "nope"])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(SentinetError, match=r"^no run directories among the 2 paths given$"):
        select_runs([tmp_path / "a", tmp_path / "b"])


# --------------------------------------------------------------------------------------
# Runs that cannot be reported


def test_a_run_without_metrics_json(runs: Path) -> None:
    (runs / "gru" / "metrics.json").unlink()
    with pytest.raises(SentinetError) as exc:
        describe_run(runs / "gru")
    assert str(exc.value) == f"{runs / 'gru'}: not a finished sentinet run (no metrics.json file)"


@pytest.mark.parametrize("changes, why", [
    ({"seconds": "abc"}, "ValueError: Unknown format code 'f' for object of type 'str'"),
    ({"best": [1]}, "AttributeError: 'list' object has no attribute 'get'"),
])
def test_metrics_of_the_wrong_type_are_one_line(runs: Path, changes, why) -> None:
    edit_json(runs / "gru" / "metrics.json", **changes)
    with pytest.raises(SentinetError) as exc:
        compare([runs / "cnn", runs / "gru"])
    assert str(exc.value) == f"{runs / 'gru' / 'metrics.json'}: unreadable metrics ({why})"
