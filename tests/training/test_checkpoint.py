"""sentinet/training/checkpoint.py: last.pt saved and loaded whole, a missing, damaged or
hand-edited one refused in one line naming it, the frozen table left out and put back, and
torch's random state carried across."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from sentinet.errors import SentinetError
from sentinet.training import checkpoint
from sentinet.training.checkpoint import FROZEN, damaged, load, restore_rng, save, with_frozen, without_frozen

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"


def valid_state(epoch: int = 2) -> dict:
    return {"epoch": epoch, "model": {"w": torch.arange(3.0)}, "averaged": {}, "optimizers": [{"lr": 0.1}],
            "scheduler": {}, "sampler": torch.zeros(4, dtype=torch.uint8), "best_epoch": 1,
            "best": {"score": 0.5}, "epochs": [{"epoch": e} for e in range(1, epoch + 1)], "seconds": 3,
            "best_model": None}


def saved(run_dir: Path, state: dict) -> Path:
    save(run_dir, state)
    return run_dir / "last.pt"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    state = valid_state()
    path = saved(tmp_path, state)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left beside it
    back = load(tmp_path, epochs=3)
    assert set(back) == {*state, "rng"} | ({"cuda_rng"} if torch.cuda.is_available() else set())
    assert torch.equal(back["model"]["w"], state["model"]["w"]) and torch.equal(back["sampler"], state["sampler"])
    assert {k: back[k] for k in ("epoch", "optimizers", "best_epoch", "best", "epochs", "seconds", "best_model")} \
        == {k: state[k] for k in ("epoch", "optimizers", "best_epoch", "best", "epochs", "seconds", "best_model")}
    assert torch.equal(back["rng"], torch.get_rng_state())
    assert "rng" not in state  # the caller's dict is not changed
    assert path.is_file()


def test_saved_rng_state_is_restored(tmp_path: Path) -> None:
    torch.manual_seed(5)
    saved(tmp_path, valid_state())
    expected = torch.rand(4)
    torch.manual_seed(99)
    restore_rng(load(tmp_path, epochs=2))
    assert torch.equal(torch.rand(4), expected)


def test_a_save_replaces_the_last_one(tmp_path: Path) -> None:
    saved(tmp_path, valid_state(1))
    saved(tmp_path, valid_state(2))
    assert load(tmp_path, epochs=2)["epoch"] == 2


def test_the_legacy_interrupted_run_s_checkpoint_loads() -> None:
    state = load(LEGACY / "runs" / "interrupted", epochs=2)
    assert state["epoch"] == 1 and len(state["epochs"]) == 1
    assert isinstance(state["best_model"], dict)


def test_no_last_pt_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SentinetError) as exc:
        load(tmp_path, epochs=2)
    assert str(exc.value) == (f"{tmp_path}: no last.pt to resume from (the run stopped before its first "
                              "epoch ended, or was written by an older sentinet)")


def test_a_folder_named_last_pt_is_no_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "last.pt").mkdir()
    with pytest.raises(SentinetError, match="no last.pt to resume from"):
        load(tmp_path, epochs=2)


def test_a_file_that_is_not_torch_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(SentinetError) as exc:
        load(tmp_path, epochs=2)
    message = str(exc.value)
    assert message.startswith(f"{path}: not a sentinet checkpoint: not a torch file, or a damaged one (")
    assert "\n" not in message


def test_a_truncated_checkpoint_is_one_line(tmp_path: Path) -> None:
    path = saved(tmp_path, valid_state())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SentinetError, match=rf"^{path}: not a sentinet checkpoint: not a torch file, or a damaged one"):
        load(tmp_path, epochs=2)


def test_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "last.pt")
    with pytest.raises(SentinetError, match="no last.pt to resume from"):  # not a file: never opened
        load(tmp_path, epochs=2)


@pytest.mark.parametrize("state", [[1, 2], {"model": {}}, torch.zeros(2)], ids=["list", "no epoch", "tensor"])
def test_what_is_no_checkpoint_dict_is_one_line(tmp_path: Path, state) -> None:
    path = tmp_path / "last.pt"
    torch.save(state, path)
    with pytest.raises(SentinetError) as exc:
        load(tmp_path, epochs=2)
    assert str(exc.value) == f"{path}: not a sentinet checkpoint"


DAMAGE = {
    "epoch 0": ({"epoch": 0}, "epoch '0' is not one of the run's epochs 1..3"),
    "epoch past the run": ({"epoch": 4}, "epoch '4' is not one of the run's epochs 1..3"),
    "epoch a bool": ({"epoch": True}, "epoch 'True' is not one of the run's epochs 1..3"),
    "epoch a string": ({"epoch": "2"}, "epoch '2' is not one of the run's epochs 1..3"),
    "epoch a float": ({"epoch": 2.0}, "epoch '2.0' is not one of the run's epochs 1..3"),
    "no scheduler": ({"scheduler": None}, "no 'scheduler'"),
    "sampler a list": ({"sampler": [1, 2]}, "'sampler' is a list"),
    "best_epoch a bool": ({"best_epoch": False}, "'best_epoch' is a bool"),
    "seconds a string": ({"seconds": "3"}, "'seconds' is a str"),
    "optimizers a dict": ({"optimizers": {}}, "'optimizers' is a dict"),
    "epoch records short": ({"epochs": [{}]}, "1 epoch records for epoch 2"),
    "best_epoch ahead": ({"best_epoch": 3}, "best_epoch 3 after epoch 2"),
    "best_epoch negative": ({"best_epoch": -1}, "best_epoch -1 after epoch 2"),
    "best_model a list": ({"best_model": [1]}, "'best_model' is a list"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_hand_edited_checkpoint_is_one_line_naming_what_is_wrong(tmp_path: Path, case) -> None:
    change, why = DAMAGE[case]
    state = {**valid_state(2), **change}
    state = {k: v for k, v in state.items() if v is not None or k == "best_model"}  # None: the key removed
    path = saved(tmp_path, state)
    with pytest.raises(SentinetError) as exc:
        load(tmp_path, epochs=3)
    assert str(exc.value) == f"{path}: damaged checkpoint ({why}); delete it to start the run over"


def test_best_epoch_0_and_a_missing_best_model_are_fine(tmp_path: Path) -> None:
    state = {**valid_state(2), "best_epoch": 0}
    del state["best_model"]
    saved(tmp_path, state)
    assert load(tmp_path, epochs=2)["best_epoch"] == 0


def test_the_damage_said_is_cut_short() -> None:
    error = damaged(Path("run/last.pt"), "x" * 500)
    assert str(error) == f"run/last.pt: damaged checkpoint ({'x' * 80}); delete it to start the run over"


def test_a_long_epoch_value_is_cut_short(tmp_path: Path) -> None:
    path = saved(tmp_path, {**valid_state(2), "epoch": "9" * 100})
    with pytest.raises(SentinetError) as exc:
        load(tmp_path, epochs=3)
    why = f"epoch {'9' * 40!r} is not one of the run's epochs 1..3"[:80]  # the value cut, then the line
    assert str(exc.value) == f"{path}: damaged checkpoint ({why}); delete it to start the run over"
    assert len(why) == 80


def test_every_required_field_is_checked(tmp_path: Path) -> None:
    for key in checkpoint.REQUIRED:
        if key == "rng":
            continue  # save adds it
        state = valid_state(2)
        del state[key]
        shutil.rmtree(tmp_path / "run", ignore_errors=True)
        (tmp_path / "run").mkdir()
        saved(tmp_path / "run", state)
        with pytest.raises(SentinetError, match=rf"damaged checkpoint \(no '{key}'\)"):
            load(tmp_path / "run", epochs=2)


# --------------------------------------------------------------------------------------
# The frozen table


def model_state() -> dict:
    return {"embedder.learned.weight": torch.ones(2, 3), FROZEN: torch.full((5, 3), 7.0),
            "head.weight": torch.zeros(3, 3)}


def test_without_frozen_drops_the_table_only_when_frozen() -> None:
    state = model_state()
    assert without_frozen(state, frozen=False) is state
    assert list(without_frozen(state, frozen=True)) == ["embedder.learned.weight", "head.weight"]
    assert FROZEN in state  # the model's own dict is not changed


def test_without_and_with_frozen_round_trip() -> None:
    state, table = model_state(), model_state()[FROZEN]
    back = with_frozen(without_frozen(state, True), table)
    assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)


def test_an_averaged_model_s_state_round_trips_under_its_prefix() -> None:
    """AveragedModel's state_dict: module.* keys and n_averaged."""
    state = {"n_averaged": torch.tensor(3), **{f"module.{k}": v for k, v in model_state().items()}}
    table = state[f"module.{FROZEN}"]
    stripped = without_frozen(state, True)
    assert f"module.{FROZEN}" not in stripped and "n_averaged" in stripped
    back = with_frozen(stripped, table)
    assert set(back) == set(state) and torch.equal(back[f"module.{FROZEN}"], table)
    assert FROZEN not in back


def test_with_frozen_leaves_an_empty_or_whole_state_alone() -> None:
    table = torch.zeros(1)
    empty: dict = {}
    assert with_frozen(empty, table) is empty  # no average yet
    whole = model_state()
    assert with_frozen(whole, table) is whole and torch.equal(whole[FROZEN], model_state()[FROZEN])


def test_a_checkpoint_without_the_frozen_table_round_trips_through_last_pt(tmp_path: Path) -> None:
    state, table = model_state(), model_state()[FROZEN]
    saved(tmp_path, {**valid_state(1), "model": without_frozen(state, True)})
    back = with_frozen(load(tmp_path, epochs=1)["model"], table)
    assert all(torch.equal(back[k], state[k]) for k in state) and set(back) == set(state)
