"""sentinet/runs/weights.py: model.pt saved with its record and read back (weights, record,
a whole run, one written by an older release), and every way a run directory or its weights
can fail to fit refused in one line naming the file."""

from __future__ import annotations

import fractions
import os
import shutil
from pathlib import Path

import pytest
import torch

from sentinet.data.vocab import Vocab
from sentinet.errors import SentinetError
from sentinet.labels import LabelSet
from sentinet.runs import rundir
from sentinet.runs.weights import (
    describe_mismatch, find_run_dir, load_record, load_run, load_weights, model_from_state, save_weights,
)

LEGACY_GRU = Path(__file__).resolve().parents[1] / "fixtures" / "legacy" / "runs" / "gru"
RECORD = {"best_epoch": 2, "best": {"score": 0.5, "f_macro": 0.5}}


@pytest.fixture
def gru(tmp_path: Path) -> Path:
    """A copy of the legacy GRU run (loading reads no data or vectors path: none repointed)."""
    return Path(shutil.copytree(LEGACY_GRU, tmp_path / "gru"))


def tiny_state() -> dict:
    return {"a.weight": torch.arange(6.0).view(2, 3), "a.bias": torch.tensor([1, 2])}


# --------------------------------------------------------------------------------------
# model.pt


def test_save_weights_then_load_weights_and_record(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_weights(tiny_state(), path, RECORD)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
    back = load_weights(path)
    assert list(back) == ["a.weight", "a.bias"] and all(torch.equal(back[k], v) for k, v in tiny_state().items())
    assert load_record(path) == RECORD


def test_a_save_replaces_weights_and_record_together(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_weights(tiny_state(), path, RECORD)
    save_weights({"a.weight": torch.zeros(1)}, path, {"best_epoch": 3})
    assert list(load_weights(path)) == ["a.weight"] and load_record(path) == {"best_epoch": 3}


def test_an_older_plain_state_dict_loads_without_a_record(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(tiny_state(), path)
    assert list(load_weights(path)) == ["a.weight", "a.bias"]
    assert load_record(path) == {}


def test_only_the_record_s_keys_are_read(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_weights(tiny_state(), path, {**RECORD, "other": 1})
    assert load_record(path) == RECORD


def test_a_damaged_model_pt_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_weights(tiny_state(), path, RECORD)
    path.write_bytes(path.read_bytes()[:100])
    for load in (load_weights, load_record):
        with pytest.raises(SentinetError) as exc:
            load(path)
        message = str(exc.value)
        assert message.startswith(f"{path}: not a sentinet weights file: not a torch file, or a damaged one (")
        assert "\n" not in message


def test_a_model_pt_holding_other_objects_is_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {"w": fractions.Fraction(1, 3)}}, path)
    with pytest.raises(SentinetError) as exc:
        load_weights(path)
    assert str(exc.value).startswith(f"{path}: not a sentinet weights file: it holds objects other than tensors, "
                                     "which sentinet never unpickles (Unsupported global: GLOBAL fractions.Fraction")


@pytest.mark.parametrize("state", [{"state_dict": {"w": [1, 2]}}, {"w": 3}, [torch.zeros(1)]],
                         ids=["a list in the state_dict", "a number", "a list of tensors"])
def test_what_is_not_a_state_dict_of_tensors_is_refused(tmp_path: Path, state) -> None:
    path = tmp_path / "model.pt"
    torch.save(state, path)
    with pytest.raises(SentinetError) as exc:
        load_weights(path)
    assert str(exc.value) == f"{path}: not a sentinet weights file (expected a state_dict of tensors)"


# --------------------------------------------------------------------------------------
# Run directories


def test_a_run_loads_from_its_directory_or_its_model_pt(gru: Path) -> None:
    saved = load_weights(gru / "model.pt")
    for where in (gru, gru / "model.pt", str(gru)):
        run = load_run(where, torch.device("cpu"))
        assert run.run_dir == gru and not run.model.training
        assert run.labels == LabelSet.of([-1, 0, 1]) and len(run.vocab) == 29
        state = run.model.state_dict()
        assert list(state) == list(saved) and all(torch.equal(state[k], saved[k]) for k in saved)
    assert not run.model.embedder.pretrained.weight.requires_grad  # predicting never trains the table


def test_the_legacy_run_s_record(gru: Path) -> None:
    record = load_record(gru / "model.pt")
    assert record["best_epoch"] == 1 and record["best"]["f_macro"] == pytest.approx(0.6103896103896104)


def test_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SentinetError) as exc:
        find_run_dir(tmp_path / "nope")
    assert str(exc.value) == f"{tmp_path / 'nope'}: no such run directory or model file"


def test_a_folder_missing_run_files(gru: Path) -> None:
    (gru / "vocab.json").unlink()
    (gru / "model.pt").unlink()
    with pytest.raises(SentinetError) as exc:
        find_run_dir(gru)
    assert str(exc.value) == f"{gru}: not a sentinet run (missing vocab.json, model.pt)"


def test_an_unfinished_run_without_model_pt_says_so(gru: Path) -> None:
    (gru / "model.pt").unlink()
    (gru / rundir.NOTE).write_text("training has not finished\nmore\n", encoding="utf-8")
    with pytest.raises(SentinetError) as exc:
        find_run_dir(gru)
    assert str(exc.value) == (f"{gru}: incomplete run (training has not finished; no model.pt yet); "
                              f"continue with: sentinet train --resume {gru}")


def test_a_fifo_for_a_run_file_is_named_not_read(gru: Path) -> None:
    (gru / "vocab.json").unlink()
    os.mkfifo(gru / "vocab.json")
    with pytest.raises(SentinetError, match=rf"^{gru / 'vocab.json'}: is a"):
        find_run_dir(gru)


# --------------------------------------------------------------------------------------
# Weights that do not fit


def parts(gru: Path):
    config = rundir.read_config(gru / "config.yaml")
    return config, Vocab.load(gru / "vocab.json"), load_weights(gru / "model.pt"), gru / "model.pt"


def test_describe_mismatch_says_everything_that_differs() -> None:
    expected = {"a": torch.zeros(2, 3), "b": torch.zeros(1), "c": torch.zeros(4)}
    found = {"a": torch.zeros(2, 4), "c": torch.zeros(4), "d": torch.zeros(1), "e": torch.zeros(1)}
    assert describe_mismatch(expected, found) == "missing b; unexpected d, e; a expected (2, 3), found (2, 4)"
    assert describe_mismatch(expected, dict(expected)) == ""


def test_a_vocabulary_cut_from_the_weights_is_refused(gru: Path) -> None:
    config, vocab, state, path = parts(gru)
    state["embedder.pretrained.weight"] = state["embedder.pretrained.weight"][:-1]
    with pytest.raises(SentinetError) as exc:
        model_from_state(config, vocab, state, path)
    assert str(exc.value) == (f"{gru / 'vocab.json'}: 2 trainable + 27 pretrained words do not fit model.pt, which "
                              "has 2 + 26 rows (the vocabulary and the weights are from different runs, or one was cut)")


def test_weights_without_embedding_tables_are_refused(gru: Path) -> None:
    config, vocab, state, path = parts(gru)
    del state["embedder.learned.weight"]
    with pytest.raises(SentinetError) as exc:
        model_from_state(config, vocab, state, path)
    assert str(exc.value) == f"{path}: not a sentinet weights file (no 2-D embedding tables)"


def test_weights_of_another_shape_are_refused_in_full(gru: Path) -> None:
    config, vocab, state, path = parts(gru)
    state["head.1.weight"] = torch.zeros(3, 8)
    state["extra"] = torch.zeros(1)
    del state["head.1.bias"]
    with pytest.raises(SentinetError) as exc:
        model_from_state(config, vocab, state, path)
    assert str(exc.value) == (f"{path}: weights do not fit the run's config.yaml and vocab.json (missing head.1.bias; "
                              "unexpected extra; head.1.weight expected (3, 16), found (3, 8))")


def test_a_config_for_another_encoder_is_refused(gru: Path) -> None:
    config, vocab, state, path = parts(gru)
    config.model.encoder.hidden_size = 4
    with pytest.raises(SentinetError, match=rf"^{path}: weights do not fit the run's config.yaml and vocab.json "
                                            r"\(encoder.rnn.weight_ih_l0 expected \(12, 8\), found \(24, 8\)"):
        model_from_state(config, vocab, state, path)
