"""sentinet.runs.rundir: making a run directory, its JSON files read and written, and the
INCOMPLETE note's lifecycle, in process (the CLI's side: tests/stories/test_resume.py and
tests/stories/test_hostile_runs.py)."""

from __future__ import annotations

import json
import os
import types

import pytest

from sentinet.config.schema import from_dict
from sentinet.errors import SentinetError
from sentinet.runs import rundir


def fixed_clock(monkeypatch, stamp: str = "20240102-030405") -> None:
    monkeypatch.setattr(rundir, "time", types.SimpleNamespace(strftime=lambda fmt: stamp))


def test_create_run_dir_marks_it_incomplete_first(tmp_path):
    run = rundir.create_run_dir(tmp_path / "deep" / "gru-1")
    assert run.is_dir() and [p.name for p in run.iterdir()] == [rundir.NOTE]
    assert (run / rundir.NOTE).read_text(encoding="utf-8") == (
        f"{rundir.TRAINING}\ncontinue with: sentinet train --resume {run}\n")
    assert rundir.status(run) == rundir.TRAINING
    with pytest.raises(FileExistsError):
        rundir.create_run_dir(run)  # never reused


def test_create_run_dir_where_no_folder_can_be_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    target = tmp_path / "file" / "run"
    with pytest.raises(SentinetError, match=rf"^{target}: cannot create run directory \(Not a directory\)$"):
        rundir.create_run_dir(target)


def test_new_run_dir_never_overwrites_a_run_of_the_same_second(tmp_path, monkeypatch):
    fixed_clock(monkeypatch)
    made = [rundir.new_run_dir(tmp_path, "gru") for _ in range(3)]
    assert [p.name for p in made] == ["gru-20240102-030405", "gru-20240102-030405-2", "gru-20240102-030405-3"]


def test_new_run_dir_gives_up_after_999_names(tmp_path, monkeypatch):
    fixed_clock(monkeypatch)
    tried = []

    def taken(path):
        tried.append(path.name)
        raise FileExistsError(path)

    monkeypatch.setattr(rundir, "create_run_dir", taken)
    with pytest.raises(SentinetError, match=r"gru-20240102-030405: too many runs with this name and timestamp$"):
        rundir.new_run_dir(tmp_path, "gru")
    assert len(tried) == 999 and tried[-1] == "gru-20240102-030405-999"


def test_read_json_passes_the_data_through_pick_and_names_the_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": {"b": 2}}', encoding="utf-8")
    assert rundir.read_json(path, "thing", lambda d: d["a"]["b"]) == 2
    with pytest.raises(SentinetError, match=rf"^{path}: unreadable thing \('c'\)$"):
        rundir.read_json(path, "thing", lambda d: d["c"])
    path.write_text("{bad", encoding="utf-8")
    with pytest.raises(SentinetError, match=rf"^{path}: unreadable thing \(Expecting property name"):
        rundir.read_json(path, "thing")
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(SentinetError, match=rf"^{path}: unreadable thing \("):
        rundir.read_json(path, "thing")  # too deep to parse: still one line
    gone = tmp_path / "gone.json"
    with pytest.raises(SentinetError, match=rf"^{gone}: unreadable thing \(cannot read \(No such file or directory\)\)$"):
        rundir.read_json(gone, "thing")


def test_read_json_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "metrics.json"
    os.mkfifo(fifo)
    with pytest.raises(SentinetError, match=rf"^{fifo}: unreadable metrics \(is a FIFO, not a file sentinet reads\)$"):
        rundir.read_metrics(tmp_path)


def test_metrics_round_trip_and_must_be_an_object(tmp_path):
    metrics = {"epochs": [{"epoch": 1, "f_macro": 0.5}], "best": {"f_macro": 0.5}, "best_epoch": 1}
    rundir.write_metrics(tmp_path, metrics)
    assert rundir.read_metrics(tmp_path) == metrics
    (tmp_path / rundir.METRICS).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SentinetError, match=r"metrics\.json: unreadable metrics \(not a JSON object\)$"):
        rundir.read_metrics(tmp_path)


def test_config_round_trip_and_a_bad_one_names_the_file(tmp_path):
    config = from_dict({"train": {"epochs": 7}, "model": {"encoder": {"name": "cnn", "widths": [2, 3]}}})
    path = tmp_path / rundir.CONFIG
    rundir.write_config(config, path)
    assert rundir.read_config(path) == config
    path.write_text("train:\n  epochz: 3\n", encoding="utf-8")
    with pytest.raises(SentinetError, match=rf"^{path}: unknown config key 'train\.epochz' \(did you mean 'epochs'\?\)$"):
        rundir.read_config(path)
    path.write_text("train: [\n", encoding="utf-8")
    with pytest.raises(SentinetError) as caught:
        rundir.read_config(path)
    assert str(caught.value).startswith(f"{path}: ") and str(path) not in str(caught.value)[len(str(path)):]


def test_members_resolve_against_the_ensemble_folder(tmp_path):
    rundir.write_members(tmp_path, ["member0", "../elsewhere/run"])
    assert rundir.members(tmp_path) == [(tmp_path / "member0").resolve(), (tmp_path.parent / "elsewhere/run").resolve()]
    rundir.write_members(tmp_path, [])
    with pytest.raises(SentinetError, match=r"ensemble\.json: the ensemble has no members$"):
        rundir.members(tmp_path)
    (tmp_path / rundir.ENSEMBLE).write_text("{}", encoding="utf-8")
    with pytest.raises(SentinetError, match=r"ensemble\.json: unreadable ensemble manifest \('members'\)$"):
        rundir.members(tmp_path)


@pytest.mark.parametrize("listed", [5, ["member0", 3]])
def test_members_that_are_no_list_of_names_are_one_line(tmp_path, listed):
    (tmp_path / rundir.ENSEMBLE).write_text(json.dumps({"members": listed}), encoding="utf-8")
    with pytest.raises(SentinetError, match=r"ensemble\.json"):
        rundir.members(tmp_path)


def test_dev_predictions_round_trip_rounded_to_six_places(tmp_path):
    gold = [{"sberbank": 1}, {"vtb": -1, "alfabank": 0}]
    probs = [[0.1234567891, 0.2, 0.6765432109], [1.0, 0.0, 0.0]]
    assert rundir.save_dev_predictions(tmp_path, ["t1", "t2"], gold, probs) is None
    loaded_gold, loaded_probs = rundir.load_dev_predictions(tmp_path)
    assert loaded_gold == gold
    assert loaded_probs == [[0.123457, 0.2, 0.676543], [1.0, 0.0, 0.0]]
    rows = json.loads((tmp_path / rundir.DEV).read_text(encoding="utf-8"))
    assert [r["id"] for r in rows] == ["t1", "t2"]


def test_dev_predictions_past_the_limit_are_left_out_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "DEV_PREDICTIONS_LIMIT", 5)
    note = rundir.save_dev_predictions(tmp_path, ["a", "b"], [{}, {}], [[0.5, 0.2, 0.3]] * 2)
    assert note == ("dev_predictions.json not written: 2 dev records x 3 classes is over 5 probabilities "
                    "(ensembles and decision tuning need it)")
    assert not (tmp_path / rundir.DEV).exists()
    assert rundir.save_dev_predictions(tmp_path, [], [], []) is None  # no dev records: an empty file
    assert rundir.load_dev_predictions(tmp_path) == ([], [])


def test_decision_round_trip_and_its_class_count(tmp_path):
    assert rundir.load_decision(tmp_path, 3) is None  # no decision.json: argmax
    rundir.save_decision(tmp_path, (0.0, -0.3, 0.7))
    assert rundir.load_decision(tmp_path, 3) == (0.0, -0.3, 0.7)
    with pytest.raises(SentinetError, match=r"decision\.json: 3 biases for the run's 2 classes$"):
        rundir.load_decision(tmp_path, 2)
    (tmp_path / rundir.DECISION).write_text('{"bias": [1, "x"]}', encoding="utf-8")
    with pytest.raises(SentinetError, match=r"decision\.json: unreadable decision rule \(could not convert"):
        rundir.load_decision(tmp_path, 2)


def test_group_plan_round_trip_and_refusals(tmp_path):
    assert not rundir.is_group(tmp_path)
    rundir.write_group_plan(tmp_path, "folds", 5)
    assert rundir.is_group(tmp_path) and rundir.read_group_plan(tmp_path) == ("folds", 5)
    path = tmp_path / rundir.GROUP
    for plan, why in [({"kind": "bags", "count": 3}, "unknown group kind 'bags'"),
                      ({"kind": "seeds", "count": 1}, "count '1' is not a number of members (2 or more)"),
                      ({"kind": "seeds", "count": True}, "count 'True' is not a number of members (2 or more)"),
                      ({"kind": "seeds", "count": 10_001}, "count '10001' is not a number of members"),
                      ({"kind": "seeds", "count": "3"}, "count '3' is not a number of members"),
                      ({"kind": "seeds"}, "unreadable group plan ('count')")]:
        path.write_text(json.dumps(plan), encoding="utf-8")
        with pytest.raises(SentinetError) as caught:
            rundir.read_group_plan(tmp_path)
        assert str(caught.value).startswith(f"{path}: {why}")


def test_the_note_lifecycle(tmp_path):
    run = rundir.create_run_dir(tmp_path / "run")
    rundir.mark(run, "interrupted by Ctrl-C at epoch 3")
    assert rundir.status(run) == "interrupted by Ctrl-C at epoch 3"
    rundir.require_done(tmp_path)  # no note: done
    with pytest.raises(SentinetError) as caught:
        rundir.require_done(run)
    assert str(caught.value) == (f"{run}: incomplete run (interrupted by Ctrl-C at epoch 3); "
                                 f"continue with: sentinet train --resume {run}")
    rundir.clear(run)
    rundir.clear(run)  # twice is fine
    assert rundir.status(run) is None
    rundir.require_done(run)


@pytest.mark.parametrize("note", ["", "\n\n", "   \nsecond\n", "link", "dir"])
def test_a_note_that_says_nothing_or_is_no_file_still_means_unfinished(tmp_path, note):
    path = tmp_path / rundir.NOTE
    if note == "dir":
        path.mkdir()
    elif note == "link":
        path.symlink_to(tmp_path / "nowhere")  # a dangling link still marks the run
    else:
        path.write_text(note, encoding="utf-8")
    assert rundir.status(tmp_path) == "no status"


def test_a_member_of_a_group_goes_on_with_its_group(tmp_path):
    rundir.write_group_plan(tmp_path, "seeds", 3)
    member = rundir.create_run_dir(tmp_path / "seed1")
    assert rundir.hint(member) == f"continue with: sentinet train --resume {tmp_path}"
    assert rundir.status(member) == rundir.TRAINING


def test_warn_prints_one_escaped_line_and_says_whether_it_warned(tmp_path, capsys):
    assert rundir.warn(tmp_path) is False
    assert capsys.readouterr().err == ""
    (tmp_path / rundir.NOTE).write_text("killed \x1b[31mred\x1b[0m\u202eevil\n", encoding="utf-8")
    assert rundir.warn(tmp_path) is True
    err = capsys.readouterr().err
    assert err == (f"warning: {tmp_path}: incomplete run (killed \\x1b[31mred\\x1b[0m\\u202eevil); "
                   f"continue with: sentinet train --resume {tmp_path}\n")
